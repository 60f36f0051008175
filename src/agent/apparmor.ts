// AppArmorProfile on a node: SPO's structured form (spec.abstract) rendered as an AppArmor profile and loaded
// with apparmor_parser, only where the AppArmor LSM is enabled; elsewhere the node reports it unsupported.

import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AppArmorProfile } from '../k8s/api';

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

export class AppArmorError extends Error {}

const NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;
// Paths go into the profile text: absolute, no whitespace, quotes, braces, commas or NULs that could end a rule.
const PATH = /^\/[^\s"'{}(),\\\x00]*$/;
const CAP = /^[a-z_]+$/;

function checkPaths(what: string, list: string[] | undefined): string[] {
  const out = [...new Set(list ?? [])].sort();
  for (const p of out) if (!PATH.test(p) || p.length > 4096) throw new AppArmorError(`${what}: "${p.slice(0, 100)}" is not an absolute path AppArmor can take`);
  return out;
}

/**
 * The AppArmor profile text of an AppArmorProfile's abstract, as SPO renders it: executables get `ix`,
 * libraries `mr`, paths r/w/rw, network tcp/udp/raw, capabilities; Complain mode as the profile flag.
 */
export function appArmorProfileText(p: Pick<AppArmorProfile, 'metadata' | 'spec'>): string {
  const name = p.metadata.name;
  if (!NAME.test(name) || name.length > 253) throw new AppArmorError(`name "${name}" cannot be an AppArmor profile name`);
  const a = p.spec.abstract ?? {};
  const flags = ['attach_disconnected', 'mediate_deleted', ...(p.spec.mode === 'Complain' ? ['complain'] : [])];
  const lines = ['#include <tunables/global>', '', `profile ${name} flags=(${flags.join(',')}) {`];
  for (const e of checkPaths('allowedExecutables', a.executable?.allowedExecutables)) lines.push(`  ${e} ix,`);
  for (const l of checkPaths('allowedLibraries', a.executable?.allowedLibraries)) lines.push(`  ${l} mr,`);
  for (const r of checkPaths('readOnlyPaths', a.filesystem?.readOnlyPaths)) lines.push(`  ${r} r,`);
  for (const w of checkPaths('writeOnlyPaths', a.filesystem?.writeOnlyPaths)) lines.push(`  ${w} w,`);
  for (const rw of checkPaths('readWritePaths', a.filesystem?.readWritePaths)) lines.push(`  ${rw} rw,`);
  const n = a.network ?? {};
  if (n.allowRaw) lines.push('  network raw,');
  if (n.allowedProtocols?.allowTcp) lines.push('  network tcp,');
  if (n.allowedProtocols?.allowUdp) lines.push('  network udp,');
  for (const c of [...new Set(a.capability?.allowedCapabilities ?? [])].sort()) {
    if (!CAP.test(c)) throw new AppArmorError(`capability "${c.slice(0, 64)}" is not a capability name`);
    lines.push(`  capability ${c},`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
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
