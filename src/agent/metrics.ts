// Node agent metrics (auditflow_agent_*).

import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics';

export const fileOps = new Counter({
  name: 'auditflow_agent_profile_files_total',
  help: 'Profile files on this node by kind and operation (written, unchanged, removed, kept: deletion waits for pods using it)',
  labelNames: ['kind', 'op'] as const,
  registers: [registry],
});

export const profileErrors = new Counter({
  name: 'auditflow_agent_profile_errors_total',
  help: 'Profiles this node could not install, by kind and reason (invalid-name, stack, cil, semodule, write)',
  labelNames: ['kind', 'reason'] as const,
  registers: [registry],
});

export const ociRetries = new Counter({
  name: 'auditflow_agent_oci_base_retries_total',
  help: 'Timed reconciles scheduled because an oci:// base profile could not be pulled or verified',
  registers: [registry],
});

export const nodeStates = new Gauge({
  name: 'auditflow_agent_profiles',
  help: "Profiles by kind and this node's state (Installed, Error, Terminating, Pending, Unsupported)",
  labelNames: ['kind', 'state'] as const,
  registers: [registry],
});

// SPO's daemon metrics, SPO's names and label names (internal/pkg/daemon/metrics): operation update|delete per
// profile installed/removed on this node, and errors by reason (AppArmor: by profile and reason).
const spoOps = (kind: string) =>
  new Counter({ name: `security_profiles_operator_${kind}_profile_total`, help: `Counter about ${kind} profile operations (SPO name).`, labelNames: ['operation'] as const, registers: [registry] });
export const spoProfileOps = { SeccompProfile: spoOps('seccomp'), SelinuxProfile: spoOps('selinux'), AppArmorProfile: spoOps('apparmor') };
const spoErr = (kind: string) =>
  new Counter({ name: `security_profiles_operator_${kind}_profile_error_total`, help: `Counter about ${kind} profile errors (SPO name).`, labelNames: ['reason'] as const, registers: [registry] });
export const spoProfileErrors = {
  SeccompProfile: spoErr('seccomp'),
  SelinuxProfile: spoErr('selinux'),
  AppArmorProfile: new Counter({ name: 'security_profiles_operator_apparmor_profile_error_total', help: 'Counter about apparmor profile errors (SPO name).', labelNames: ['profile', 'reason'] as const, registers: [registry] }),
};

/** SPO's metric of a kind (RawSelinuxProfile counts as selinux, as SPO does). */
export function spoKind(kind: string): 'SeccompProfile' | 'SelinuxProfile' | 'AppArmorProfile' {
  return kind === 'SeccompProfile' ? kind : kind === 'AppArmorProfile' ? kind : 'SelinuxProfile';
}
