// SELinux policy from AVC denials, like audit2allow: allow rules keyed by target type, object class and
// permissions, rendered as the Security Profiles Operator's SelinuxProfile resource or as a CIL module.
// Pure, and a set union like the seccomp builder.

import type { AvcInfo } from '../../parsers';
import { SPO_GROUP_VERSION } from './seccomp';

/** SPO's placeholder for the profile's own process type (when a domain acts on itself). */
export const SELF = '@self';

export interface SelinuxProfileResource {
  apiVersion: string;
  kind: 'SelinuxProfile';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    inherit: Array<{ kind: string; name: string }>;
    allow: Record<string, Record<string, string[]>>;
  };
}

// SELinux type, class and permission names from a log become CIL text (and SelinuxProfile keys), so only
// what CIL accepts as a name is kept; anything else is refused (counted in `rejected`), never written into
// policy text. CIL names (libsepol cil_verify_name): a letter, then letters, digits, "_" and "-", under
// 2048 characters. Types may be dot-qualified (a block's type: my_container.process); classes and
// permissions may not. Words that mean something else in an allow rule (self: the source; all: every
// permission; and/or/not/xor…: an expression) are not names, nor is SPO's "@self" placeholder.
const CIL_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;
const CIL_TYPE = /^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z][A-Za-z0-9_-]*)*$/;
const CIL_MAX_NAME = 2047;
const CIL_RESERVED = new Set(['self', 'all', 'and', 'or', 'not', 'xor', 'eq', 'neq', 'dom', 'domby', 'incomp', 'range']);

/** Whether `s` can be written into CIL as a type (`qualified`: dots allowed) or a class/permission name. */
export function isCilName(s: string, qualified = false): boolean {
  return s.length <= CIL_MAX_NAME && (qualified ? CIL_TYPE : CIL_NAME).test(s) && !CIL_RESERVED.has(s);
}

export class SelinuxProfileBuilder {
  private readonly allow = new Map<string, Map<string, Set<string>>>();
  readonly sourceTypes = new Set<string>();
  /** AVCs (or their permissions) that could not be used (no target type or class, not CIL names), by reason. */
  readonly rejected = new Map<string, number>();

  add(avc: AvcInfo): void {
    const src = avc.source?.type;
    const tgt = avc.target?.type;
    const cls = avc.tclass;
    // a record cut short (parsers: a `truncated` error's partial) may name a cut type or class
    if (avc.truncated) return this.reject('record cut short');
    if (!src || !tgt || !cls) return this.reject('missing scontext, tcontext or tclass');
    if (!isCilName(src, true) || !isCilName(tgt, true)) return this.reject('type is not a CIL name');
    if (!isCilName(cls)) return this.reject('class is not a CIL name');
    const perms = avc.permissions.filter((p) => isCilName(p));
    if (perms.length < avc.permissions.length) this.reject('permission is not a CIL name', avc.permissions.length - perms.length);
    if (perms.length === 0) return this.reject('no permissions');
    this.sourceTypes.add(src);
    const key = tgt === src ? SELF : tgt;
    let byClass = this.allow.get(key);
    if (!byClass) this.allow.set(key, (byClass = new Map()));
    let set = byClass.get(cls);
    if (!set) byClass.set(cls, (set = new Set()));
    for (const p of perms) set.add(p);
  }

  private reject(reason: string, n = 1): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + n);
  }

  get size(): number {
    return this.allow.size;
  }

  rules(): Record<string, Record<string, string[]>> {
    const out: Record<string, Record<string, string[]>> = {};
    for (const t of [...this.allow.keys()].sort()) {
      const byClass = this.allow.get(t)!;
      const c: Record<string, string[]> = {};
      for (const cls of [...byClass.keys()].sort()) c[cls] = [...byClass.get(cls)!].sort();
      out[t] = c;
    }
    return out;
  }

  toResource(name: string, labels?: Record<string, string>): SelinuxProfileResource {
    const r: SelinuxProfileResource = {
      apiVersion: SPO_GROUP_VERSION,
      kind: 'SelinuxProfile',
      metadata: { name },
      spec: { inherit: [{ kind: 'System', name: 'container' }], allow: this.rules() },
    };
    if (labels && Object.keys(labels).length) r.metadata.labels = { ...labels };
    return r;
  }

  /** A CIL module: a block inheriting the container template, as SPO and udica build them. */
  toCil(name: string): string {
    const lines = [`(block ${name}`, '    (blockinherit container)'];
    for (const [tgt, byClass] of Object.entries(this.rules())) {
      const target = tgt === SELF ? 'process' : tgt;
      for (const [cls, perms] of Object.entries(byClass)) {
        lines.push(`    (allow process ${target} ( ${cls} ( ${perms.join(' ')} )))`);
      }
    }
    lines.push(')');
    return lines.join('\n') + '\n';
  }
}
