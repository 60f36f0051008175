// A real audit log for the tests of the pipeline's quiet SECCOMP path (test/node/run-quiet-seccomp.test.ts,
// test/kafka/sink-quiet-runs.test.ts): the fixtures' records (multi-record events, denials, noise) among many
// SECCOMP records of a given process, stamped from now on, in runs (the quiet path groups equal ones).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './cli';

/** `"p"`, a newline, `{}\`, an escape sequence: hex-encoded as auditd writes a comm with such bytes */
export const HOSTILE_COMM = '2270220A7B7D5C1B5B33316D';

/**
 * Writes `dir/name` and returns its path. `pid`'s records are stamped 13 ms apart (runs cross seconds; a run's
 * first and last sightings differ): the process cache attributes a pid only to records from its lifetime.
 * `mixed` adds, besides that process: a host process (pid 1) and one long gone (its records wait for a parent
 * record that never comes, then are written unresolved) with a hostile comm, denials, another uid of the same
 * process, and the process itself with the hostile comm.
 */
export function writeQuietLog(dir: string, name: string, pid: number, mixed = false): string {
  const fixtures = ['seccomp-auditd.log', 'multi-record.log', 'avc-auditd.log', 'enriched.log', 'odd.log', 'apparmor.log'];
  const lines: string[] = [];
  for (const f of fixtures) lines.push(...fs.readFileSync(path.join(ROOT, 'fixtures', 'real', f), 'utf8').split('\n').filter((l) => l !== ''));
  const now = Date.now() / 1000;
  const seccomp = lines.filter((l) => l.startsWith('type=SECCOMP msg=audit(') && / pid=\d+ /.test(l)).map((l) => l.replace(/ pid=\d+ /, ` pid=${pid} `));
  assert.ok(seccomp.length >= 5 && seccomp.some((l) => l.includes('code=0x7ffc0000')) && seccomp.some((l) => !l.includes('code=0x7ffc0000')));
  const all: string[] = [];
  for (let i = 0; i < 300; i++) {
    const stamped = seccomp[i % seccomp.length]!.replace(/^type=SECCOMP msg=audit\(\d+\.\d+:/, `type=SECCOMP msg=audit(${(now + i * 0.013).toFixed(3)}:`);
    all.push(stamped, ...(i % 50 === 0 ? lines : []));
  }
  if (mixed) {
    const base = all.filter((l) => l.startsWith('type=SECCOMP'));
    base.slice(0, 60).forEach((l, i) => {
      if (i % 3 === 0) all.push(l.replace(/ pid=\d+ /, ' pid=1 '));
      if (i % 3 === 1) all.push(l.replace(/ pid=\d+ /, ' pid=4194000 ').replace(/ comm=("[^"]*"|\S+)/, ` comm=${HOSTILE_COMM}`));
      if (i % 3 === 2) all.push(l.replace(/ code=0x[0-9a-f]+/, ' code=0x50001'));
      // the same process with another uid, within its runs: a document of its own (SIEM templates' variants)
      if (i % 4 === 0) all.push(l.replace(/ uid=\d+ /, ' uid=1000 '));
      // the pod's process with the hostile comm: through the v1 bytes and the SIEM templates, not only the general way
      if (i % 5 === 0) all.push(l.replace(/ comm=("[^"]*"|\S+)/, ` comm=${HOSTILE_COMM}`));
    });
  }
  const file = path.join(dir, name);
  fs.writeFileSync(file, all.join('\n') + '\n');
  return file;
}
