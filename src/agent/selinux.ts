// SelinuxProfile on a node: a CIL module built from the resource, installed with semodule. Only where the
// node runs SELinux; elsewhere the profile is reported as unsupported on that node.

import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import * as path from 'node:path';
import type { SelinuxProfile } from '../k8s/api';

export type SelinuxSupport = { ok: true; semodule: string } | { ok: false; reason: string };

export function detectSelinux(selinuxfs = '/sys/fs/selinux'): SelinuxSupport {
  if (!existsSync(path.join(selinuxfs, 'enforce'))) return { ok: false, reason: `SELinux is not enabled on this node (no ${selinuxfs}/enforce)` };
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir, 'semodule');
    try {
      accessSync(p, constants.X_OK);
      return { ok: true, semodule: p };
    } catch {
      // next PATH entry
    }
  }
  return { ok: false, reason: 'SELinux is enabled on this node but semodule is not installed' };
}

// CIL identifiers: no dots (the namespace separator in CIL), no parentheses or spaces.
const IDENT = /^[A-Za-z0-9_-]+$/;
const SELF = '@self';

export class CilError extends Error {}

/** The CIL module of a SelinuxProfile (a block named after it); throws CilError on anything unsafe. */
export function selinuxProfileCil(p: SelinuxProfile): string {
  const name = p.metadata.name;
  if (!IDENT.test(name)) throw new CilError(`name "${name}" cannot be a CIL block name (letters, digits, "-" and "_" only)`);
  const lines = [`(block ${name}`];
  for (const i of p.spec.inherit ?? [{ kind: 'System' as const, name: 'container' }]) {
    // kind System: a template of the node's policy; kind SelinuxProfile: another profile's block, by its name.
    if (!IDENT.test(i.name)) throw new CilError(`inherit "${i.name}" is not a CIL name`);
    lines.push(`    (blockinherit ${i.name})`);
  }
  if (p.spec.mode === 'Permissive') lines.push('    (typepermissive process)');
  for (const tgt of Object.keys(p.spec.allow ?? {}).sort()) {
    if (tgt !== SELF && !IDENT.test(tgt)) throw new CilError(`target type "${tgt}" is not a CIL name`);
    const byClass = p.spec.allow![tgt]!;
    for (const cls of Object.keys(byClass).sort()) {
      if (!IDENT.test(cls)) throw new CilError(`class "${cls}" is not a CIL name`);
      const perms = [...new Set(byClass[cls] ?? [])].sort();
      for (const perm of perms) if (!IDENT.test(perm)) throw new CilError(`permission "${perm}" is not a CIL name`);
      if (perms.length) lines.push(`    (allow process ${tgt === SELF ? 'process' : tgt} (${cls} (${perms.join(' ')})))`);
    }
  }
  lines.push(')');
  return lines.join('\n') + '\n';
}

export function semodule(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 5 * 60_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`semodule ${args.join(' ')} failed: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** A RawSelinuxProfile's policy: SPO installs the CIL text as given; the same checks on its name apply. */
export function rawSelinuxProfileCil(name: string, policy: string | undefined): string {
  if (!IDENT.test(name)) throw new CilError(`name "${name}" cannot be a CIL module name (letters, digits, "-" and "_" only)`);
  if (!policy || !policy.trim()) throw new CilError('spec.policy is empty');
  return policy.endsWith('\n') ? policy : policy + '\n';
}
