// The audit rules that let short-lived container processes be attributed (see lineage.ts): every process on
// the node leaves a SYSCALL record naming itself and its parent (host pids) when it exits and when it execs.
// exit_group never returns, but the kernel still writes the record of an exiting task's last syscall. Installed by `auditflow run` at start when it
// reads auditd's log (--no-track-forks to skip), and left in place at shutdown: several instances (a restarting
// DaemonSet pod, tests) share the one rule, and one that stops must not pull it from under the others. Tagged with
// a key, so it is easy to recognise in `auditctl -l` and to remove by hand:
//   auditctl -d always,exit -F arch=b64 -S exit_group -S execve -k auditflow-fork   (and arch=b32)
//
// Cost: any audit rule makes the kernel keep a full audit context for every syscall, and a busy node starts
// many processes; both are small next to a recording workload's seccomp records, and the rule can be turned off.
import { execFile } from 'node:child_process';
import type { Logger } from '../log';

export const FORK_RULE_KEY = 'auditflow-fork';

const RULES: string[][] = [
  ['-F', 'arch=b64', '-S', 'exit_group', '-S', 'execve'],
  ['-F', 'arch=b32', '-S', 'exit_group', '-S', 'execve'],
];

function auditctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('auditctl', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout ?? ''), stderr: String(stderr || (err ? err.message : '')).trim() });
    });
  });
}

/**
 * Whether both fork rules are loaded in the kernel (`auditctl -l -k auditflow-fork`); null when auditctl cannot
 * tell (missing, or no CAP_AUDIT_CONTROL in the host's pid namespace) -- the stderr is in `error`.
 */
export async function forkRulesLoaded(): Promise<{ loaded: boolean | null; error?: string }> {
  const r = await auditctl(['-l', '-k', FORK_RULE_KEY]);
  if (r.code !== 0) return { loaded: null, error: r.stderr };
  const lines = r.stdout.split('\n').filter((l) => l.includes(FORK_RULE_KEY));
  const has = (arch: string) => lines.some((l) => l.includes(`arch=${arch}`) && l.includes('exit_group') && l.includes('execve'));
  return { loaded: has('b64') && has('b32') };
}

function ruleArgs(op: '-a' | '-d', rule: string[]): string[] {
  return [op, 'always,exit', ...rule, '-k', FORK_RULE_KEY];
}

/** Installs the fork rules; answers whether they are in place. Never throws: a node without auditctl still runs. */
export async function installForkRules(log: Logger): Promise<boolean> {
  let ok = true;
  for (const rule of RULES) {
    const r = await auditctl(ruleArgs('-a', rule));
    // "Rule exists" from an earlier run that was killed: it is in place, which is what we want
    if (r.code !== 0 && !/exists/i.test(r.stderr)) {
      ok = false;
      log.warn({ rule: rule.join(' '), err: r.stderr }, 'cannot install the fork audit rule: records of exited short-lived processes may stay unresolved');
    }
  }
  if (ok) log.info({ key: FORK_RULE_KEY }, 'fork audit rules installed (process lineage for short-lived processes)');
  return ok;
}
