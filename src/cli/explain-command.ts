// `auditflow explain PROFILE SYSCALL`: why a syscall (or SELinux permission) is in a recorded profile: where
// and when it was first seen, by which executable in which pod, and how often (from NAME.evidence.json, or NAME.selinux.evidence.json for a SelinuxProfile).
//
// The evidence file is input: it holds names a workload chose (exe, pod) and may have been edited or cut
// short. Its shape is checked here, at the boundary: an entry of the wrong shape (null, a number for the
// exe, …) is skipped and counted (a log line and a summary on stderr), the others are still explained;
// every name shown on the terminal goes through terminalText.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Evidence, RecordingKind } from '../profile/recording';
import { createLogger } from '../log';
import { invalidProfileName } from '../profile/names';
import { profileFiles } from '../recording/profile-dir';
import { UsageError, type Command } from './command';
import { terminalText } from '../io/terminal-text';

// The files of a profile (src/recording/profile-dir.ts), longest suffix first: NAME.selinux.yaml is a
// SelinuxProfile's, NAME.yaml a SeccompProfile's.
const SUFFIXES: Array<[string, RecordingKind]> = (['SeccompProfile', 'SelinuxProfile'] as const)
  .flatMap((kind): Array<[string, RecordingKind]> => {
    const f = profileFiles('', 'p', kind);
    return [f.evidence, f.resource, f.body].map((x) => [x.slice(1), kind]);
  })
  .sort((a, b) => b[0].length - a[0].length);

/**
 * The evidence files PROFILE may mean: given as a file of the output directory (any of its files), that
 * profile's; given as a name (looked up in --profile-dir) or a path without suffix, both kinds' (a
 * recording name records seccomp and SELinux alike).
 */
function evidencePaths(profile: string, dir: string): string[] {
  const hit = SUFFIXES.find(([s]) => profile.endsWith(s));
  if (hit) return [profileFiles('', profile.slice(0, -hit[0].length), hit[1]).evidence];
  let base = profile;
  if (!profile.includes('/')) {
    const bad = invalidProfileName(profile);
    if (bad) throw new UsageError(`profile "${terminalText(profile)}": ${bad}`);
    base = path.join(dir, profile);
  }
  return (['SeccompProfile', 'SelinuxProfile'] as const).map((k) => profileFiles('', base, k).evidence);
}

/** A checked evidence file: header fields as strings ('?' when missing or not a string), valid entries only. */
export interface CheckedEvidence {
  name: string;
  kind: string;
  recording: string;
  container: string;
  final: boolean;
  evidence: Map<string, Evidence>;
  /** Entries and header fields left out, by reason. */
  skipped: Map<string, number>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The parsed JSON of an evidence file → its checked form, or why it is not an evidence file at all. */
export function checkEvidence(v: unknown): CheckedEvidence | string {
  if (!isObject(v)) return 'not a JSON object';
  if (!isObject(v['evidence'])) return '"evidence" is not an object';
  const skipped = new Map<string, number>();
  const skip = (reason: string) => skipped.set(reason, (skipped.get(reason) ?? 0) + 1);
  const header = (k: string): string => {
    const x = v[k];
    if (typeof x === 'string') return x;
    skip(`"${k}" is not a string`);
    return '?';
  };
  const out: CheckedEvidence = {
    name: header('name'),
    kind: header('kind'),
    recording: header('recording'),
    container: header('container'),
    final: v['final'] === true,
    evidence: new Map(),
    skipped,
  };
  for (const [key, e] of Object.entries(v['evidence'])) {
    const bad = badEntry(e);
    if (bad) skip(bad);
    else {
      const x = e as Record<string, unknown>;
      // a fresh object of the known fields only: nothing else of the file is carried on
      out.evidence.set(key, {
        firstSeen: x['firstSeen'] as string,
        lastSeen: x['lastSeen'] as string,
        count: x['count'] as number,
        exe: (x['exe'] as string | null | undefined) ?? null,
        pod: (x['pod'] as string | null | undefined) ?? null,
        namespace: (x['namespace'] as string | null | undefined) ?? null,
      });
    }
  }
  return out;
}

function badEntry(e: unknown): string | undefined {
  if (!isObject(e)) return `entry is ${e === null ? 'null' : Array.isArray(e) ? 'an array' : `a ${typeof e}`}, not an object`;
  for (const k of ['firstSeen', 'lastSeen']) if (typeof e[k] !== 'string') return `entry "${k}" is not a string`;
  if (typeof e['count'] !== 'number' || !Number.isFinite(e['count'])) return 'entry "count" is not a number';
  for (const k of ['exe', 'pod', 'namespace']) {
    const x = e[k];
    if (x !== undefined && x !== null && typeof x !== 'string') return `entry "${k}" is not a string or null`;
  }
  return undefined;
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
    const t = terminalText;
    const files = evidencePaths(profile, (v['profile-dir'] as string | undefined) ?? 'profiles');
    const found: Array<{ file: string; ev: CheckedEvidence }> = [];
    let missing: NodeJS.ErrnoException | undefined;
    for (const file of files) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        // a name may have one kind's profile only: a missing file of the other is no error
        if (err.code === 'ENOENT' && files.length > 1) {
          missing ??= err;
          continue;
        }
        process.stderr.write(`auditflow explain: no evidence for profile "${t(profile)}" (${t(file)}: ${t(err.code ?? err.message)})\n`);
        return 1;
      }
      const ev = checkEvidence(parsed);
      if (typeof ev === 'string') {
        process.stderr.write(`auditflow explain: ${t(file)} is not an evidence file: ${ev}\n`);
        return 1;
      }
      if (ev.skipped.size > 0) {
        const n = [...ev.skipped.values()].reduce((a, b) => a + b, 0);
        const reasons = Object.fromEntries(ev.skipped);
        createLogger('auditflow-explain').warn({ file: t(file), skipped: n, reasons }, `skipped ${n} malformed evidence entries or fields`);
        process.stderr.write(`auditflow explain: skipped ${n} malformed evidence entr${n === 1 ? 'y' : 'ies'} or fields in ${t(file)} (${[...ev.skipped].map(([r, c]) => `${c}× ${r}`).join(', ')})\n`);
      }
      found.push({ file, ev });
    }
    if (found.length === 0) {
      process.stderr.write(`auditflow explain: no evidence for profile "${t(profile)}" (${files.map(t).join(', ')}: ${t(missing?.code ?? 'ENOENT')})\n`);
      return 1;
    }
    // seccomp: the syscall name; SELinux: the full TYPE:CLASS:PERM or keys having `what` as one of their parts
    const hits = found.map(({ ev }) => {
      const keys = [...ev.evidence.keys()];
      return { ev, keys: keys.includes(what) ? [what] : keys.filter((k) => k.split(':').includes(what) || k.startsWith(`${what}:`)) };
    });
    if (hits.every((h) => h.keys.length === 0)) {
      const entries = found.reduce((n, { ev }) => n + ev.evidence.size, 0);
      process.stderr.write(`auditflow explain: "${t(what)}" is not in profile ${found.map(({ ev }) => t(ev.name)).join(', ')} (${entries} entries)\n`);
      return 1;
    }
    if (v.json) {
      process.stdout.write(JSON.stringify(Object.fromEntries(hits.flatMap(({ ev, keys }) => keys.map((k) => [k, ev.evidence.get(k)]))), null, 2) + '\n');
      return 0;
    }
    for (const { ev, keys } of hits) {
      for (const k of keys.sort()) {
        const e = ev.evidence.get(k)!;
        const pod = e.pod ? `${e.namespace ? `${e.namespace}/` : ''}${e.pod}` : '(no pod)';
        process.stdout.write(
          `${t(k)} in ${t(ev.kind)} ${t(ev.name)} (recording ${t(ev.recording)}, container ${t(ev.container)}${ev.final ? '' : ', recording in progress'}):\n` +
            `  first seen  ${t(e.firstSeen)}  by ${e.exe === null ? '(unknown exe)' : t(e.exe)} in pod ${e.pod ? t(pod) : pod}\n` +
            `  last seen   ${t(e.lastSeen)}\n` +
            `  count       ${e.count}\n`,
        );
      }
    }
    return 0;
  },
};
