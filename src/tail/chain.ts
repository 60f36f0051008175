// The rotation chain of a log file: its rotated siblings `<name>.N` (auditd and logrotate number them,
// .1 the newest) and the live file itself, oldest first, each opened and identified by device + inode.
//
// Names shift under us while a rotation runs, so the chain is opened and then verified: every name must
// still lead to the inode we opened and no sibling may have appeared; otherwise it is opened again. Once
// open, a file's descriptor keeps reading the same data whatever it is renamed to.

import { promises as fsp, readSync } from 'node:fs';
import * as path from 'node:path';
import { readFirstStamp, type Stamp } from './stamp';

export const HEAD_BYTES = 64;

export interface ChainFile {
  /** The name it had when opened. */
  name: string;
  fh: fsp.FileHandle;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  /** The first bytes (at most HEAD_BYTES): tells a reused inode or a rewritten file from the one we knew. */
  head: Buffer;
  /**
   * The stamp of its first kernel record (audit time and serial), null while it has none: what tells files
   * apart and orders them by content, since names shift and inodes are reused.
   */
  first: Stamp | null;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Names of the numbered rotated siblings of `live`, oldest (highest N) first. */
export async function rotatedNames(live: string): Promise<string[]> {
  const dir = path.dirname(live);
  const re = new RegExp(`^${escapeRe(path.basename(live))}\\.(\\d+)$`);
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch {
    return [];
  }
  const found: Array<{ n: number; name: string }> = [];
  for (const e of entries) {
    const m = re.exec(e);
    if (m) found.push({ n: Number(m[1]), name: path.join(dir, e) });
  }
  found.sort((a, b) => b.n - a.n);
  return found.map((f) => f.name);
}

/**
 * The file's first bytes (at most HEAD_BYTES). Read synchronously: it is read around every short read of a live
 * log (FileTailer's rewrite check), where an async file operation costs 60-130 us of CPU in the thread-pool
 * hand-off on the 2-core VM (issue 14), and 64 bytes of an open local file are a page-cache copy.
 */
export function readHead(fh: fsp.FileHandle, size: number): Buffer {
  const n = Math.min(size, HEAD_BYTES);
  if (n <= 0) return Buffer.alloc(0);
  const buf = Buffer.alloc(n);
  const bytesRead = readSync(fh.fd, buf, 0, n, 0);
  return buf.subarray(0, bytesRead);
}

/** Opens one file; null when it does not exist (any more). */
export async function openFile(name: string): Promise<ChainFile | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(name, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${name} is not a regular file`);
    const head = readHead(fh, st.size);
    const first = await readFirstStamp(fh, st.size);
    return { name, fh, dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, head, first };
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

export async function closeAll(files: readonly ChainFile[]): Promise<void> {
  await Promise.all(files.map((f) => f.fh.close().catch(() => undefined)));
}

/** The chain of `live`, oldest first; the live file last when it exists. Callers close what they do not keep. */
export async function openChain(live: string, attempts = 8): Promise<ChainFile[]> {
  let last: ChainFile[] = [];
  for (let attempt = 0; attempt < attempts; attempt++) {
    const names = [...(await rotatedNames(live)), live];
    const files: ChainFile[] = [];
    for (const n of names) {
      const f = await openFile(n);
      if (f) files.push(f);
    }
    if (await stillSame(live, names, files)) {
      await closeAll(last);
      return dedupe(files);
    }
    await closeAll(last);
    last = files;
  }
  // A rotation storm: use the last view; each file is still read by its identity.
  return dedupe(last);
}

async function stillSame(live: string, names: string[], files: ChainFile[]): Promise<boolean> {
  const now = [...(await rotatedNames(live)), live];
  if (now.length !== names.length || now.some((n, i) => n !== names[i])) return false;
  for (const f of files) {
    try {
      const st = await fsp.stat(f.name);
      if (st.ino !== f.ino || st.dev !== f.dev) return false;
    } catch {
      return false;
    }
  }
  // A name that was missing while opening (live between rename and create) must still be missing.
  const opened = new Set(files.map((f) => f.name));
  for (const n of names) {
    if (opened.has(n)) continue;
    try {
      await fsp.stat(n);
      return false;
    } catch {
      // still absent
    }
  }
  return true;
}

function dedupe(files: ChainFile[]): ChainFile[] {
  const seen = new Set<string>();
  const out: ChainFile[] = [];
  for (const f of files) {
    const k = `${f.dev}:${f.ino}`;
    if (seen.has(k)) {
      void f.fh.close().catch(() => undefined);
      continue;
    }
    seen.add(k);
    out.push(f);
  }
  return out;
}

/** Whether `file` starts with the bytes `head` (hex) recorded for it earlier. */
export function headMatches(file: ChainFile, headHex: string | undefined): boolean {
  if (headHex === undefined || headHex === '') return true;
  const want = Buffer.from(headHex, 'hex');
  if (file.head.length < want.length) return false;
  return file.head.subarray(0, want.length).equals(want);
}
