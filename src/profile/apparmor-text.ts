// SPO's AppArmorProfile abstract rendered as AppArmor profile text. Every name, path and capability is checked
// against what one rule can hold, so a recorded (workload-chosen) path cannot end a rule or open another.

/** SPO's AppArmorProfile in its structured form (spec.abstract). */
export interface AppArmorAbstract {
  executable?: { allowedExecutables?: string[]; allowedLibraries?: string[] };
  filesystem?: { readOnlyPaths?: string[]; writeOnlyPaths?: string[]; readWritePaths?: string[] };
  network?: { allowRaw?: boolean; allowedProtocols?: { allowTcp?: boolean; allowUdp?: boolean } };
  capability?: { allowedCapabilities?: string[] };
}
/** What the text is rendered from: an AppArmorProfile resource, or a recorded profile before it becomes one. */
export interface AppArmorProfileSource {
  metadata: { name: string };
  spec: { abstract?: AppArmorAbstract; mode?: 'Enforce' | 'Complain' };
}

export class AppArmorError extends Error {}

const NAME = /^[A-Za-z0-9][-A-Za-z0-9_.]*$/;
// Paths go into the profile text: absolute, no whitespace, quotes, braces, commas or NULs that could end a rule.
const PATH = /^\/[^\s"'{}(),\\\x00]*$/;
const CAP = /^[a-z_]+$/;

function checkPaths(what: string, list: string[] | undefined): string[] {
  const out = [...new Set(list ?? [])].sort();
  for (const p of out) if (!PATH.test(p) || p.length > 4096) throw new AppArmorError(`${what}: "${p.slice(0, 100)}" is not an absolute path AppArmor can take`);
  return out;
}

/**
 * The AppArmor profile text of an AppArmorProfile's abstract, as SPO renders it: executables get `ix`,
 * libraries `mr`, paths r/w/rw, network tcp/udp/raw, capabilities; Complain mode as the profile flag.
 */
export function appArmorProfileText(p: AppArmorProfileSource): string {
  const name = p.metadata.name;
  if (!NAME.test(name) || name.length > 253) throw new AppArmorError(`name "${name}" cannot be an AppArmor profile name`);
  const a = p.spec.abstract ?? {};
  const flags = ['attach_disconnected', 'mediate_deleted', ...(p.spec.mode === 'Complain' ? ['complain'] : [])];
  const lines = ['#include <tunables/global>', '', `profile ${name} flags=(${flags.join(',')}) {`];
  for (const e of checkPaths('allowedExecutables', a.executable?.allowedExecutables)) lines.push(`  ${e} ix,`);
  for (const l of checkPaths('allowedLibraries', a.executable?.allowedLibraries)) lines.push(`  ${l} mr,`);
  for (const r of checkPaths('readOnlyPaths', a.filesystem?.readOnlyPaths)) lines.push(`  ${r} r,`);
  for (const w of checkPaths('writeOnlyPaths', a.filesystem?.writeOnlyPaths)) lines.push(`  ${w} w,`);
  for (const rw of checkPaths('readWritePaths', a.filesystem?.readWritePaths)) lines.push(`  ${rw} rw,`);
  const n = a.network ?? {};
  if (n.allowRaw) lines.push('  network raw,');
  if (n.allowedProtocols?.allowTcp) lines.push('  network tcp,');
  if (n.allowedProtocols?.allowUdp) lines.push('  network udp,');
  for (const c of [...new Set(a.capability?.allowedCapabilities ?? [])].sort()) {
    if (!CAP.test(c)) throw new AppArmorError(`capability "${c.slice(0, 64)}" is not a capability name`);
    lines.push(`  capability ${c},`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

