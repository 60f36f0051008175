// SIEM documents leave out what is unknown rather than sending nulls: a null in ECS or OCSF would claim a
// field is present and empty, and empty objects only cost mapping slots in the index.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Drops null/undefined values and objects left empty, recursively; arrays keep their (compacted) items. */
export function compact<T extends Record<string, unknown>>(obj: T): Record<string, unknown> {
  return compactObject(obj) ?? {};
}

// Every SIEM document goes through here: for-in and a count instead of Object.entries/Object.keys, which
// allocate an array per object and cost a quarter of `run --events all --format ecs` (same keys, same order:
// the objects are plain, with nothing enumerable inherited).
function compactObject(obj: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const k in obj) {
    const c = compactValue(obj[k]);
    if (c === undefined) continue;
    out[k] = c;
    n++;
  }
  return n ? out : undefined;
}

function compactValue(v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const x of v) {
      const c = compactValue(x);
      if (c !== undefined) out.push(c);
    }
    return out;
  }
  return compactObject(v as Record<string, unknown>);
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
