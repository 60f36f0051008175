// SIEM documents leave out what is unknown rather than sending nulls: a null in ECS or OCSF would claim a
// field is present and empty, and empty objects only cost mapping slots in the index.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Drops null/undefined values and objects left empty, recursively; arrays keep their (compacted) items. */
export function compact<T extends Record<string, unknown>>(obj: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const c = compactValue(v);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

function compactValue(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return v.map(compactValue).filter((x) => x !== undefined);
  if (typeof v === 'object') {
    const o = compact(v as Record<string, unknown>);
    return Object.keys(o).length ? o : undefined;
  }
  return v;
}

/** auditd's "unset" id (-1 as u32): no login uid, no session. */
export const UNSET_ID = 4294967295;

export function idOrNull(n: number | null | undefined): number | null {
  return n === null || n === undefined || n === UNSET_ID ? null : n;
}

export function basename(path: string | null | undefined): string | null {
  if (!path) return null;
  const i = path.lastIndexOf('/');
  return i >= 0 && i < path.length - 1 ? path.slice(i + 1) : path;
}
