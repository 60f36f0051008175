#!/usr/bin/env node
// auditflow command line: one subcommand per job, each with --help. Exit codes: 0 success, 1 failure,
// 2 usage error. A failure is one line on stderr ("auditflow CMD: what"), never a stack trace, unless it is a
// bug. A reader of stdout that goes away (`auditflow parse big.log | head -1`: EPIPE) ends the command
// quietly, exit 0: the reader chose to stop, as with ripgrep; the rest of the input is not read.

import { helpText, parse, UsageError, type Command } from './command';
import { InputError } from '../io/input';
import { guardStdout, isReaderGone, OutputError, settleStdout } from '../io/stdout';
import { terminalText } from '../io/terminal-text';
// Each command's module is loaded only when that command runs (or for --help): `run` pulls in gRPC, `aggregate`
// kafkajs, `agent` the Kubernetes client — together 0.2–0.45 s of start-up that `auditflow parse` should not pay.
const COMMANDS: ReadonlyArray<[string, () => Command]> = [
  ['parse', () => (require('./parse-command') as typeof import('./parse-command')).parseCommand],
  ['profile', () => (require('./profile-command') as typeof import('./profile-command')).profileCommand],
  ['run', () => (require('./run-command') as typeof import('./run-command')).runCommand],
  ['aggregate', () => (require('./aggregate-command') as typeof import('./aggregate-command')).aggregateCommand],
  ['agent', () => (require('./agent-command') as typeof import('./agent-command')).agentCommand],
  ['webhook', () => (require('./webhook-command') as typeof import('./webhook-command')).webhookCommand],
  ['explain', () => (require('./explain-command') as typeof import('./explain-command')).explainCommand],
  ['denials', () => (require('./denials-command') as typeof import('./denials-command')).denialsCommand],
  ['push', () => (require('./push-command') as typeof import('./push-command')).pushCommand],
  ['pull', () => (require('./pull-command') as typeof import('./pull-command')).pullCommand],
  ['audit-rules', () => (require('./audit-rules-command') as typeof import('./audit-rules-command')).auditRulesCommand],
];

function load(name: string | undefined): Command | undefined {
  return COMMANDS.find(([n]) => n === name)?.[1]();
}

function usage(): string {
  const commands = COMMANDS.map(([, get]) => get());
  const w = Math.max(...commands.map((c) => c.name.length));
  return (
    'Usage: auditflow <command> [options]\n\n' +
    'auditflow turns Linux audit records (seccomp, SELinux, AppArmor) into enriched events and security profiles.\n\n' +
    'Commands:\n' +
    commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary.split('\n')[0]}`).join('\n') +
    '\n\nRun "auditflow <command> --help" for a command\'s options.\n'
  );
}

export async function main(argv: string[]): Promise<number> {
  // stdout's errors (ENOSPC, EPIPE) become an OutputError in the command, never an uncaught 'error' event
  guardStdout();
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const cmd = load(rest[0]);
    process.stdout.write(cmd ? helpText(cmd) : usage());
    return 0;
  }
  if (name === '--version') {
    process.stdout.write(require('../../../package.json').version + '\n');
    return 0;
  }
  const cmd = load(name);
  if (!cmd) {
    process.stderr.write(`auditflow: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  try {
    const p = parse(cmd, rest);
    if (p === 'help') {
      process.stdout.write(helpText(cmd));
      return 0;
    }
    const code = await cmd.run(p.values, p.positionals);
    // whatever the command wrote must have reached stdout before it may say it succeeded
    try {
      await settleStdout();
    } catch (e) {
      if (isReaderGone(e)) return code;
      throw e;
    }
    return code;
  } catch (e) {
    if (isReaderGone(e)) return 0;
    if (e instanceof UsageError) {
      process.stderr.write(`auditflow ${cmd.name}: ${terminalText(e.message)}\nRun "auditflow ${cmd.name} --help" for usage.\n`);
      return 2;
    }
    if (e instanceof InputError || e instanceof OutputError) {
      process.stderr.write(`auditflow ${cmd.name}: ${terminalText(e.message)}\n`);
      return 1;
    }
    if (isSystemError(e)) {
      // a system error nobody wrapped: its message says what and where, a stack would not help
      process.stderr.write(`auditflow ${cmd.name}: ${terminalText((e as Error).message)}\n`);
      return 1;
    }
    // a message may quote input (a path, a name from the audit stream): escaped line by line, the stack's own
    // line breaks kept
    const text = (e as Error).stack ?? String(e);
    process.stderr.write(`auditflow ${cmd.name}: ${text.split('\n').map(terminalText).join('\n')}\n`);
    return 1;
  }
}

function isSystemError(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  return err instanceof Error && typeof err.code === 'string' && typeof err.syscall === 'string';
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`auditflow: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
