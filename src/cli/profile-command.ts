import type { AuditRecord, SeccompLine } from '../../parsers';
import { failIfInputErrors, readRecords } from '../io/record-reader';
import { writeOutputFile, writeStdout } from '../io/stdout';
import { createLogger } from '../log';
import { invalidProfileName } from '../profile/names';
import { RUNC_BASE_SYSCALLS, RUNC_INIT_COMM, type RuntimeBase } from '../profile/runtime-base';
import { SeccompProfileBuilder } from '../profile/seccomp';
import { SelinuxProfileBuilder } from '../profile/selinux';
import { AppArmorProfileBuilder } from '../profile/apparmor';
import { toYaml } from '../profile/yaml';
import { list, parseTime, UsageError, type Command } from './command';

const FORMATS = ['oci', 'seccompprofile', 'selinuxprofile', 'cil', 'apparmor', 'apparmorprofile'] as const;
type Format = (typeof FORMATS)[number];

export const profileCommand: Command = {
  name: 'profile',
  summary:
    'Build a profile from the audit records in the input (like audit2allow): seccomp from type=SECCOMP records,\n' +
    'SELinux from AVC denials. Selection flags of the same kind are OR-ed, different kinds AND-ed.',
  usage: 'profile [options] [FILE...|-]',
  help: [
    '  --format F             oci (runtime-spec seccomp JSON, default), seccompprofile (SPO resource YAML),',
    '                         selinuxprofile (SPO resource YAML), cil (SELinux CIL module), apparmorprofile (SPO',
    '                         AppArmorProfile YAML from AppArmor ALLOWED/AUDIT records), apparmor (AppArmor profile text)',
    '  --name NAME            profile name (default "recorded"); a DNS-1123 subdomain',
    '  --base B               auto (default): add runc\'s base syscalls when the records show runc\'s init;',
    '                         runc: always add them; none: only what the records show',
    '  --pid PID              only records of this process (repeatable)',
    '  --ses SES              only records of this audit session (repeatable): a process and all it forks',
    '  --comm COMM            only records whose comm is COMM (repeatable)',
    '  --exe PATH             only records whose exe is PATH (repeatable)',
    '  --since TIME           only records at or after TIME (RFC 3339 or epoch seconds)',
    '  --until TIME           only records before TIME',
    '  -o, --output FILE      write to FILE instead of stdout',
  ].join('\n'),
  options: {
    format: { type: 'string' },
    name: { type: 'string' },
    base: { type: 'string' },
    pid: { type: 'string', multiple: true },
    ses: { type: 'string', multiple: true },
    comm: { type: 'string', multiple: true },
    exe: { type: 'string', multiple: true },
    since: { type: 'string' },
    until: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run(v, positionals) {
    const format = ((v.format as string | undefined) ?? 'oci') as Format;
    if (!FORMATS.includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}`);
    const base = ((v.base as string | undefined) ?? 'auto') as RuntimeBase;
    if (!['auto', 'runc', 'none'].includes(base)) throw new UsageError('--base must be auto, runc or none');
    const name = (v.name as string | undefined) ?? 'recorded';
    const bad = invalidProfileName(name);
    if (bad) throw new UsageError(`--name "${name}": ${bad}`);
    const ids = (flag: string) =>
      new Set(
        list(v[flag]).map((p) => {
          if (!/^\d+$/.test(p)) throw new UsageError(`--${flag} "${p}" is not a number`);
          return Number(p);
        }),
      );
    const pids = ids('pid');
    const sess = ids('ses');
    const comms = new Set(list(v.comm));
    const exes = new Set(list(v.exe));
    const since = parseTime('--since', v.since);
    const until = parseTime('--until', v.until);
    const selected = (r: AuditRecord) =>
      (pids.size === 0 || pids.has(r.int('pid') ?? -1)) &&
      (sess.size === 0 || sess.has(r.int('ses') ?? -1)) &&
      (comms.size === 0 || comms.has(r.str('comm') ?? '')) &&
      (exes.size === 0 || exes.has(r.str('exe') ?? '')) &&
      (since === undefined || r.timeMs >= since) &&
      (until === undefined || r.timeMs < until);
    // the same filter on a SECCOMP line read by the byte scanner (no value: -1 and '', as above)
    const lineSelected = (l: SeccompLine) =>
      (pids.size === 0 || pids.has(l.pid)) &&
      (sess.size === 0 || sess.has(l.ses)) &&
      (comms.size === 0 || comms.has(l.comm ?? '')) &&
      (exes.size === 0 || exes.has(l.exe ?? '')) &&
      (since === undefined || l.timeMs >= since) &&
      (until === undefined || l.timeMs < until);

    const log = createLogger('auditflow-profile');
    const seccomp = new SeccompProfileBuilder();
    const selinux = new SelinuxProfileBuilder();
    const apparmor = new AppArmorProfileBuilder();
    const wantSeccomp = format === 'oci' || format === 'seccompprofile';
    const wantAppArmor = format === 'apparmor' || format === 'apparmorprofile';
    let sawRunc = false;
    const stats = await readRecords(positionals.length ? positionals : ['-'], (r) => {
      if (!selected(r)) return;
      if (wantSeccomp && r.seccomp && r.syscall) {
        seccomp.add(r.syscall.arch, r.syscall.name, r.syscall.nr);
        if (!sawRunc && r.str('comm') === RUNC_INIT_COMM) sawRunc = true;
      }
      else if (wantAppArmor) apparmor.add(r);
      else if (!wantSeccomp && r.avc && r.avc.decision === 'denied') selinux.add(r.avc);
    }, {
      log,
      // The fast path of a recording's bulk: SECCOMP lines are taken from the byte scanner without a record
      // each, exactly as the callback above takes their records (its SyscallInfo is parseLine's).
      onSeccomp: (l) => {
        if (!wantSeccomp || !lineSelected(l)) return true;
        seccomp.add(l.syscall.arch, l.syscall.name, l.syscall.nr);
        if (!sawRunc && l.comm === RUNC_INIT_COMM) sawRunc = true;
        return true;
      },
    });

    for (const [key, n] of seccomp.unnamed) log.warn({ syscall: key, count: n }, 'syscall number without a name on its arch: left out of the profile');
    for (const [reason, n] of selinux.rejected) log.warn({ reason, count: n }, 'AVC left out of the profile');
    if (wantSeccomp && seccomp.size === 0) {
      failIfInputErrors(stats);
      log.error('no SECCOMP records matched: nothing to build a profile from');
      return 1;
    }
    for (const [reason, n] of apparmor.rejected) log.warn({ reason, count: n }, 'AppArmor record left out of the profile');
    if (wantAppArmor && apparmor.size === 0) {
      failIfInputErrors(stats);
      log.error('no AppArmor ALLOWED or AUDIT records matched: nothing to build a profile from');
      return 1;
    }
    if (!wantSeccomp && !wantAppArmor && selinux.size === 0) {
      failIfInputErrors(stats);
      log.error('no AVC denials matched: nothing to build a profile from');
      return 1;
    }
    if (wantSeccomp && (base === 'runc' || (base === 'auto' && sawRunc))) {
      // Counted as zero observations: the coverage annotation keeps saying what was actually recorded.
      for (const n of RUNC_BASE_SYSCALLS) seccomp.add(undefined, n, undefined, 0);
      log.info({ base: 'runc', syscalls: RUNC_BASE_SYSCALLS.length }, "added runc's base syscalls");
    }
    let text: string;
    switch (format) {
      case 'oci':
        text = JSON.stringify(seccomp.toOci(), null, 2) + '\n';
        break;
      case 'seccompprofile':
        text = toYaml(seccomp.toResource({ name }));
        break;
      case 'selinuxprofile':
        text = toYaml(selinux.toResource(name));
        break;
      case 'cil':
        text = selinux.toCil(name);
        break;
      case 'apparmorprofile':
        text = toYaml(apparmor.toResource(name));
        break;
      case 'apparmor':
        text = apparmor.toText(name);
        break;
    }
    if (v.output) await writeOutputFile(v.output as string, text);
    else await writeStdout(text);
    log.info({ format, syscalls: seccomp.size || undefined, selinuxTargets: selinux.size || undefined, records: seccomp.total || undefined }, 'profile built');
    // built from what could be read; an input that could not be read to its end still fails the command
    failIfInputErrors(stats);
    return 0;
  },
};
