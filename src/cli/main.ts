#!/usr/bin/env node
// auditflow command line: one subcommand per job, each with --help. Exit codes: 0 success, 1 failure,
// 2 usage error.

import { helpText, parse, UsageError, type Command } from './command';
import { InputError } from '../io/input';
import { parseCommand } from './parse-command';
import { profileCommand } from './profile-command';
import { runCommand } from './run-command';
import { aggregateCommand } from './aggregate-command';
import { explainCommand } from './explain-command';
import { agentCommand } from './agent-command';
import { denialsCommand } from './denials-command';

const commands: Command[] = [parseCommand, profileCommand, runCommand, aggregateCommand, explainCommand, agentCommand, denialsCommand];

function usage(): string {
  const w = Math.max(...commands.map((c) => c.usage.length));
  return (
    'Usage: auditflow <command> [options]\n\n' +
    'auditflow turns Linux audit records (seccomp, SELinux, AppArmor) into enriched events and security profiles.\n\n' +
    'Commands:\n' +
    commands.map((c) => `  ${c.usage.padEnd(w)}  ${c.summary.split('\n')[0]}`).join('\n') +
    '\n\nRun "auditflow <command> --help" for a command\'s options.\n'
  );
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const cmd = commands.find((c) => c.name === rest[0]);
    process.stdout.write(cmd ? helpText(cmd) : usage());
    return 0;
  }
  if (name === '--version') {
    process.stdout.write(require('../../../package.json').version + '\n');
    return 0;
  }
  const cmd = commands.find((c) => c.name === name);
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
    return await cmd.run(p.values, p.positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`auditflow ${cmd.name}: ${e.message}\nRun "auditflow ${cmd.name} --help" for usage.\n`);
      return 2;
    }
    if (e instanceof InputError) {
      process.stderr.write(`auditflow ${cmd.name}: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`auditflow ${cmd.name}: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
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
