// The filters of `auditflow denials`. Within one flag, any value may match (repeat the flag or separate
// values with commas); across flags, all must match. Values are exact, with `*` and `?` as wildcards.

import type { ContainerRef, EventV1, PodRef } from '../event/v1';
import { actionOf, isDenial, permissionsOf, syscallLabel } from '../event/decision';

export interface DenialFilter {
  namespace?: string[];
  pod?: string[];
  container?: string[];
  /** Syscall name, `#NR` or bare number. */
  syscall?: string[];
  /** SELinux permission (`read`) or AppArmor mask (`r`, `wc`). */
  permission?: string[];
  /** `errno`, `kill_process`, `kill*`, `denied`, … (see actionOf). */
  action?: string[];
  node?: string[];
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, exclusive. */
  until?: number;
  /** Keep non-denials too (`--all`): the same filters over every decision. */
  all?: boolean;
}

type Matcher = (s: string | null | undefined) => boolean;

function globToRegExp(g: string): RegExp {
  const esc = g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${esc}$`);
}

function matcher(values: string[] | undefined): Matcher | undefined {
  if (!values || values.length === 0) return undefined;
  const exact = new Set<string>();
  const globs: RegExp[] = [];
  for (const v of values) (/[*?]/.test(v) ? globs.push(globToRegExp(v)) : exact.add(v));
  return (s) => s !== null && s !== undefined && (exact.has(s) || globs.some((g) => g.test(s)));
}

/** Compiles a filter once; the predicate runs per event. */
export function compileFilter(f: DenialFilter): (ev: EventV1, timeMs: number) => boolean {
  const ns = matcher(f.namespace);
  const pod = matcher(f.pod);
  const ctr = matcher(f.container);
  const sys = matcher(f.syscall);
  const perm = matcher(f.permission);
  const act = matcher(f.action);
  const node = matcher(f.node);
  return (ev, t) => {
    if (f.since !== undefined && !(t >= f.since)) return false;
    if (f.until !== undefined && !(t < f.until)) return false;
    if (!f.all && !isDenial(ev)) return false;
    if (f.all && actionOf(ev) === undefined) return false;
    if (ns && !ns(ev.pod?.namespace)) return false;
    if (pod && !pod(ev.pod?.name)) return false;
    if (ctr && !ctr(ev.container?.name)) return false;
    if (node && !node(ev.node)) return false;
    if (sys && !(sys(ev.syscall) || sys(syscallLabel(ev)) || (typeof ev.syscallNr === 'number' && sys(String(ev.syscallNr))))) return false;
    if (perm && !permissionsOf(ev).some((p) => perm(p))) return false;
    if (act && !act(actionOf(ev))) return false;
    return true;
  };
}

/** Whether a rate-limit summary (node, pod, container, [since, until]) falls in the filter's scope. */
export function compileScope(f: DenialFilter): (s: { node: string; pod: PodRef | null; container: ContainerRef | null; since: string; until: string }) => boolean {
  const ns = matcher(f.namespace);
  const pod = matcher(f.pod);
  const ctr = matcher(f.container);
  const node = matcher(f.node);
  return (s) => {
    const from = Date.parse(s.since);
    const to = Date.parse(s.until);
    if (f.since !== undefined && to < f.since) return false;
    if (f.until !== undefined && from >= f.until) return false;
    if (ns && !ns(s.pod?.namespace)) return false;
    if (pod && !pod(s.pod?.name)) return false;
    if (ctr && !ctr(s.container?.name)) return false;
    if (node && !node(s.node)) return false;
    return true;
  };
}
