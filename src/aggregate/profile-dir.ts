// The aggregator's output for now: a directory of profiles (the Kubernetes writer is another ProfileSink).
// Per profile NAME: NAME.yaml (the SPO resource), NAME.json (OCI seccomp) or NAME.cil (SELinux CIL), and
// NAME.evidence.json (where each syscall / permission was first seen; read by `auditflow explain`).
// Each file is written to a temporary name, fsync'ed and renamed, so a reader never sees half a profile.

import * as fs from 'node:fs';
import { syncDir, writeFileAtomic } from '../io/atomic';
import * as path from 'node:path';
import { invalidProfileName } from '../profile/names';
import type { Evidence, ProfileSink, RecordedProfile } from '../profile/recording';
import { toYaml } from '../profile/yaml';

/** Each file atomically (src/io/atomic.ts); the directory is synced once, after the last. */
const ATOMIC = { syncDir: false };

export interface EvidenceFile {
  name: string;
  kind: string;
  recording: string;
  container: string;
  final: boolean;
  evidence: Record<string, Evidence>;
}

export class DirectoryProfileSink implements ProfileSink {
  constructor(readonly dir: string) {}

  async write(p: RecordedProfile): Promise<void> {
    // names were validated when built; checked again because this is where they become paths
    const bad = invalidProfileName(p.name);
    if (bad) throw new Error(`refusing to write profile "${p.name}": ${bad}`);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const base = path.join(this.dir, p.name);
    if (p.oci) await writeFileAtomic(`${base}.json`, JSON.stringify(p.oci, null, 2) + '\n', ATOMIC);
    if (p.cil !== undefined) await writeFileAtomic(`${base}.cil`, p.cil, ATOMIC);
    const ev: EvidenceFile = { name: p.name, kind: p.kind, recording: p.recording.name, container: p.containerName, final: p.final, evidence: p.evidence };
    await writeFileAtomic(`${base}.evidence.json`, JSON.stringify(ev, null, 2) + '\n', ATOMIC);
    await writeFileAtomic(`${base}.yaml`, toYaml(p.resource), ATOMIC);
    await syncDir(this.dir);
  }
}
