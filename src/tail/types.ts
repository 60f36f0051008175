// The contract between the checkpointed tailer (src/tail) and the pipeline that consumes it (src/run).
//
// The tailer is pull-based: it reads only when the consumer asks for the next batch, so a slow sink
// pauses reading instead of growing a buffer (backpressure). The consumer acks a batch's position once
// every line of it is durably handled downstream (sink wrote/spooled/acked); only acked positions are
// checkpointed, so a crash re-reads at most what was read since the last checkpoint and skips nothing.

/** Identity of a log file: a rename (rotation) keeps it, a new file after rotation has another inode. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export interface TailPosition extends FileIdentity {
  /** The path the file had when these bytes were read (it may since have been rotated away). */
  path: string;
  /** Byte offset just past the last complete line handed out. */
  offset: number;
}

export interface TailBatch {
  /** Complete lines, without their newline, in file order. Over-long lines are counted and dropped by the tailer. */
  readonly lines: string[];
  /** Position just past the last line of this batch. */
  readonly position: TailPosition;
  /**
   * Extension: the same lines as bytes (the file and stream tailers), for a consumer that reads them without
   * decoding (the pipeline's SECCOMP hot path); `lines` is then decoded only when read.
   */
  readonly bytes?: LineBytes;
}

/**
 * Lines as byte ranges: line i is `runBufs[r][starts[i], ends[i])` (without its newline), where run r holds
 * lines [runFrom[r], runFrom[r + 1] or length). A run's lines share a buffer and whether they are clean: no
 * NUL and no byte above 0x7f.
 */
export interface LineBytes {
  readonly length: number;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly runFrom: readonly number[];
  readonly runBufs: readonly Buffer[];
  readonly runClean: readonly boolean[];
  /** the buffer of line i */
  bufAt(i: number): Buffer;
}

/** What is persisted (atomically: temp file + rename) at a bounded interval and on shutdown. */
export interface Checkpoint {
  version: 1;
  /** The configured source path (e.g. /var/log/audit/audit.log). */
  source: string;
  position: TailPosition;
  /**
   * The last kernel audit(ts:serial) stamp acked, as "SEC.MS:SERIAL" (auditd's own DAEMON_* records do not
   * count: they carry auditd's counter). After the checkpointed file is gone, the serials between it and the
   * first record of the oldest surviving file are the records counted as lost.
   */
  lastStamp: string | null;
  savedAt: string;
  /**
   * Extension: the first bytes (hex, at most 64) of the checkpointed file, so that a file which reused the
   * inode of a deleted one is not mistaken for it. Absent in older checkpoints: then dev+ino alone decide.
   */
  head?: string;
  /**
   * Extension: the boot the sequence numbers (kmsg) or audit serials (files) belong to
   * (/proc/sys/kernel/random/boot_id). Serials restart at boot: across boots a gap cannot be counted.
   */
  bootId?: string;
  /** Extension, files: the stamp of the checkpointed file's first kernel record (its identity by content). */
  firstStamp?: string;
}

export interface Tailer extends AsyncIterable<TailBatch> {
  /** Every line up to and including `pos` is durably handled; `lastStamp` is the newest audit stamp in it. */
  ack(pos: TailPosition, lastStamp?: string | null): void;
  /** Stop reading, persist the last acked position, release the file. */
  close(): Promise<void>;
  /** Extension: counters and positions of this tailer (the process-wide ones are the auditflow_tail_* metrics). */
  stats?(): TailStats;
}

/** Extension: what one tailer has done so far. */
export interface TailStats {
  /** Bytes read from the source (all files), including bytes of dropped over-long lines. */
  bytesRead: number;
  /** Lines handed out in batches. */
  linesRead: number;
  overlongLines: number;
  rotations: number;
  truncations: number;
  checkpointWrites: number;
  checkpointFailures: number;
  /** Just past the last line handed out. */
  handedOut: TailPosition | null;
  /** The last acked position (what the checkpoint holds, or will at the next write). */
  acked: TailPosition | null;
  /** Bytes known to the source beyond the acked position (the data a crash now would re-read or still has to read). */
  lagBytes: number;
  /** Extension, files: what was deleted before it could be read. */
  lost?: LostStats;
}

/** Records deleted (rotated out of num_logs) before the tailer read them, counted by audit serial. */
export interface LostStats {
  /** serials known lost (events: the records of one event share a serial) */
  records: number;
  /** gaps whose size cannot be known (across a reboot, or files without audit stamps) */
  unknownGaps: number;
  /** the last range counted, inclusive; null when none */
  last: { fromSerial: number; toSerial: number; at: string } | null;
}

export interface TailerOptions {
  /** The live file to follow, e.g. /var/log/audit/audit.log. */
  path: string;
  /** Where the checkpoint is persisted; null: no checkpoint (start per `startAt`, nothing saved). */
  checkpointPath: string | null;
  /** Persist the last acked position at most this often; default 1000 ms. Also on close(). */
  checkpointIntervalMs?: number;
  /** Without a usable checkpoint: from the start of the live file, or from its end (default, as a fresh DaemonSet). */
  startAt?: 'start' | 'end';
  /** Upper bound on lines per batch; default 1024. */
  maxBatchLines?: number;
  /** false: read what is there and end (one-shot); default true: follow forever. */
  follow?: boolean;
  /**
   * Extension: how often to look for new data when idle, in ms (default 250, and 1000 while the directory watch
   * is up). Changes are also noticed at once through that watch; the poll is the fallback for file systems where
   * it stays silent.
   */
  pollIntervalMs?: number;
  /** For path "auto": where to look for a running auditd (the host's /proc when run in a pod; default /proc). */
  detectProcRoot?: string;
  /**
   * Extension: the consumer is done with a batch (its `bytes` and `lines`) once it asks for the next one, so
   * the file tailer reads every chunk into the same buffer and keeps its lines in the same arrays. Default
   * false: a batch stays valid for as long as it is referenced, and each read gets a buffer of its own.
   * Why: a fresh buffer per read is memory outside V8's heap that V8 counts towards its next major GC; at 10k
   * records/s (2.6 MB/s) that started one every ~2.5 s, a third of the reader's CPU (issue 14).
   */
  reuseBuffers?: boolean;
}
// Implemented by src/tail/index.ts:
//   export function openTailer(opts: TailerOptions, log: Logger): Promise<Tailer>
// where `path` may also be "-" (stdin, not checkpointed), "/dev/kmsg" (the kernel ring buffer, checkpointed by
// sequence number) or "auto" (detectSource() in src/tail/sources.ts: auditd's log, else syslog, else kmsg).
