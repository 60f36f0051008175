// AppArmor records → SPO's AppArmorProfile in its structured form (spec.abstract: executable, filesystem,
// network, capability), like audit2allow/aa-logprof for complain mode: what ALLOWED (complain) and AUDIT records
// show the program did. DENIED records are left out: they are what the current profile refused, not what the
// workload was seen doing unhindered. Evidence (per rule, how many records) goes in an annotation.

import type { AuditRecord } from '../../parsers';
import { type AppArmorAbstract, appArmorProfileText } from './apparmor-text';
import { SPO_GROUP_VERSION } from './seccomp';

export interface AppArmorProfileResource {
  apiVersion: string;
  kind: 'AppArmorProfile';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: { abstract: AppArmorAbstract };
}

export const ANNOTATION_APPARMOR_EVIDENCE = 'auditflow.dev/apparmor-evidence';

const KEEP = new Set(['ALLOWED', 'AUDIT']);
// Paths become rules in the profile text: absolute, nothing that could end a rule (see agent/apparmor.ts).
const PATH = /^\/[^\s"'{}(),\\\x00]*$/;
const LIB = /\/lib[^/]*\/.*\.so(\.[0-9.]+)?$|\.so(\.[0-9.]+)?$/;
const READ = /[rl]/;
const WRITE = /[wacdD]/;

export class AppArmorProfileBuilder {
  private readonly exec = new Set<string>();
  private readonly libs = new Set<string>();
  private readonly read = new Set<string>();
  private readonly write = new Set<string>();
  private tcp = false;
  private udp = false;
  private raw = false;
  private readonly caps = new Set<string>();
  /** rule → records seen (the evidence). */
  readonly evidence = new Map<string, number>();
  /** Records left out, by reason. */
  readonly rejected = new Map<string, number>();
  total = 0;

  private note(rule: string): void {
    this.evidence.set(rule, (this.evidence.get(rule) ?? 0) + 1);
    this.total++;
  }

  private reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  add(r: AuditRecord): void {
    const a = r.apparmor;
    if (!a) return;
    if (!KEEP.has(a.apparmor)) return this.reject(`apparmor=${a.apparmor}`);
    const op = a.operation ?? '';
    if (op === 'capable') {
      const cap = r.str('capname');
      if (!cap || !/^[a-z_]+$/.test(cap)) return this.reject('capability without capname');
      this.caps.add(cap);
      return this.note(`capability ${cap}`);
    }
    const sockType = r.str('sock_type');
    const family = r.str('family');
    if (sockType || (family && !a.name)) {
      if (sockType === 'stream') this.tcp = true;
      else if (sockType === 'dgram') this.udp = true;
      else if (sockType === 'raw') this.raw = true;
      else return this.reject(`socket type ${sockType ?? 'none'}`);
      return this.note(`network ${sockType === 'stream' ? 'tcp' : sockType === 'dgram' ? 'udp' : 'raw'}`);
    }
    const name = a.name;
    if (!name || !name.startsWith('/')) return this.reject(`operation ${op || 'none'} without a path`);
    if (!PATH.test(name) || name.length > 4096) return this.reject('path AppArmor rules cannot take verbatim');
    const mask = a.requestedMask ?? '';
    if (op === 'exec' || (mask.includes('x') && !mask.includes('m'))) {
      this.exec.add(name);
      return this.note(`exec ${name}`);
    }
    if (mask.includes('m') || (op === 'file_mmap' && LIB.test(name))) {
      this.libs.add(name);
      return this.note(`lib ${name}`);
    }
    const r_ = READ.test(mask);
    const w_ = WRITE.test(mask);
    if (!r_ && !w_) return this.reject(`operation ${op} with mask "${mask}"`);
    if (r_) this.read.add(name);
    if (w_) this.write.add(name);
    this.note(`${r_ && w_ ? 'rw' : r_ ? 'r' : 'w'} ${name}`);
  }

  get size(): number {
    return this.evidence.size;
  }

  toAbstract(): AppArmorAbstract {
    const sorted = (s: Set<string>) => [...s].sort();
    const rw = new Set([...this.read].filter((p) => this.write.has(p)));
    const out: AppArmorAbstract = {};
    if (this.exec.size || this.libs.size) {
      out.executable = {};
      if (this.exec.size) out.executable.allowedExecutables = sorted(this.exec);
      if (this.libs.size) out.executable.allowedLibraries = sorted(this.libs);
    }
    const ro = [...this.read].filter((p) => !rw.has(p));
    const wo = [...this.write].filter((p) => !rw.has(p));
    if (ro.length || wo.length || rw.size) {
      out.filesystem = {};
      if (ro.length) out.filesystem.readOnlyPaths = ro.sort();
      if (wo.length) out.filesystem.writeOnlyPaths = wo.sort();
      if (rw.size) out.filesystem.readWritePaths = sorted(rw);
    }
    if (this.tcp || this.udp || this.raw) {
      out.network = {};
      if (this.raw) out.network.allowRaw = true;
      if (this.tcp || this.udp) out.network.allowedProtocols = { ...(this.tcp ? { allowTcp: true } : {}), ...(this.udp ? { allowUdp: true } : {}) };
    }
    if (this.caps.size) out.capability = { allowedCapabilities: sorted(this.caps) };
    return out;
  }

  /** SPO's AppArmorProfile (mode Enforce, state left to SPO's default), with the evidence annotation. */
  toResource(name: string, labels?: Record<string, string>): AppArmorProfileResource {
    const r: AppArmorProfileResource = {
      apiVersion: SPO_GROUP_VERSION,
      kind: 'AppArmorProfile',
      metadata: { name, annotations: { [ANNOTATION_APPARMOR_EVIDENCE]: JSON.stringify({ version: 'v1', total: this.total, rules: Object.fromEntries([...this.evidence].sort()) }) } },
      spec: { abstract: this.toAbstract() },
    };
    if (labels && Object.keys(labels).length) r.metadata.labels = { ...labels };
    return r;
  }

  /** The AppArmor profile text the node agent would load (apparmor_parser input). */
  toText(name: string): string {
    return appArmorProfileText({ metadata: { name }, spec: { abstract: this.toAbstract() } });
  }
}
