// The one way auditflow replaces a whole file (profiles, checkpoints, aggregator state, installed profiles):
// a reader or a crash sees the old content or the new, never half of either.
//
// 1. The temporary file is created beside the target with O_CREAT|O_EXCL|O_NOFOLLOW: a name planted in the
//    directory (a symlink to /etc/shadow, a FIFO) makes the write fail instead of writing through it.
// 2. Its content is fsync'ed before the rename, so the rename can never expose an empty file after a crash.
// 3. The rename replaces the target atomically; the target itself may not be a symlink, a device or a
//    directory (`refuseSpecial`): replacing a symlink the admin made would silently move where data goes
//    (`replaceSymlink` allows replacing a symlink itself, never writing through it, where the directory is
//    ours alone, as the kubelet profile root is the agent's).
// 4. The directory is fsync'ed, which makes the rename itself durable.
// On any error the temporary file is removed and an AtomicWriteError naming the target is thrown, with the
// system error as its `cause` and its `code` (EROFS, ENOSPC, ENAMETOOLONG, …, ENOTREG for a special target).

import * as fs from 'node:fs';
import * as path from 'node:path';

const { O_CREAT, O_EXCL, O_WRONLY, O_NOFOLLOW } = fs.constants;

export interface AtomicWriteOptions {
  /** File mode of the new file. Default 0644. */
  mode?: number;
  /** Create the directory (recursively) when it is missing. Default false. */
  mkdir?: boolean;
  /** fsync the directory after the rename. Default true. */
  syncDir?: boolean;
  /** A symlink at the target is replaced (the link, not what it points to) instead of refused. Default false. */
  replaceSymlink?: boolean;
}

/** A failed atomic write: the message names the target, `code` and `cause` are the underlying error's. */
export class AtomicWriteError extends Error {
  readonly code: string | undefined;
  constructor(readonly file: string, cause: unknown) {
    const c = cause as NodeJS.ErrnoException;
    super(`cannot write ${file}: ${c?.code && c.syscall ? `${c.code} (${c.message.replace(/^[A-Z]+: /, '').replace(/, \w+( '.*')?$/, '')})` : c?.message ?? String(cause)}`, { cause });
    this.name = 'AtomicWriteError';
    this.code = c?.code;
  }
}

/** Raised when the target exists and is not a regular file (symlink, device, FIFO, socket, directory). */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(readonly file: string, what: string) {
    super(`${file} is ${what}, not a regular file: refusing to replace it`);
  }
}

let seq = 0;

/** What `file` is when it exists and is not a regular file, else undefined (missing or regular). */
export async function specialFileKind(file: string): Promise<string | undefined> {
  let st: fs.Stats;
  try {
    st = await fs.promises.lstat(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (st.isFile()) return undefined;
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The temporary name the next write of `file` in this process uses (beside it; for tests that plant things there). */
export function nextTempPath(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file).slice(0, 200)}.tmp-${process.pid}-${seq + 1}`);
}

export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions | number = {}): Promise<void> {
  const o: AtomicWriteOptions = typeof opts === 'number' ? { mode: opts } : opts;
  const dir = path.dirname(file);
  const tmp = nextTempPath(file);
  seq++;
  let fh: fs.promises.FileHandle | undefined;
  let created = false;
  try {
    if (o.mkdir) await fs.promises.mkdir(dir, { recursive: true });
    const special = await specialFileKind(file);
    if (special !== undefined && !(o.replaceSymlink && special === 'a symbolic link')) throw new NotRegularFileError(file, special);
    fh = await fs.promises.open(tmp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, o.mode ?? 0o644);
    created = true;
    // the open mode went through the umask: an explicit mode is set as given
    if (o.mode !== undefined) await fh.chmod(o.mode);
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await fs.promises.rename(tmp, file);
    created = false;
    if (o.syncDir !== false) await syncDir(dir);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    // only what we created: a name planted at the temporary path (EEXIST) is not ours to remove
    if (created) await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw e instanceof NotRegularFileError ? e : new AtomicWriteError(file, e);
  }
}

export async function syncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
