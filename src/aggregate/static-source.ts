// Recordings given on the command line (`--recording NAME=SELECTOR`, read by recording/flags.ts) or in a JSON
// file (`--recordings`).
// The Kubernetes controller provides its own RecordingSource (watched ProfileRecordings) instead.

import * as fs from 'node:fs';
import { type MergeStrategy, type RecordingKind, type RecordingSource, type RecordingSpec, recordingNameError } from '../profile/recording';
import { parseSelector, type LabelSelector } from '../profile/selector';
import { baseNameError } from '../recording/base';
import { RecordingSpecError } from '../recording/flags';


export class StaticRecordingSource implements RecordingSource {
  private specs: RecordingSpec[];
  private readonly listeners: Array<() => void> = [];

  constructor(specs: RecordingSpec[]) {
    this.specs = [...specs];
  }

  list(): RecordingSpec[] {
    return this.specs;
  }

  onChange(cb: () => void): void {
    this.listeners.push(cb);
  }

  /** Replaces the set (e.g. a reloaded file; tests use it to stop a recording). */
  set(specs: RecordingSpec[]): void {
    this.specs = [...specs];
    for (const l of this.listeners) l();
  }
}

function checkName(name: string, file: string): string {
  const bad = recordingNameError(name);
  if (bad) throw new RecordingSpecError(`--recordings ${file}: ${bad}`);
  return name;
}

/**
 * A JSON file: an array of {name, namespace?, kind?, podSelector (object or kubectl string), containers?,
 * mergeStrategy?, baseProfileName?}.
 */
export function readRecordingsFile(file: string, kind: RecordingKind, mergeStrategy: MergeStrategy): RecordingSpec[] {
  let v: unknown;
  try {
    v = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RecordingSpecError(`--recordings ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(v)) throw new RecordingSpecError(`--recordings ${file}: expected a JSON array of recordings`);
  return v.map((r: unknown, i): RecordingSpec => {
    const o = r as Record<string, unknown>;
    if (typeof o !== 'object' || o === null || typeof o.name !== 'string') throw new RecordingSpecError(`--recordings ${file}: entry ${i} has no name`);
    const k = o.kind ?? kind;
    if (k !== 'SeccompProfile' && k !== 'SelinuxProfile') throw new RecordingSpecError(`--recordings ${file}: ${o.name}: kind must be SeccompProfile or SelinuxProfile`);
    const m = String(o.mergeStrategy ?? mergeStrategy).toLowerCase();
    if (m !== 'none' && m !== 'containers') throw new RecordingSpecError(`--recordings ${file}: ${o.name}: mergeStrategy must be none or containers`);
    let podSelector: LabelSelector;
    try {
      podSelector = typeof o.podSelector === 'string' ? parseSelector(o.podSelector) : ((o.podSelector ?? {}) as LabelSelector);
    } catch (e) {
      throw new RecordingSpecError(`--recordings ${file}: ${o.name}: ${(e as Error).message}`, { cause: e });
    }
    const spec: RecordingSpec = { name: checkName(o.name, file), namespace: typeof o.namespace === 'string' ? o.namespace : null, kind: k, podSelector, mergeStrategy: m };
    if (Array.isArray(o.containers)) spec.containers = o.containers.map(String);
    if (o.baseProfileName !== undefined) {
      if (typeof o.baseProfileName !== 'string' || k !== 'SeccompProfile') throw new RecordingSpecError(`--recordings ${file}: ${o.name}: baseProfileName must be a string, for a SeccompProfile recording`);
      const bad = baseNameError(o.baseProfileName);
      if (bad) throw new RecordingSpecError(`--recordings ${file}: ${o.name}: baseProfileName "${o.baseProfileName.slice(0, 300)}": ${bad}`);
      spec.baseProfileName = o.baseProfileName;
    }
    return spec;
  });
}
