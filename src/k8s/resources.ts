// REST paths of the resources auditflow touches, so no controller builds URLs by hand.

import { GROUP, NODE_STATUS_VERSION, VERSION } from './api';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

export const SECCOMP_PROFILES: ResourceType = { group: GROUP, version: VERSION, plural: 'seccompprofiles', kind: 'SeccompProfile', namespaced: false };
export const SELINUX_PROFILES: ResourceType = { group: GROUP, version: VERSION, plural: 'selinuxprofiles', kind: 'SelinuxProfile', namespaced: false };
export const PROFILE_RECORDINGS: ResourceType = { group: GROUP, version: VERSION, plural: 'profilerecordings', kind: 'ProfileRecording', namespaced: true };
export const RAW_SELINUX_PROFILES: ResourceType = { group: GROUP, version: VERSION, plural: 'rawselinuxprofiles', kind: 'RawSelinuxProfile', namespaced: false };
export const APPARMOR_PROFILES: ResourceType = { group: GROUP, version: VERSION, plural: 'apparmorprofiles', kind: 'AppArmorProfile', namespaced: false };
export const PROFILE_BINDINGS: ResourceType = { group: GROUP, version: VERSION, plural: 'profilebindings', kind: 'ProfileBinding', namespaced: true };
export const NODE_STATUSES: ResourceType = {
  group: GROUP,
  version: NODE_STATUS_VERSION,
  plural: 'securityprofilenodestatuses',
  kind: 'SecurityProfileNodeStatus',
  namespaced: false,
};
export const PODS: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true };

/**
 * The collection path (`name` undefined) or one object's path, optionally a subresource. For a namespaced
 * type, `namespace` undefined means all namespaces (lists and watches only).
 */
export function resourcePath(t: ResourceType, opts: { namespace?: string | undefined; name?: string; subresource?: string } = {}): string {
  let p = t.group === '' ? `/api/${t.version}` : `/apis/${t.group}/${t.version}`;
  if (t.namespaced && opts.namespace !== undefined) p += `/namespaces/${encodeURIComponent(opts.namespace)}`;
  p += `/${t.plural}`;
  if (opts.name !== undefined) {
    if (t.namespaced && opts.namespace === undefined) throw new Error(`${t.kind} ${opts.name}: a namespace is required`);
    p += `/${encodeURIComponent(opts.name)}`;
    if (opts.subresource) p += `/${opts.subresource}`;
  }
  return p;
}

export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}
