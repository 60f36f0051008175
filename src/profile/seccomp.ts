// Seccomp profile building: a set union of (arch, syscall) observations, rendered as an OCI runtime-spec
// seccomp profile or as the Security Profiles Operator's SeccompProfile resource. Pure: no I/O. The
// offline `auditflow profile`, the node recorder and the aggregator all feed this one builder; adding the
// same observation twice changes only its count, so redelivered events are harmless.

import { nativeCompanions, scmpArchName } from '../../parsers';

export const SPO_GROUP_VERSION = 'security-profiles-operator.x-k8s.io/v1';
export const LABEL_RECORDING_ID = 'spo.x-k8s.io/recording-id';
export const LABEL_CONTAINER_ID = 'spo.x-k8s.io/container-id';
export const LABEL_RECORDING_NAMESPACE = 'spo.x-k8s.io/recording-namespace';
export const ANNOTATION_COVERAGE = 'spo.x-k8s.io/syscall-coverage';

export interface OciSeccompProfile {
  defaultAction: string;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: string }>;
}

export interface SeccompProfileResource {
  apiVersion: string;
  kind: 'SeccompProfile';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    defaultAction: string;
    architectures: string[];
    syscalls: Array<{ action: string; names: string[] }>;
    baseProfileName?: string;
  };
}

export interface ResourceOptions {
  name: string;
  labels?: Record<string, string>;
  baseProfileName?: string;
}

export class SeccompProfileBuilder {
  private readonly counts = new Map<string, number>();
  private readonly arches = new Set<string>();
  /** Observations whose syscall number has no name on its arch (cannot be written into a profile). */
  readonly unnamed = new Map<string, number>();
  total = 0;

  /** Record one observation of `name` on `arch` (libseccomp arch name). */
  add(arch: string | undefined, name: string | undefined, nr?: number, count = 1): void {
    this.total += count;
    if (arch) this.arches.add(arch);
    if (!name) {
      const key = `${arch ?? 'unknown-arch'}:${nr ?? '?'}`;
      this.unnamed.set(key, (this.unnamed.get(key) ?? 0) + count);
      return;
    }
    this.counts.set(name, (this.counts.get(name) ?? 0) + count);
  }

  /** Union another builder into this one. */
  merge(other: SeccompProfileBuilder): void {
    for (const [n, c] of other.counts) this.counts.set(n, (this.counts.get(n) ?? 0) + c);
    for (const a of other.arches) this.arches.add(a);
    for (const [k, c] of other.unnamed) this.unnamed.set(k, (this.unnamed.get(k) ?? 0) + c);
    this.total += other.total;
  }

  get size(): number {
    return this.counts.size;
  }

  names(): string[] {
    return [...this.counts.keys()].sort();
  }

  syscallCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const n of this.names()) out[n] = this.counts.get(n)!;
    return out;
  }

  /** The arches seen plus their native companions, as SCMP_ARCH_* names, in a stable order. */
  architectures(): string[] {
    const all = new Set<string>();
    for (const a of [...this.arches].sort()) for (const c of nativeCompanions(a)) all.add(c);
    const out: string[] = [];
    for (const a of all) {
      const s = scmpArchName(a);
      if (s) out.push(s);
    }
    return out;
  }

  toOci(): OciSeccompProfile {
    return {
      defaultAction: 'SCMP_ACT_ERRNO',
      architectures: this.architectures(),
      syscalls: [{ names: this.names(), action: 'SCMP_ACT_ALLOW' }],
    };
  }

  coverage(): string {
    return JSON.stringify({ version: 'v1', total: this.total, syscalls: this.syscallCounts() });
  }

  toResource(opts: ResourceOptions): SeccompProfileResource {
    const r: SeccompProfileResource = {
      apiVersion: SPO_GROUP_VERSION,
      kind: 'SeccompProfile',
      metadata: { name: opts.name, annotations: { [ANNOTATION_COVERAGE]: this.coverage() } },
      spec: {
        defaultAction: 'SCMP_ACT_ERRNO',
        architectures: this.architectures(),
        syscalls: [{ action: 'SCMP_ACT_ALLOW', names: this.names() }],
      },
    };
    if (opts.labels && Object.keys(opts.labels).length) r.metadata.labels = { ...opts.labels };
    if (opts.baseProfileName) r.spec.baseProfileName = opts.baseProfileName;
    return r;
  }
}
