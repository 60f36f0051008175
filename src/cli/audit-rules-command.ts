// `auditflow audit-rules`: installs the lineage audit rules (key auditflow-fork, see enrich/audit-rules.ts) and,
// with --interval, keeps them installed: an auditd restart that loads its rules file (`-D` first) removes them,
// and the next check puts them back. What deploy/'s audit-rules DaemonSet runs: the one auditflow process that
// holds CAP_AUDIT_CONTROL (with the host's pid namespace, which the kernel requires for rule changes), so the
// tailer needs neither and no node needs a manual step.
import { createLogger } from '../log';
import { FORK_RULE_KEY, forkRulesLoaded, installForkRules } from '../enrich/audit-rules';
import { UsageError, type Command } from './command';
import { stopSignal } from './stop-signal';

export const auditRulesCommand: Command = {
  name: 'audit-rules',
  summary:
    'Install the audit rules (exit_group and execve, key auditflow-fork) that let exited short-lived processes be\n' +
    'attributed through their parent; with --interval, check every SECONDS and reinstall them when missing.\n' +
    'Needs CAP_AUDIT_CONTROL in the host\'s pid namespace. Exit 0 when they are in place, 1 when not (without --interval).',
  usage: 'audit-rules [--interval SECONDS]',
  help: ['  --interval SECONDS     keep running: check the rules every SECONDS (whole number, >= 1) and reinstall them'].join('\n'),
  options: { interval: { type: 'string' } },
  async run(values) {
    const log = createLogger('audit-rules');
    let interval: number | undefined;
    if (values.interval !== undefined) {
      interval = Number(values.interval);
      if (!Number.isInteger(interval) || interval < 1) throw new UsageError(`--interval: "${String(values.interval)}" is not a whole number of seconds >= 1`);
    }
    // one check: the rules loaded, or installed now
    const ensure = async (): Promise<boolean> => {
      const before = await forkRulesLoaded();
      if (before.loaded) return true;
      if (before.loaded === null) log.warn({ err: before.error }, 'auditctl cannot list the audit rules (CAP_AUDIT_CONTROL in the host pid namespace?)');
      else log.info({ key: FORK_RULE_KEY }, 'fork audit rules missing: installing');
      return installForkRules(log);
    };
    const ok = await ensure();
    if (interval === undefined) return ok ? 0 : 1;
    let stopping = false;
    let wake: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    void stopSignal().then(() => {
      stopping = true;
      clearTimeout(timer);
      wake?.();
    });
    log.info({ intervalSeconds: interval, inPlace: ok }, 'keeping the fork audit rules installed');
    while (!stopping) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, interval * 1000);
      });
      if (!stopping) await ensure();
    }
    return 0;
  },
};
