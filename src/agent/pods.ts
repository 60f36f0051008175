// Which profiles the pods on this node use. A profile file must stay while a pod still references it:
// kubelet reads it again whenever a container of the pod (re)starts.

export interface SecurityContextLike {
  seccompProfile?: { type?: string; localhostProfile?: string };
  seLinuxOptions?: { type?: string };
  appArmorProfile?: { type?: string; localhostProfile?: string };
}

export interface PodLike {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: {
    nodeName?: string;
    securityContext?: SecurityContextLike;
    containers?: { securityContext?: SecurityContextLike }[];
    initContainers?: { securityContext?: SecurityContextLike }[];
    ephemeralContainers?: { securityContext?: SecurityContextLike }[];
  };
  status?: { phase?: string };
}

const OPERATOR_PREFIX = 'operator/';

/** `operator/<name>.json` → `<name>`; anything else (other directories, other files) → undefined. */
export function profileNameOfLocalhost(localhostProfile: string | undefined): string | undefined {
  if (!localhostProfile?.startsWith(OPERATOR_PREFIX) || !localhostProfile.endsWith('.json')) return undefined;
  const name = localhostProfile.slice(OPERATOR_PREFIX.length, -'.json'.length);
  return name === '' || name.includes('/') ? undefined : name;
}

function contexts(pod: PodLike): SecurityContextLike[] {
  const s = pod.spec ?? {};
  const out: SecurityContextLike[] = [];
  if (s.securityContext) out.push(s.securityContext);
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? []), ...(s.ephemeralContainers ?? [])]) if (c.securityContext) out.push(c.securityContext);
  return out;
}

/** A pod that finished holds no container that could start again. */
export function podIsDone(pod: PodLike): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Names of the SeccompProfiles a pod uses through `localhostProfile: operator/<name>.json`. */
export function seccompProfilesOf(pod: PodLike): Set<string> {
  const out = new Set<string>();
  if (podIsDone(pod)) return out;
  for (const c of contexts(pod)) {
    if (c.seccompProfile?.type !== 'Localhost') continue;
    const n = profileNameOfLocalhost(c.seccompProfile.localhostProfile);
    if (n) out.add(n);
  }
  return out;
}

/** Names of the SelinuxProfiles a pod uses through `seLinuxOptions.type: <name>.process`. */
export function selinuxProfilesOf(pod: PodLike): Set<string> {
  const out = new Set<string>();
  if (podIsDone(pod)) return out;
  for (const c of contexts(pod)) {
    const t = c.seLinuxOptions?.type;
    if (t?.endsWith('.process')) out.add(t.slice(0, -'.process'.length));
  }
  return out;
}

const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';

/** Names of the AppArmor profiles a pod uses: appArmorProfile Localhost, or the older annotation localhost/<name>. */
export function appArmorProfilesOf(pod: PodLike): Set<string> {
  const out = new Set<string>();
  if (podIsDone(pod)) return out;
  for (const c of contexts(pod)) {
    if (c.appArmorProfile?.type === 'Localhost' && c.appArmorProfile.localhostProfile) out.add(c.appArmorProfile.localhostProfile);
  }
  for (const [k, v] of Object.entries(pod.metadata.annotations ?? {})) {
    if (k.startsWith(APPARMOR_ANNOTATION) && v.startsWith('localhost/')) out.add(v.slice('localhost/'.length));
  }
  return out;
}

export const podKey = (p: PodLike) => `${p.metadata.namespace ?? ''}/${p.metadata.name}`;
