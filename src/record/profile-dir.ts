// Recorded profiles as files in a directory (the embedded default's output). Per profile NAME:
//   SeccompProfile: NAME.json (OCI runtime seccomp), NAME.yaml (the SPO resource), NAME.evidence.json
//   SelinuxProfile: NAME.cil (CIL module), NAME.selinux.yaml (the SPO resource), NAME.selinux.evidence.json
// (a container recorded for both kinds keeps both sets apart). Each file is written to a temporary name,
// fsync'ed and renamed, then the directory is fsync'ed: a reader never sees half a profile, and a crash
// leaves the previous version.
import * as fs from 'node:fs';
import { syncDir, writeFileAtomic } from '../io/atomic';
import * as path from 'node:path';
import { invalidProfileName } from '../profile/names';
import type { ProfileSink, RecordedProfile } from '../profile/recording';
import { toYaml } from '../profile/yaml';

/** Each file atomically (src/io/atomic.ts); the directory is synced once, after the last. */
const ATOMIC = { syncDir: false };

/** The files a profile is written to, by kind. */
export function profileFiles(dir: string, name: string, kind: RecordedProfile['kind']): { resource: string; body: string; evidence: string } {
  const base = path.join(dir, name);
  return kind === 'SeccompProfile'
    ? { resource: `${base}.yaml`, body: `${base}.json`, evidence: `${base}.evidence.json` }
    : { resource: `${base}.selinux.yaml`, body: `${base}.cil`, evidence: `${base}.selinux.evidence.json` };
}

export class ProfileDirectory implements ProfileSink {
  constructor(readonly dir: string) {}

  async write(p: RecordedProfile): Promise<void> {
    // validated when built; checked again here, where the name becomes a path
    const bad = invalidProfileName(p.name);
    if (bad) throw new Error(`refusing to write profile "${p.name}": ${bad}`);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const f = profileFiles(this.dir, p.name, p.kind);
    if (p.oci) await writeFileAtomic(f.body, JSON.stringify(p.oci, null, 2) + '\n', ATOMIC);
    if (p.cil !== undefined) await writeFileAtomic(f.body, p.cil, ATOMIC);
    const evidence = { name: p.name, kind: p.kind, recording: p.recording.name, container: p.containerName, final: p.final, evidence: p.evidence };
    await writeFileAtomic(f.evidence, JSON.stringify(evidence, null, 2) + '\n', ATOMIC);
    await writeFileAtomic(f.resource, toYaml(p.resource), ATOMIC);
    await syncDir(this.dir);
  }
}
