// Recordings named on the command line: `run --record` and `aggregate --recording` take the same values and
// read them here, so the two commands cannot disagree on what a value means.

import { recordingNameError, type MergeStrategy, type RecordingKind, type RecordingSpec } from '../profile/recording';
import { parseSelector, SelectorError, type LabelSelector } from '../profile/selector';

export class RecordingSpecError extends Error {}

export interface RecordingFlagOptions {
  /** The flag, for messages (`--record`, `--recording`). */
  flag: string;
  /** Each value becomes one recording of each of these kinds. */
  kinds: readonly RecordingKind[];
  /**
   * The name of a value that is a bare selector ("recorded", then "recorded-2", …). Without one, every value
   * is NAME=SELECTOR and the first "=" splits it, so `web=app` is the recording `web` of pods with label `app`.
   */
  defaultName?: string;
  namespace?: string | null;
  merge?: MergeStrategy;
  containers?: string[];
  /** SeccompProfile recordings stack on it (recording/base.ts resolves it). */
  base?: string;
}

function trySelector(s: string): LabelSelector | undefined {
  try {
    return parseSelector(s);
  } catch (err) {
    if (err instanceof SelectorError) return undefined;
    throw err;
  }
}

/** `auditflow run --record`: a seccomp and an SELinux recording per value, bare selectors named "recorded". */
export const RUN_RECORD_FLAG = { flag: '--record', kinds: ['SeccompProfile', 'SelinuxProfile'], defaultName: 'recorded' } as const satisfies RecordingFlagOptions;

/** NAME and SELECTOR of one value, or why it is neither a selector nor NAME=SELECTOR. */
function split(v: string, nameOptional: boolean): { name?: string; selector: LabelSelector } | { error: string } {
  // With a default name, a value that is itself a selector is one (`app=web`): NAME= is only for the rest.
  const whole = nameOptional ? trySelector(v) : undefined;
  if (whole) return { selector: whole };
  const eq = v.indexOf('=');
  if (eq <= 0) return { error: nameOptional ? 'not a label selector (app=web,tier in (a,b)) nor NAME=SELECTOR' : 'expected NAME=SELECTOR, e.g. demo=app=demo' };
  try {
    return { name: v.slice(0, eq), selector: parseSelector(v.slice(eq + 1)) };
  } catch (err) {
    if (err instanceof SelectorError) return { error: `${nameOptional ? 'not a label selector nor NAME=SELECTOR' : 'SELECTOR'}: ${err.message}` };
    throw err;
  }
}

/** The recordings of a command line's values; throws RecordingSpecError naming the value at fault. */
export function parseRecordingFlags(values: readonly string[], o: RecordingFlagOptions): RecordingSpec[] {
  const out: RecordingSpec[] = [];
  const names = new Set<string>();
  let unnamed = 0;
  for (const v of values) {
    const s = split(v, o.defaultName !== undefined);
    if ('error' in s) throw new RecordingSpecError(`${o.flag} "${v.slice(0, 300)}": ${s.error}`);
    let name = s.name;
    if (name === undefined) {
      unnamed++;
      name = unnamed === 1 ? (o.defaultName as string) : `${o.defaultName}-${unnamed}`;
    }
    const bad = recordingNameError(name);
    if (bad) throw new RecordingSpecError(`${o.flag} "${v.slice(0, 300)}": ${bad}`);
    if (names.has(name)) throw new RecordingSpecError(`recording name "${name}" given twice`);
    names.add(name);
    for (const kind of o.kinds) {
      const spec: RecordingSpec = { name, namespace: o.namespace ?? null, kind, podSelector: s.selector, mergeStrategy: o.merge ?? 'containers' };
      if (o.containers?.length) spec.containers = [...o.containers];
      if (o.base !== undefined && kind === 'SeccompProfile') spec.baseProfileName = o.base;
      out.push(spec);
    }
  }
  return out;
}
