// The tailer's process-wide metrics. Counters are summed over every tailer of the process; the lag gauge
// asks each open tailer at scrape time (a DaemonSet has one, tests may have several).

import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics';

const lagSources = new Set<() => number | Promise<number>>();

export const tailMetrics = {
  bytesRead: new Counter({
    name: 'auditflow_tail_bytes_read_total',
    help: 'Bytes read from the tailed source (audit.log and its rotated files, syslog, kmsg, stdin)',
    registers: [registry],
  }),
  linesRead: new Counter({
    name: 'auditflow_tail_lines_read_total',
    help: 'Complete lines handed to the pipeline by the tailer',
    registers: [registry],
  }),
  rotations: new Counter({
    name: 'auditflow_tail_rotations_total',
    help: 'Source file rotations followed: rename (audit.log -> audit.log.1), copytruncate, delete (file removed and recreated)',
    labelNames: ['kind'] as const,
    registers: [registry],
  }),
  truncations: new Counter({
    name: 'auditflow_tail_truncations_total',
    help: 'The followed file got shorter than the read position (or was rewritten): reading restarted at 0',
    registers: [registry],
  }),
  overlongLines: new Counter({
    name: 'auditflow_tail_overlong_lines_total',
    help: 'Lines longer than the line limit, dropped by the tailer',
    registers: [registry],
  }),
  readErrors: new Counter({
    name: 'auditflow_tail_read_errors_total',
    help: 'Errors reading or stat-ing the source; the tailer retries after the poll interval',
    registers: [registry],
  }),
  checkpointWrites: new Counter({
    name: 'auditflow_tail_checkpoint_writes_total',
    help: 'Checkpoints written (atomically: temp file, fsync, rename)',
    registers: [registry],
  }),
  checkpointWriteFailures: new Counter({
    name: 'auditflow_tail_checkpoint_write_failures_total',
    help: 'Checkpoint writes that failed (the previous checkpoint stays; retried at the next interval)',
    registers: [registry],
  }),
  checkpointLoadFailures: new Counter({
    name: 'auditflow_tail_checkpoint_load_failures_total',
    help: 'Checkpoints that could not be used at start: unreadable, corrupt, other-source, file-gone, other-boot',
    labelNames: ['reason'] as const,
    registers: [registry],
  }),
  kmsgLost: new Counter({
    name: 'auditflow_tail_kmsg_lost_total',
    help: 'Kernel log records overwritten in the ring buffer before the tailer read them',
    registers: [registry],
  }),
  lostRecords: new Counter({
    name: 'auditflow_tail_lost_records_total',
    help: 'At most this many audit records (serials: the records of one event share one) were deleted by log rotation before the tailer could read them: the serial gap between the last record read (after a restart: the last one checkpointed) and the first surviving one. An upper bound: the gap also holds serials the kernel never wrote to this log (auditd down, rate limit), records written out of serial order, and records a killed run delivered but had not checkpointed',
    registers: [registry],
  }),
  lostUnknown: new Counter({
    name: 'auditflow_tail_lost_unknown_total',
    help: 'Times files were deleted before being read but the number of records lost cannot be known (checkpoint of another boot, files without audit stamps)',
    registers: [registry],
  }),
  lastLostFirst: new Gauge({
    name: 'auditflow_tail_last_lost_first_serial',
    help: 'First audit serial of the last range counted in auditflow_tail_lost_records_total (0: none)',
    registers: [registry],
  }),
  lastLostLast: new Gauge({
    name: 'auditflow_tail_last_lost_last_serial',
    help: 'Last audit serial of the last range counted in auditflow_tail_lost_records_total (0: none)',
    registers: [registry],
  }),
  checkpointLag: new Gauge({
    name: 'auditflow_tail_checkpoint_lag_bytes',
    help: 'Bytes of the source beyond the last acked (checkpointed) position: what a crash now would re-read or still has to read',
    registers: [registry],
    // At scrape time, so that a stalled consumer (nothing read, the file growing) shows as a growing lag.
    async collect() {
      let sum = 0;
      for (const f of lagSources) sum += await f();
      this.set(sum);
    },
  }),
};

/** An open tailer reports its lag while registered; unregister on close. */
export function registerLag(f: () => number | Promise<number>): () => void {
  lagSources.add(f);
  return () => lagSources.delete(f);
}
