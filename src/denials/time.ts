// Time window bounds for `auditflow denials`: an absolute RFC 3339 time, epoch seconds, or a duration
// back from now (`90s`, `15m`, `2h`, `7d`, `1h30m`), which is what one types when investigating.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export class TimeSpecError extends Error {}

/** A duration like `15m` or `1h30m` in ms, or undefined when `s` is not one. */
export function parseDuration(s: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = re.lastIndex;
  }
  return pos > 0 && pos === s.length ? total : undefined;
}

/** `flag`'s value → epoch ms. `now` is injectable so a window is computed once per query. */
export function parseWhen(flag: string, value: string, now: number): number {
  const s = value.trim();
  const d = parseDuration(s);
  if (d !== undefined) return now - d;
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  // Date.parse accepts more than RFC 3339 (e.g. "March 7"); insist on a date with a time and a zone
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2}))?$/i.test(s)) {
    const t = Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s.replace(' ', 'T'));
    if (!Number.isNaN(t)) return t;
  }
  throw new TimeSpecError(
    `${flag}: "${value}" is not a time: give RFC 3339 (2026-11-22T17:00:00Z), a date (2026-11-22, UTC), ` +
      `epoch seconds, or a duration back from now (30s, 15m, 2h, 7d, 1h30m)`,
  );
}
