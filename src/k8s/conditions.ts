// metav1.Condition bookkeeping: lastTransitionTime moves only when a condition's status changes, so
// rewriting the same state is a no-op that callers can detect and skip.

import type { Condition } from './api';

export function setCondition(list: Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now = new Date()): Condition[] {
  const out = (list ?? []).filter((x) => x.type !== c.type);
  const prev = (list ?? []).find((x) => x.type === c.type);
  const next: Condition = { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d+Z$/, 'Z') };
  // SPO's CRDs (metav1.Condition) require a message, even an empty one.
  next.message ??= '';
  out.push(next);
  return out.sort((a, b) => a.type.localeCompare(b.type));
}

/** Equal apart from lastTransitionTime (which setCondition keeps when nothing changed). */
export function sameConditions(a: Condition[] | undefined, b: Condition[] | undefined): boolean {
  const norm = (l: Condition[] | undefined) =>
    JSON.stringify((l ?? []).map((c) => [c.type, c.status, c.reason, c.message ?? '']).sort());
  return norm(a) === norm(b);
}
