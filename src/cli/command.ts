// Small command framework over node:util parseArgs: every subcommand has --help, a usage error exits 2
// with a hint, a runtime error exits 1 with the message.

import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Command<V = Record<string, unknown>> {
  name: string;
  summary: string;
  usage: string;
  /** Help text for the options, one per line. */
  help: string;
  options: Options;
  run(values: V, positionals: string[]): Promise<number>;
}

export function parse(cmd: Command, argv: string[]): { values: Record<string, unknown>; positionals: string[] } | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...cmd.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
  if (parsed.values.help) return 'help';
  return { values: parsed.values as Record<string, unknown>, positionals: parsed.positionals };
}

export function helpText(cmd: Command): string {
  return `Usage: auditflow ${cmd.usage}\n\n${cmd.summary}\n\nOptions:\n${cmd.help}\n  -h, --help             show this help\n`;
}

/** Repeatable option values as a list (parseArgs gives string[] for multiple: true). */
export function list(v: unknown): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? (v as string[]) : [String(v)];
}

/** A time given as RFC 3339 / ISO 8601 or as epoch seconds → epoch ms. */
export function parseTime(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`${flag}: "${s}" is not a time (RFC 3339, e.g. 2026-11-22T17:00:00Z, or epoch seconds)`);
  return t;
}
