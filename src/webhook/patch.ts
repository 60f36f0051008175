// JSON Patch (RFC 6902) for the changes the webhooks make to a pod: security-context fields of containers
// and of the pod, and annotations. Paths are built from fixed segments, list indices and escaped keys
// (RFC 6901: ~ → ~0, / → ~1), values are JSON values: nothing a pod author controls (names, images,
// annotation keys) can change the structure of the patch.

export interface PatchOp {
  op: 'add' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

export type ContainerList = 'containers' | 'initContainers';

export interface ContainerLike {
  name?: string;
  image?: string;
  securityContext?: Record<string, unknown> & {
    privileged?: boolean;
    seccompProfile?: { type?: string; localhostProfile?: string };
    seLinuxOptions?: { type?: string; [k: string]: unknown };
  };
}

export interface PodLike {
  metadata?: { name?: string; generateName?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    os?: { name?: string };
    securityContext?: Record<string, unknown> & { seccompProfile?: { type?: string; localhostProfile?: string }; seLinuxOptions?: { type?: string } };
    containers?: ContainerLike[];
    initContainers?: ContainerLike[];
  };
}

/** Collects changes against the original pod and writes them as the fewest add operations. */
export class PodPatch {
  private readonly annotations = new Map<string, string>();
  private readonly podFields = new Map<string, unknown>();
  private readonly containerFields = new Map<string, Map<string, unknown>>();

  constructor(private readonly pod: PodLike) {}

  get empty(): boolean {
    return this.annotations.size === 0 && this.podFields.size === 0 && this.containerFields.size === 0;
  }

  annotation(key: string): string | undefined {
    return this.annotations.get(key) ?? this.pod.metadata?.annotations?.[key];
  }

  setAnnotation(key: string, value: string): void {
    this.annotations.set(key, value);
  }

  /** A field of a container's securityContext as it will be after the patch. */
  containerField(list: ContainerList, i: number, field: string): unknown {
    const k = `${list}/${i}`;
    const m = this.containerFields.get(k);
    if (m?.has(field)) return m.get(field);
    return this.pod.spec?.[list]?.[i]?.securityContext?.[field];
  }

  setContainerField(list: ContainerList, i: number, field: string, value: unknown): void {
    const k = `${list}/${i}`;
    let m = this.containerFields.get(k);
    if (!m) this.containerFields.set(k, (m = new Map()));
    m.set(field, value);
  }

  podField(field: string): unknown {
    return this.podFields.has(field) ? this.podFields.get(field) : this.pod.spec?.securityContext?.[field];
  }

  setPodField(field: string, value: unknown): void {
    this.podFields.set(field, value);
  }

  ops(): PatchOp[] {
    const out: PatchOp[] = [];
    if (this.annotations.size) {
      if (!this.pod.metadata?.annotations || typeof this.pod.metadata.annotations !== 'object') {
        out.push({ op: 'add', path: '/metadata/annotations', value: Object.fromEntries(this.annotations) });
      } else {
        for (const [k, v] of this.annotations) out.push({ op: 'add', path: `/metadata/annotations/${escapePointer(k)}`, value: v });
      }
    }
    if (this.podFields.size) {
      const sc = this.pod.spec?.securityContext;
      if (!sc || typeof sc !== 'object') out.push({ op: 'add', path: '/spec/securityContext', value: Object.fromEntries(this.podFields) });
      else for (const [f, v] of this.podFields) out.push({ op: 'add', path: `/spec/securityContext/${escapePointer(f)}`, value: v });
    }
    for (const [k, fields] of this.containerFields) {
      const [list, idx] = k.split('/') as [ContainerList, string];
      const i = Number(idx);
      const base = `/spec/${list}/${i}`;
      const sc = this.pod.spec?.[list]?.[i]?.securityContext;
      if (!sc || typeof sc !== 'object') out.push({ op: 'add', path: `${base}/securityContext`, value: Object.fromEntries(fields) });
      else for (const [f, v] of fields) out.push({ op: 'add', path: `${base}/securityContext/${escapePointer(f)}`, value: v });
    }
    return out;
  }
}

/** Every container a profile can apply to, with where it is: init containers first, as the pod starts them. */
export function containersOf(pod: PodLike): { list: ContainerList; index: number; c: ContainerLike }[] {
  const out: { list: ContainerList; index: number; c: ContainerLike }[] = [];
  for (const list of ['initContainers', 'containers'] as const) {
    const cs = pod.spec?.[list];
    if (!Array.isArray(cs)) continue;
    cs.forEach((c, index) => {
      if (c && typeof c === 'object') out.push({ list, index, c });
    });
  }
  return out;
}
