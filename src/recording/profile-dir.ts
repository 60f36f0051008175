// Recorded profiles as files in a directory: the output of the embedded recorder and of the aggregator
// (the Kubernetes writer is another ProfileSink). Per profile NAME:
//   SeccompProfile: NAME.json (OCI runtime seccomp), NAME.yaml (the SPO resource), NAME.evidence.json
//   SelinuxProfile: NAME.cil (CIL module), NAME.selinux.yaml (the SPO resource), NAME.selinux.evidence.json
// A recording name may record both kinds (`run --record` does), so both sets share one directory without
// overwriting each other. The evidence file says where each syscall / permission was first seen (read by
// `auditflow explain`; the resource's `auditflow.dev/evidence` annotation names it). Each file is written to
// a temporary name, fsync'ed and renamed, then the directory is fsync'ed: a reader never sees half a
// profile, and a crash leaves the previous version.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { syncDir, writeFileAtomic } from '../io/atomic';
import { invalidProfileName } from '../profile/names';
import type { Evidence, ProfileSink, RecordedProfile, RecordingKind } from '../profile/recording';
import { toYaml } from '../profile/yaml';

/** Each file atomically (src/io/atomic.ts); the directory is synced once, after the last. */
const ATOMIC = { syncDir: false };

/** NAME_MAX of Linux filesystems (ext4, xfs, btrfs, tmpfs): the longest file name, in bytes. */
export const NAME_MAX = 255;

export const EVIDENCE_SUFFIX: Record<RecordingKind, string> = { SeccompProfile: '.evidence.json', SelinuxProfile: '.selinux.evidence.json' };

/** The files a profile is written to, by kind. */
export function profileFiles(dir: string, name: string, kind: RecordingKind): { resource: string; body: string; evidence: string } {
  const base = path.join(dir, name);
  return kind === 'SeccompProfile'
    ? { resource: `${base}.yaml`, body: `${base}.json`, evidence: `${base}${EVIDENCE_SUFFIX.SeccompProfile}` }
    : { resource: `${base}.selinux.yaml`, body: `${base}.cil`, evidence: `${base}${EVIDENCE_SUFFIX.SelinuxProfile}` };
}

/** Why a profile of this kind cannot have this name (not a DNS-1123 subdomain; its files too long for NAME_MAX), or undefined. */
export function profileNameProblem(kind: RecordingKind, name: string): string | undefined {
  const bad = invalidProfileName(name);
  if (bad) return bad;
  const f = profileFiles('', name, kind);
  const longest = Math.max(...[f.body, f.resource, f.evidence].map((p) => Buffer.byteLength(path.basename(p))));
  return longest > NAME_MAX ? `too long for a file name (${longest} bytes with its suffix; the limit is ${NAME_MAX})` : undefined;
}

/** The evidence file's content. */
export interface EvidenceFile {
  name: string;
  kind: string;
  recording: string;
  container: string;
  final: boolean;
  evidence: Record<string, Evidence>;
}

export class ProfileDirectory implements ProfileSink {
  constructor(readonly dir: string) {}

  async write(p: RecordedProfile): Promise<void> {
    // validated when built; checked again here, where the name becomes a path
    const bad = profileNameProblem(p.kind, p.name);
    if (bad) throw new Error(`refusing to write profile "${p.name}": ${bad}`);
    await fs.promises.mkdir(this.dir, { recursive: true });
    const f = profileFiles(this.dir, p.name, p.kind);
    if (p.oci) await writeFileAtomic(f.body, JSON.stringify(p.oci, null, 2) + '\n', ATOMIC);
    if (p.cil !== undefined) await writeFileAtomic(f.body, p.cil, ATOMIC);
    const evidence: EvidenceFile = { name: p.name, kind: p.kind, recording: p.recording.name, container: p.containerName, final: p.final, evidence: p.evidence };
    await writeFileAtomic(f.evidence, JSON.stringify(evidence, null, 2) + '\n', ATOMIC);
    await writeFileAtomic(f.resource, toYaml(p.resource), ATOMIC);
    await syncDir(this.dir);
  }
}
