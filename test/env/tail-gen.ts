// Generators of auditd-format logs for the tailer and run tests: numbered SECCOMP records, one serial each,
// stamped in the past (a day ago by default: "before now", as a backlog is), from many pids.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface GenOptions {
  /** first serial; default 1000 */
  firstSerial?: number;
  /** distinct pids, cycled; default 3000 */
  pids?: number;
  /** first pid; default 400000 (above the usual pid_max of busy machines: no live process matches) */
  firstPid?: number;
  /** audit records per second of audit time; default 1000 */
  perSecond?: number;
  /** audit time of the first record, s; default a day ago */
  startSec?: number;
}

export function seccompLine(i: number, o: GenOptions = {}): string {
  const per = o.perSecond ?? 1000;
  const start = o.startSec ?? Math.floor(Date.now() / 1000) - 86_400;
  const sec = start + Math.floor(i / per);
  const ms = Math.floor(((i % per) * 1000) / per);
  const serial = (o.firstSerial ?? 1000) + i;
  const pid = (o.firstPid ?? 400_000) + (i % (o.pids ?? 3000));
  return (
    `type=SECCOMP msg=audit(${sec}.${String(ms).padStart(3, '0')}:${serial}): auid=4294967295 uid=0 gid=0 ses=4294967295 subj=unconfined ` +
    `pid=${pid} comm="worker${pid % 97}" exe="/usr/bin/worker" sig=0 arch=c000003e syscall=${i % 300} compat=0 ip=0x7f0000001000 code=0x50000` +
    `\x1dAUID="unset" UID="root" GID="root" ARCH=x86_64 SYSCALL=getpid`
  );
}

/** Writes records [from, to) to `file` (appending). */
export async function writeRecords(file: string, from: number, to: number, o: GenOptions = {}): Promise<void> {
  const out = createWriteStream(file, { flags: 'a' });
  let buf = '';
  for (let i = from; i < to; i++) {
    buf += seccompLine(i, o) + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}
