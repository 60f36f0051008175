// `auditflow explain PROFILE SYSCALL`: why a syscall (or SELinux permission) is in a recorded profile: where
// and when it was first seen, by which executable in which pod, and how often (from NAME.evidence.json).

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvidenceFile } from '../aggregate/profile-dir';
import { invalidProfileName } from '../profile/names';
import { UsageError, type Command } from './command';

const SUFFIXES = ['.evidence.json', '.yaml', '.json', '.cil'];

/** PROFILE as a file of the output directory (any of its files) or as a name looked up in --profile-dir. */
function evidencePath(profile: string, dir: string): string {
  if (profile.includes('/') || SUFFIXES.some((s) => profile.endsWith(s))) {
    const suffix = SUFFIXES.find((s) => profile.endsWith(s));
    return (suffix ? profile.slice(0, -suffix.length) : profile) + '.evidence.json';
  }
  const bad = invalidProfileName(profile);
  if (bad) throw new UsageError(`profile "${profile}": ${bad}`);
  return path.join(dir, `${profile}.evidence.json`);
}

export const explainCommand: Command = {
  name: 'explain',
  summary: 'Show why a syscall (seccomp) or a permission (SELinux: TYPE:CLASS:PERM, or any part of it) is in a recorded\nprofile: first and last seen, executable, pod, count.',
  usage: 'explain [options] PROFILE SYSCALL',
  help: [
    '  --profile-dir DIR      where to find PROFILE when given by name (default ./profiles)',
    '  --json                 print the evidence as JSON',
  ].join('\n'),
  options: {
    'profile-dir': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(v, positionals) {
    if (positionals.length !== 2) throw new UsageError('expected PROFILE and SYSCALL');
    const [profile, what] = positionals as [string, string];
    const file = evidencePath(profile, (v['profile-dir'] as string | undefined) ?? 'profiles');
    let ev: EvidenceFile;
    try {
      ev = JSON.parse(fs.readFileSync(file, 'utf8')) as EvidenceFile;
    } catch (e) {
      process.stderr.write(`auditflow explain: no evidence for profile "${profile}" (${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})\n`);
      return 1;
    }
    const keys = Object.keys(ev.evidence ?? {});
    // seccomp: the syscall name; SELinux: the full TYPE:CLASS:PERM or keys having `what` as one of their parts
    const hits = keys.includes(what) ? [what] : keys.filter((k) => k.split(':').includes(what) || k.startsWith(`${what}:`));
    if (hits.length === 0) {
      process.stderr.write(`auditflow explain: "${what}" is not in profile ${ev.name} (${keys.length} entries)\n`);
      return 1;
    }
    if (v.json) {
      process.stdout.write(JSON.stringify(Object.fromEntries(hits.map((k) => [k, ev.evidence[k]])), null, 2) + '\n');
      return 0;
    }
    for (const k of hits.sort()) {
      const e = ev.evidence[k]!;
      const pod = e.pod ? `${e.namespace ? `${e.namespace}/` : ''}${e.pod}` : '(no pod)';
      process.stdout.write(
        `${k} in ${ev.kind} ${ev.name} (recording ${ev.recording}, container ${ev.container}${ev.final ? '' : ', recording in progress'}):\n` +
          `  first seen  ${e.firstSeen}  by ${e.exe ?? '(unknown exe)'} in pod ${pod}\n` +
          `  last seen   ${e.lastSeen}\n` +
          `  count       ${e.count}\n`,
      );
    }
    return 0;
  },
};
