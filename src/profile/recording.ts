// A recording: which containers to record and into what. It mirrors SPO's ProfileRecording spec
// (recorder: Logs) so that the embedded recorder (`auditflow run --record`), the Kafka aggregator and the
// Kubernetes recording controller share one shape.

import type { LabelSelector } from './selector';

export type RecordingKind = 'SeccompProfile' | 'SelinuxProfile';
export type MergeStrategy = 'none' | 'containers';

export interface RecordingSpec {
  /** Recording name (DNS-1123 label); profiles are named `<name>-<container>[-<replica>]`. */
  name: string;
  /** Namespace of the ProfileRecording; pods outside it are never selected. null: any namespace (CLI). */
  namespace: string | null;
  kind: RecordingKind;
  podSelector: LabelSelector;
  /** Only these container names, when given. */
  containers?: string[];
  mergeStrategy: MergeStrategy;
  /**
   * SeccompProfile: the profile the recorded one stacks on (a SeccompProfile name, or `oci://…`); the
   * recorded profile names it in `spec.baseProfileName` and lists only the syscalls it does not allow.
   */
  baseProfileName?: string;
}

/** Where a syscall or permission of a profile was first seen (shown by `auditflow explain`). */
export interface Evidence {
  firstSeen: string;
  lastSeen: string;
  count: number;
  exe: string | null;
  pod: string | null;
  namespace: string | null;
}

/** A finished (or updated) recorded profile, as the embedded recorder and the aggregator emit it. */
export interface RecordedProfile {
  recording: RecordingSpec;
  /** `<recording>-<container>[-<replica>]`, DNS-1123 validated. */
  name: string;
  containerName: string;
  kind: RecordingKind;
  /** The SPO resource (apiVersion security-profiles-operator.x-k8s.io/v1), labels set as SPO does. */
  resource: { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };
  /** Plain OCI runtime seccomp JSON (SeccompProfile) or CIL module text (SelinuxProfile). */
  oci?: Record<string, unknown>;
  cil?: string;
  /** Keyed by syscall name (seccomp) or `type:class:perm` (SELinux). */
  evidence: Record<string, Evidence>;
  /** true once the session ended (container exited, or stop); false for a progress update. */
  final: boolean;
}

/** Where recorded profiles go: a directory (embedded default, aggregator), or the Kubernetes API. */
export interface ProfileSink {
  write(p: RecordedProfile): Promise<void>;
  /**
   * A profile of `rec` is not written now, for a reason its owner should see (its base profile cannot be
   * resolved): the recording controller puts it in the recording's status. Optional: files have no status.
   */
  notWritten?(rec: RecordingSpec, reason: string, message: string): Promise<void>;
}

/** The recordings currently active: static from the command line, or watched ProfileRecordings. */
export interface RecordingSource {
  list(): RecordingSpec[];
  /** Called when the set changes. */
  onChange(cb: () => void): void;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Why `name` cannot name a recording, or undefined. It becomes a label value and the prefix of every profile
 * name (`<name>-<container>[-<replica>]`), so it is a DNS-1123 label whose profile names stay valid.
 */
export function recordingNameError(name: string): string | undefined {
  if (!DNS1123_LABEL.test(name)) return `recording name "${name.slice(0, 100)}" must be a DNS-1123 label (lower case alphanumerics and "-", at most 63)`;
  return undefined;
}
