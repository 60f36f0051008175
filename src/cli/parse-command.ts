import * as fs from 'node:fs';
import * as os from 'node:os';
import type { AuditRecord, SeccompLine } from '../../parsers';
import { Coalescer } from '../../parsers';
import { eventFromAuditEvent, eventFromRecord, type EventContext } from '../event/v1';
import { failIfInputErrors, readRecords } from '../io/record-reader';
import type { Input } from '../io/input';
import { SeccompNdjson } from '../event/seccomp-ndjson';
import { createLogger } from '../log';
import type { Command } from './command';
import { Progress } from './progress';
import { Summary } from './summary';
import { OutputWriter } from './output';
import { settleStdout } from '../io/stdout';

export const parseCommand: Command = {
  name: 'parse',
  summary:
    'Parse audit logs (auditd raw or ENRICHED, syslog, kmsg/dmesg, journald text; plain or .gz; "-" or nothing\n' +
    'for stdin) into one schema-v1 JSON object per record on stdout, or a summary table.',
  usage: 'parse [options] [FILE...|-]',
  help: [
    '  --summary              print a table (records by type, kind, action, top syscalls, parse errors) instead of NDJSON',
    '  --events               coalesce the records of one audit event (same audit(ts:serial)) into one object',
    '  --raw                  include the original line as "raw"',
    '  --node NAME            node name for the events (default: this host name; syslog lines keep their host)',
    '  --no-progress          no progress bar (it is only shown when stderr is a terminal)',
  ].join('\n'),
  options: {
    summary: { type: 'boolean' },
    events: { type: 'boolean' },
    raw: { type: 'boolean' },
    node: { type: 'string' },
    'no-progress': { type: 'boolean' },
  },
  async run(v, positionals) {
    const log = createLogger('auditflow-parse');
    const files = positionals.length ? positionals : ['-'];
    const summary = v.summary ? new Summary() : undefined;
    const out = new OutputWriter(process.stdout);
    const ctx: EventContext = { node: (v.node as string | undefined) ?? os.hostname(), file: null, raw: Boolean(v.raw), notEnriched: 'offline parse: not enriched' };
    let progress: Progress | undefined;
    const total = files.reduce((n, f) => n + (f === '-' ? 0 : safeSize(f)), 0);
    if (!v['no-progress'] && !files.includes('-')) progress = new Progress(total);

    const coalescer = v.events && !summary ? new Coalescer((e) => out.line(JSON.stringify(eventFromAuditEvent(e, ctx)))) : undefined;
    const onRecord = (r: AuditRecord, input: Input) => {
      if (summary) return summary.add(r);
      ctx.file = input.name === '-' ? null : input.name;
      if (coalescer) coalescer.push(r);
      else out.line(JSON.stringify(eventFromRecord(r, ctx)));
    };
    // The hot path: SECCOMP lines read from bytes and written as bytes, the same output as onRecord's.
    const ndjson = new SeccompNdjson(ctx);
    const onSeccomp = (l: SeccompLine, input: Input): boolean => {
      if (summary) {
        summary.addSeccomp(l);
        return true;
      }
      ctx.file = input.name === '-' ? null : input.name; // before passStandalone: it may emit open events
      // Only a standalone SECCOMP record is an event of its own (the default); else it takes onRecord.
      if (coalescer && !coalescer.passStandalone('SECCOMP')) return false;
      const b = out.reserve(ndjson.maxBytes(l));
      out.commit(ndjson.write(l, b, out.offset));
      return true;
    };
    const t0 = process.hrtime.bigint();
    const stats = await readRecords(files, onRecord, {
      log,
      // stdout failed (disk full, reader gone): stop reading now, main reports it
      afterChunk: async () => {
        await out.flush();
        await settleStdout();
      },
      onRaw: (_i, b) => progress?.add(b),
      onSeccomp,
    });
    coalescer?.flush();
    await out.flush();
    progress?.finish();
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    if (summary) {
      out.line(summary.render(stats, secs).trimEnd());
      await out.flush();
    }
    // everything that could be read is out: now say what could not (exit 1)
    failIfInputErrors(stats);
    return 0;
  },
};

function safeSize(f: string): number {
  try {
    return fs.statSync(f).size;
  } catch {
    return 0;
  }
}
