// AppArmorProfile on a node: its rendered text (profile/apparmor-text.ts) is loaded with apparmor_parser, only
// where the AppArmor LSM is enabled; elsewhere the node reports it unsupported.

import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AppArmorError } from '../profile/apparmor-text';

export type AppArmorSupport = { ok: true; parser: string } | { ok: false; reason: string };

export function findProgram(name: string, extra: string[] = ['/usr/sbin', '/sbin']): string | undefined {
  for (const dir of [...(process.env.PATH ?? '/usr/bin:/bin').split(':'), ...extra]) {
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export function detectAppArmor(enabledFile = '/sys/module/apparmor/parameters/enabled'): AppArmorSupport {
  let enabled = '';
  try {
    enabled = readFileSync(enabledFile, 'utf8').trim();
  } catch {
    return { ok: false, reason: `AppArmor is not enabled on this node (no ${enabledFile})` };
  }
  if (enabled !== 'Y') return { ok: false, reason: `AppArmor is not enabled on this node (${enabledFile}: ${enabled || 'empty'})` };
  const parser = findProgram('apparmor_parser');
  if (!parser) return { ok: false, reason: 'AppArmor is enabled but apparmor_parser is not installed' };
  return { ok: true, parser };
}

/** Runs apparmor_parser with `args` on `text` (stdin). */
export function apparmorParser(bin: string, args: string[], text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new AppArmorError(`apparmor_parser ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    child.stdin?.end(text);
  });
}
