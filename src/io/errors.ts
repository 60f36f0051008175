// Which I/O errors are worth retrying. A permanent one (the output is a directory, the name is too long, the
// filesystem is read-only, permission denied, …) comes back the same however long one waits: retrying it
// forever only hides it (and used to re-write batches and block shutdown). A transient one (disk full, I/O
// error, a resource briefly unavailable, a network hiccup) may pass: retried with a bounded backoff
// (src/retry.ts).
// Unknown codes count as transient: waiting is safe, giving up could lose data.

import { Counter } from 'prom-client';
import { registry } from '../metrics';

const PERMANENT = new Set([
  'EISDIR', 'ENOTDIR', 'ENAMETOOLONG', 'ELOOP', 'EACCES', 'EPERM', 'EROFS', 'EINVAL', 'ENOTSUP', 'EOPNOTSUPP',
  'EEXIST', 'ENOENT', 'ENXIO', 'ENODEV', 'EBADF', 'EFBIG', 'EXDEV', 'EPIPE', 'ENOTREG', 'ETXTBSY',
]);

export type IoErrorKind = 'permanent' | 'transient';

export function ioErrorKind(err: unknown): IoErrorKind {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code !== undefined && PERMANENT.has(code) ? 'permanent' : 'transient';
}

export function isPermanentIoError(err: unknown): boolean {
  return ioErrorKind(err) === 'permanent';
}

export const ioMetrics = {
  errors: new Counter({
    name: 'auditflow_io_errors_total',
    help: 'Output I/O errors by what was written (events, profile, recorder-state), kind (permanent: not retried; transient: retried with backoff) and errno code',
    labelNames: ['target', 'kind', 'code'] as const,
    registers: [registry],
  }),
};

/** Counts an output error; returns its kind. */
export function countIoError(target: string, err: unknown): IoErrorKind {
  const kind = ioErrorKind(err);
  ioMetrics.errors.inc({ target, kind, code: (err as NodeJS.ErrnoException | undefined)?.code ?? 'unknown' });
  return kind;
}

/** A permanent output error: the message names the output, `code` and `cause` are the error underneath. */
export class PermanentOutputError extends Error {
  readonly code: string | undefined;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'PermanentOutputError';
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** Raised into a retry loop when the shutdown grace period is over. */
export class AbortedError extends Error {
  constructor(what: string) {
    super(`${what}: given up at shutdown (grace period over)`);
    this.name = 'AbortedError';
  }
}
