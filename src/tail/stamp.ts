// Audit stamps `audit(SEC.MS:SERIAL)`: what tells one audit log file from another by content, orders files
// of a rotation chain, and measures what was lost between two of them.
//
// The kernel numbers its audit events with a serial that increases by one per event within a boot, so the
// serials missing between the last record read from one file and the first record of the next surviving file
// are the events auditd deleted before they could be read. auditd's own records (DAEMON_START,
// DAEMON_ROTATE, DAEMON_END, …) carry auditd's own counter instead: they are never used as a reference.

import type { FileHandle } from 'node:fs/promises';

export interface Stamp {
  /** audit time in ms since the epoch */
  timeMs: number;
  serial: number;
}

const STAMP_RE = /audit\((\d+)\.(\d{1,3}):(\d+)\)/;
/** How far into a file its first kernel record is looked for. */
export const FIRST_STAMP_SCAN = 16 * 1024;

/** The kernel stamp of one line (null for auditd's own DAEMON_* records and lines without a stamp). */
export function lineStamp(line: string): Stamp | null {
  const m = STAMP_RE.exec(line);
  if (!m) return null;
  // `type=DAEMON_…` before the stamp (auditd's own record, its own serial counter)
  if (line.lastIndexOf('DAEMON_', m.index) >= 0) return null;
  return { timeMs: Number(m[1]) * 1000 + Number(m[2]!.padEnd(3, '0')), serial: Number(m[3]) };
}

export function formatStamp(s: Stamp): string {
  const sec = Math.floor(s.timeMs / 1000);
  return `${sec}.${String(s.timeMs - sec * 1000).padStart(3, '0')}:${s.serial}`;
}

/** Parses "SEC.MS:SERIAL" (the checkpoint's form); null when it is not one. */
export function parseStamp(s: string | null | undefined): Stamp | null {
  if (!s) return null;
  const m = /^(\d+)\.(\d{1,3}):(\d+)$/.exec(s);
  if (!m) return null;
  return { timeMs: Number(m[1]) * 1000 + Number(m[2]!.padEnd(3, '0')), serial: Number(m[3]) };
}

/** Order of two stamps: by time, then serial. */
export function compareStamps(a: Stamp, b: Stamp): number {
  return a.timeMs !== b.timeMs ? a.timeMs - b.timeMs : a.serial - b.serial;
}

/** The last kernel stamp among `lines` (scanning backwards), or null. */
export function lastStampOf<T>(lines: readonly T[], text: (x: T) => string, from = 0): Stamp | null {
  for (let i = lines.length - 1; i >= from; i--) {
    const s = lineStamp(text(lines[i]!));
    if (s) return s;
  }
  return null;
}

/** The first kernel record's stamp in the first FIRST_STAMP_SCAN bytes of a file (complete lines only). */
export async function readFirstStamp(fh: FileHandle, size: number): Promise<Stamp | null> {
  const n = Math.min(size, FIRST_STAMP_SCAN);
  if (n <= 0) return null;
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, 0);
  const text = buf.toString('latin1', 0, bytesRead);
  let from = 0;
  for (;;) {
    const nl = text.indexOf('\n', from);
    if (nl < 0) return null;
    const s = lineStamp(text.slice(from, nl));
    if (s) return s;
    from = nl + 1;
  }
}
