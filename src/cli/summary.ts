// The `--summary` table: what a log holds at a glance (records by type, kind and seccomp action, the top
// syscalls and SELinux/AppArmor denials) and every line that was not a record, by reason.

import type { AuditRecord, SeccompLine } from '../../parsers';
import { errorCount, type ReadStats } from '../io/record-reader';
import { terminalText } from '../io/terminal-text';

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

export class Summary {
  readonly byType = new Map<string, number>();
  readonly byKind = new Map<string, number>();
  readonly byAction = new Map<string, number>();
  readonly bySyscall = new Map<string, number>();
  readonly denials = new Map<string, number>();

  add(r: AuditRecord): void {
    bump(this.byType, r.type);
    bump(this.byKind, r.kind);
    if (r.seccomp) {
      bump(this.byAction, r.seccomp.action);
      const s = r.syscall!;
      bump(this.bySyscall, `${s.name ?? '#' + s.nr} (${s.arch ?? r.fields.get('arch') ?? '?'})`);
    }
    if (r.avc?.decision === 'denied') {
      bump(this.denials, `selinux ${r.avc.source?.type ?? '?'} → ${r.avc.target?.type ?? '?'} ${r.avc.tclass ?? '?'} { ${r.avc.permissions.join(' ')} }`);
    }
    if (r.apparmor && r.apparmor.apparmor === 'DENIED') {
      bump(this.denials, `apparmor ${r.apparmor.profile ?? '?'} ${r.apparmor.operation ?? '?'} ${r.apparmor.deniedMask ?? ''}`.trimEnd());
    }
  }

  /** A SECCOMP line from the byte hot path: counted exactly as add() counts its record. */
  addSeccomp(l: SeccompLine): void {
    bump(this.byType, 'SECCOMP');
    bump(this.byKind, 'seccomp');
    bump(this.byAction, l.action);
    const s = l.syscall;
    bump(this.bySyscall, `${s.name ?? '#' + s.nr} (${s.arch ?? s.auditArch ?? '?'})`);
  }

  render(stats: ReadStats, seconds: number, top = 10): string {
    const out: string[] = [];
    const section = (title: string, m: Map<string, number>, limit = Infinity) => {
      if (m.size === 0) return;
      // keys hold names from the log (comm, exe, AppArmor profiles, SELinux types): escaped for the terminal
      const rows = [...m.entries()].map(([k, v]): [string, number] => [terminalText(k), v]).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      const shown = rows.slice(0, limit);
      const w = Math.max(...shown.map(([k]) => k.length), title.length);
      out.push('', `${title.padEnd(w)}  ${'count'.padStart(9)}`, `${'-'.repeat(w)}  ${'-'.repeat(9)}`);
      for (const [k, v] of shown) out.push(`${k.padEnd(w)}  ${String(v).padStart(9)}`);
      if (rows.length > shown.length) out.push(`(${rows.length - shown.length} more)`);
    };
    const rate = seconds > 0 ? Math.round(stats.lines / seconds) : 0;
    out.push(
      `lines ${stats.lines}  records ${stats.records}  parse errors ${errorCount(stats)}  not audit ${stats.notAudit}  ` +
        `suppressed by kernel ${stats.suppressed}  invalid UTF-8 ${stats.invalidUtf8}  (${seconds.toFixed(2)} s, ${rate} lines/s)`,
    );
    section('record type', this.byType);
    section('kind', this.byKind);
    section('seccomp action', this.byAction);
    section(`top syscalls`, this.bySyscall, top);
    section('top denials', this.denials, top);
    const errs = new Map<string, number>();
    for (const [k, v] of stats.errors) errs.set(k, v);
    section('parse error', errs);
    return out.join('\n') + '\n';
  }
}
