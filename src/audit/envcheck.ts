// Start-up (and periodic) check of what decides whether audit records reach us at all, logged and exported:
// - auditd is the audit daemon registered with the kernel (else records go to the kernel log, rate limited);
// - /proc/sys/kernel/seccomp/actions_logged contains `log` (else SECCOMP_RET_LOG writes nothing);
// - the kernel's backlog limit and its `lost` counter (records dropped before any daemon saw them);
// - kernel printk rate limiting, which drops audit lines going to the kernel log without auditd
//   (`kauditd_printk_skb: N callbacks suppressed`; the pipeline counts those N as lost records).
// Every probe tolerates a missing tool or file: it says "unknown" and the pipeline runs on.
import { execFile } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from '../log';
import { registry } from '../metrics';

export interface AuditStatus {
  enabled: number;
  pid: number;
  rateLimit: number;
  backlogLimit: number;
  lost: number;
  backlog: number;
}

export interface EnvReport {
  /** null: could not tell (no auditctl, not root) */
  auditdRegistered: boolean | null;
  /** comm of the registered audit pid, when there is one */
  auditDaemon: string | null;
  audit: AuditStatus | null;
  auditError: string | null;
  seccompActionsLogged: string[] | null;
  seccompLogEnabled: boolean | null;
  /** /proc/sys/kernel/printk_ratelimit (s) and printk_ratelimit_burst */
  printkRatelimit: { intervalS: number; burst: number } | null;
  problems: string[];
}

export const envMetrics = {
  auditdRegistered: new Gauge({
    name: 'auditflow_env_auditd_registered',
    help: '1 when auditd is the audit daemon registered with the kernel, 0 when not (records then go to the rate-limited kernel log), -1 unknown',
    registers: [registry],
  }),
  seccompLog: new Gauge({
    name: 'auditflow_env_seccomp_actions_logged_log',
    help: '1 when /proc/sys/kernel/seccomp/actions_logged contains "log" (SECCOMP_RET_LOG is audited), 0 when not, -1 unknown',
    registers: [registry],
  }),
  backlogLimit: new Gauge({ name: 'auditflow_env_audit_backlog_limit', help: 'The kernel audit backlog limit (auditctl -s backlog_limit)', registers: [registry] }),
  backlog: new Gauge({ name: 'auditflow_env_audit_backlog', help: 'Audit records queued in the kernel (auditctl -s backlog)', registers: [registry] }),
  kernelLost: new Gauge({
    name: 'auditflow_env_audit_kernel_lost',
    help: 'Audit records the kernel dropped since boot (auditctl -s lost): backlog overflow or rate limit, before any daemon saw them',
    registers: [registry],
  }),
  printkRatelimit: new Gauge({
    name: 'auditflow_env_printk_ratelimit_seconds',
    help: 'Kernel printk rate-limit interval (/proc/sys/kernel/printk_ratelimit): audit lines in the kernel log beyond the burst are suppressed',
    registers: [registry],
  }),
  printkSuppressed: new Counter({
    name: 'auditflow_audit_printk_suppressed_total',
    help: 'Audit records lost to kernel printk rate limiting, from "kauditd_printk_skb: N callbacks suppressed" lines read',
    registers: [registry],
  }),
};

function run(file: string, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${(stderr || err.message).trim()}`));
      else resolve(stdout);
    });
  });
}

/** Parses `auditctl -s` output (`enabled 1`, `pid 7057`, `lost 0`, ...). */
export function parseAuditctlStatus(text: string): AuditStatus | null {
  const v: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line.trim());
    if (m) v[m[1]!] = Number(m[2]);
  }
  if (v['enabled'] === undefined || v['lost'] === undefined) return null;
  return {
    enabled: v['enabled'],
    pid: v['pid'] ?? 0,
    rateLimit: v['rate_limit'] ?? 0,
    backlogLimit: v['backlog_limit'] ?? 0,
    lost: v['lost'],
    backlog: v['backlog'] ?? 0,
  };
}

async function readText(p: string): Promise<string | null> {
  try {
    return await fsp.readFile(p, 'utf8');
  } catch {
    return null;
  }
}

export interface EnvCheckOptions {
  procRoot?: string;
  /** the auditctl binary; default found on PATH */
  auditctl?: string;
}

export async function checkEnvironment(opts: EnvCheckOptions = {}): Promise<EnvReport> {
  const proc = opts.procRoot ?? '/proc';
  const problems: string[] = [];
  let audit: AuditStatus | null = null;
  let auditError: string | null = null;
  try {
    audit = parseAuditctlStatus(await run(opts.auditctl ?? 'auditctl', ['-s']));
    if (!audit) auditError = 'auditctl -s printed no status';
  } catch (err) {
    auditError = (err as Error).message;
  }
  let auditDaemon: string | null = null;
  let auditdRegistered: boolean | null = null;
  if (audit) {
    if (audit.pid > 0) auditDaemon = ((await readText(path.join(proc, String(audit.pid), 'comm'))) ?? '').trim() || null;
    auditdRegistered = auditDaemon === 'auditd';
    if (!auditdRegistered) {
      problems.push(
        audit.pid > 0
          ? `the registered audit daemon is pid ${audit.pid} (${auditDaemon ?? 'gone'}), not auditd: audit.log gets nothing`
          : 'no audit daemon is registered: records go to the kernel log, where printk rate limiting drops them',
      );
    }
    if (audit.enabled === 0) problems.push('auditing is disabled (auditctl -s: enabled 0)');
    if (audit.lost > 0) problems.push(`the kernel has lost ${audit.lost} audit records since boot (backlog_limit ${audit.backlogLimit}, rate_limit ${audit.rateLimit})`);
  } else {
    problems.push(`audit status unknown: ${auditError}`);
  }
  const al = await readText(path.join(proc, 'sys/kernel/seccomp/actions_logged'));
  const seccompActionsLogged = al === null ? null : al.trim().split(/\s+/).filter(Boolean);
  const seccompLogEnabled = seccompActionsLogged === null ? null : seccompActionsLogged.includes('log');
  if (seccompLogEnabled === false) problems.push(`/proc/sys/kernel/seccomp/actions_logged (${al!.trim()}) lacks "log": SCMP_ACT_LOG profiles record nothing`);
  if (seccompLogEnabled === null) problems.push('/proc/sys/kernel/seccomp/actions_logged is unreadable: seccomp logging unknown');
  const rl = await readText(path.join(proc, 'sys/kernel/printk_ratelimit'));
  const burst = await readText(path.join(proc, 'sys/kernel/printk_ratelimit_burst'));
  const printkRatelimit = rl !== null && burst !== null ? { intervalS: Number(rl.trim()), burst: Number(burst.trim()) } : null;
  return { auditdRegistered, auditDaemon, audit, auditError, seccompActionsLogged, seccompLogEnabled, printkRatelimit, problems };
}

export function exportEnvReport(r: EnvReport): void {
  envMetrics.auditdRegistered.set(r.auditdRegistered === null ? -1 : r.auditdRegistered ? 1 : 0);
  envMetrics.seccompLog.set(r.seccompLogEnabled === null ? -1 : r.seccompLogEnabled ? 1 : 0);
  if (r.audit) {
    envMetrics.backlogLimit.set(r.audit.backlogLimit);
    envMetrics.backlog.set(r.audit.backlog);
    envMetrics.kernelLost.set(r.audit.lost);
  }
  if (r.printkRatelimit) envMetrics.printkRatelimit.set(r.printkRatelimit.intervalS);
}

/** Checks now, logs the result (a warning per problem), exports it; then refreshes the metrics every `everyMs`. */
export async function startEnvCheck(log: Logger, opts: EnvCheckOptions & { everyMs?: number } = {}): Promise<{ report: EnvReport; stop: () => void }> {
  const report = await checkEnvironment(opts);
  exportEnvReport(report);
  log.info(
    {
      auditdRegistered: report.auditdRegistered,
      auditDaemon: report.auditDaemon,
      audit: report.audit,
      seccompActionsLogged: report.seccompActionsLogged,
      printkRatelimit: report.printkRatelimit,
    },
    'environment check',
  );
  for (const p of report.problems) log.warn({ problem: p }, `environment: ${p}`);
  let lastLost = report.audit?.lost ?? 0;
  const timer = setInterval(() => {
    void checkEnvironment(opts).then((r) => {
      exportEnvReport(r);
      if (r.audit && r.audit.lost > lastLost) log.warn({ lost: r.audit.lost, since: r.audit.lost - lastLost }, 'the kernel lost audit records');
      if (r.audit) lastLost = r.audit.lost;
    });
  }, opts.everyMs ?? 30_000).unref();
  return { report, stop: () => clearInterval(timer) };
}
