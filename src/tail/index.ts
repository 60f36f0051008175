// The checkpointed tailer: openTailer() picks the reader for the configured source.
//
//   path "auto"      → detectSource(): auditd's log, else syslog/kern.log, else /dev/kmsg
//   path "-"         → stdin (not checkpointed)
//   /dev/kmsg        → the kernel ring buffer, checkpointed by sequence number
//   any other path   → a log file, followed across rotations, checkpointed by dev+inode+offset
//
// Contract and semantics: src/tail/types.ts.

import * as path from 'node:path';
import type { Logger } from '../log';
import { openFileTailer } from './file-tailer';
import { openKmsgTailer } from './kmsg';
import { AUTO_PATH, detectSource, sourceKindOf } from './sources';
import { StreamTailer } from './stream';
import type { Tailer, TailerOptions } from './types';

export type { Checkpoint, FileIdentity, TailBatch, Tailer, TailerOptions, TailPosition, TailStats } from './types';
export { detectSource, type DetectedSource } from './sources';

export async function openTailer(opts: TailerOptions, log: Logger): Promise<Tailer> {
  let p = opts.path;
  if (p === AUTO_PATH) {
    const d = await detectSource(opts.detectProcRoot ? { procRoot: opts.detectProcRoot } : {});
    log.info({ component: 'tail', kind: d.kind, path: d.path }, `source: ${d.reason}`);
    p = d.path;
  }
  const kind = await sourceKindOf(p);
  if (kind === 'stdin') {
    if (opts.checkpointPath) log.warn({ component: 'tail' }, 'stdin cannot be resumed: no checkpoint is kept for it');
    return new StreamTailer(process.stdin, { name: p, ...(opts.maxBatchLines ? { maxBatchLines: opts.maxBatchLines } : {}) }, log);
  }
  // Absolute, so that the checkpoint's source matches however the path was spelled.
  const resolved = { ...opts, path: path.resolve(p) };
  if (kind === 'kmsg') return openKmsgTailer(resolved, log);
  return openFileTailer(resolved, log);
}
