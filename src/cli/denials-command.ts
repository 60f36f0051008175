import { createLogger } from '../log';
import { EVENT_FORMATS, formatter, isEventFormat } from '../sink/format';
import type { DenialFilter } from '../denials/filter';
import { GROUP_KEYS, groupRows, isGroupKey, runQuery, type GroupKey } from '../denials/query';
import { groupObject, groupsTable, rowsTable, type OutputMode } from '../denials/render';
import { KafkaSourceError, type KafkaSourceOptions } from '../denials/kafka-options';
import { KafkaConfigError, parseBrokers, readKafkaConfig, type KafkaConfigFile } from '../kafka/config';
import { DEFAULT_EVENTS_TOPIC } from '../kafka/messages';
import { parseDuration, parseWhen, TimeSpecError } from '../denials/time';
import { list, UsageError, type Command } from './command';
import { OutputWriter } from './output';
import { terminalText } from '../io/terminal-text';

const KAFKA_DEFAULT_SINCE = '24h';

export const denialsCommand: Command = {
  name: 'denials',
  summary:
    'Query recent denials (seccomp actions other than log/allow, SELinux AVC denied, AppArmor DENIED) from\n' +
    'schema-v1 NDJSON files (plain or .gz, "-" for stdin) or from the Kafka events topic, filtered, as a table,\n' +
    'JSON or NDJSON, or grouped ("top denials by pod") with counts and first/last seen.',
  usage: 'denials [options] [FILE...|-]',
  help: [
    '  --kafka-brokers LIST   read the events topic on these brokers (host:port,…) instead of files',
    `  --topic NAME           events topic (default: topics.events of --kafka-config, else ${DEFAULT_EVENTS_TOPIC})`,
    '  --kafka-config FILE    the JSON file of `run` and `aggregate`; read: {"clientId", "topics": {"events"}, "tls": true | {"ca","cert","key" (PEM or path)}, "sasl": {"mechanism","username","password"}}',
    '  --timeout DURATION     give up reading Kafka after this long (default 60s)',
    '  --namespace NS         only these namespaces (repeat or comma-separate; * and ? are wildcards)',
    '  --pod NAME             only these pods',
    '  --container NAME       only these containers',
    '  --syscall NAME         only these syscalls (name, or number)',
    '  --permission PERM      only these SELinux permissions (read, write, …) or AppArmor masks (r, w, …)',
    '  --action ACTION        only these actions: errno, kill_process, kill_thread, trap, user_notif, trace, denied, …',
    '  --node NAME            only events from these nodes',
    `  --since TIME           from this time: RFC 3339, a date, epoch seconds, or a duration back from now (15m, 2h, 7d);`,
    `                         Kafka default ${KAFKA_DEFAULT_SINCE}, files default: everything`,
    '  --until TIME           up to this time (exclusive), same forms',
    '  --all                  every access decision, not only denials (seccomp log/allow, AVC granted, …)',
    '  -o, --output MODE      table (default on a terminal), json or ndjson (default otherwise)',
    '  --format FORMAT        event format in json/ndjson output: v1 (default), ecs or ocsf',
    `  --group-by KEYS        group and count by these (comma-separated): ${GROUP_KEYS.join(', ')}; e.g. pod,container,syscall`,
    '  --limit N              only the N most recent denials (or the N biggest groups)',
  ].join('\n'),
  options: {
    'kafka-brokers': { type: 'string' },
    topic: { type: 'string' },
    'kafka-config': { type: 'string' },
    timeout: { type: 'string' },
    namespace: { type: 'string', multiple: true },
    pod: { type: 'string', multiple: true },
    container: { type: 'string', multiple: true },
    syscall: { type: 'string', multiple: true },
    permission: { type: 'string', multiple: true },
    action: { type: 'string', multiple: true },
    node: { type: 'string', multiple: true },
    since: { type: 'string' },
    until: { type: 'string' },
    all: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
    format: { type: 'string' },
    'group-by': { type: 'string' },
    limit: { type: 'string' },
  },
  async run(v, positionals) {
    const log = createLogger('auditflow-denials');
    const now = Date.now();
    const values = (k: string) => {
      const l = list(v[k]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
      return l.length ? l : undefined;
    };

    let brokers: string[] | undefined;
    let config: KafkaConfigFile = {};
    try {
      if (v['kafka-brokers'] !== undefined) brokers = parseBrokers(String(v['kafka-brokers']));
      if (v['kafka-config'] !== undefined) config = readKafkaConfig(String(v['kafka-config']));
    } catch (e) {
      if (e instanceof KafkaConfigError) throw new UsageError(e.message);
      throw e;
    }
    let files = positionals;
    if (!brokers && files.length === 0) {
      if (process.stdin.isTTY) throw new UsageError('give NDJSON files of events, "-" for stdin, or --kafka-brokers');
      files = ['-'];
    }

    const output = (v.output as string | undefined) ?? (process.stdout.isTTY ? 'table' : 'ndjson');
    if (output !== 'table' && output !== 'json' && output !== 'ndjson') throw new UsageError(`--output: "${output}" is not table, json or ndjson`);
    const format = (v.format as string | undefined) ?? 'v1';
    if (!isEventFormat(format)) throw new UsageError(`--format: "${format}" is not one of ${EVENT_FORMATS.join(', ')}`);
    const groupBy = parseGroupBy(v['group-by'] as string | undefined);
    const limit = parseLimit(v.limit as string | undefined);

    const filter: DenialFilter = {
      namespace: values('namespace'),
      pod: values('pod'),
      container: values('container'),
      syscall: values('syscall'),
      permission: values('permission'),
      action: values('action'),
      node: values('node'),
      all: Boolean(v.all),
    };
    const since = (v.since as string | undefined) ?? (brokers ? KAFKA_DEFAULT_SINCE : undefined);
    try {
      if (since !== undefined) filter.since = parseWhen('--since', since, now);
      if (v.until !== undefined) filter.until = parseWhen('--until', v.until as string, now);
    } catch (e) {
      if (e instanceof TimeSpecError) throw new UsageError(e.message);
      throw e;
    }

    let kafka: KafkaSourceOptions | undefined;
    if (brokers) {
      const timeout = (v.timeout as string | undefined) ?? '60s';
      const timeoutMs = parseDuration(timeout);
      if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout: "${timeout}" is not a duration (30s, 2m)`);
      const topic = (v.topic as string | undefined) ?? config.topics?.events ?? DEFAULT_EVENTS_TOPIC;
      kafka = { brokers, clientId: config.clientId, tls: config.tls, sasl: config.sasl, topic, timeoutMs };
      if (filter.since !== undefined) kafka.since = filter.since;
      if (filter.until !== undefined) kafka.until = filter.until;
    }

    let result;
    try {
      result = await runQuery({ files, kafka, filter, limit: groupBy ? undefined : limit }, log);
    } catch (e) {
      if (e instanceof KafkaSourceError) {
        process.stderr.write(`auditflow denials: ${terminalText(e.message)}\n`);
        return 1;
      }
      throw e;
    }

    const { rows, counts } = result;
    const read = counts.file.events + counts.kafka.events;
    const garbage = counts.file.garbage + counts.kafka.garbage;
    if (garbage > 0) {
      const reasons = Object.fromEntries([...counts.file.garbageByReason, ...counts.kafka.garbageByReason].reduce((m, [k, n]) => m.set(k, (m.get(k) ?? 0) + n), new Map<string, number>()));
      log.warn({ garbage, reasons }, `skipped ${garbage} input lines/messages that are not schema-v1 events`);
    }
    if (result.suppressed > 0) {
      log.warn({ suppressed: result.suppressed }, `${result.suppressed} events in scope were held back by the node agents' rate limit and only counted; some may be denials`);
    }
    log.debug({ events: read, matched: result.matched, shown: rows.length, garbage }, 'denials query done');

    const out = new OutputWriter(process.stdout);
    const mode = output as OutputMode;
    if (groupBy) {
      let groups = groupRows(rows, groupBy);
      if (limit !== undefined) groups = groups.slice(0, limit);
      if (mode === 'table') {
        if (groups.length) out.line(groupsTable(groups, groupBy));
        out.line(footer(result.matched, read, garbage, `${groups.length} group${groups.length === 1 ? '' : 's'}`, result.suppressed));
      } else if (mode === 'json') out.line(JSON.stringify(groups.map(groupObject), null, 2));
      else for (const g of groups) out.line(JSON.stringify(groupObject(g)));
    } else {
      const fmt = formatter(format);
      if (mode === 'table') {
        if (rows.length) out.line(rowsTable(rows));
        out.line(footer(result.matched, read, garbage, rows.length < result.matched ? `${rows.length} shown` : undefined, result.suppressed));
      } else if (mode === 'json') out.line(JSON.stringify(rows.map((r) => fmt(r.ev)), null, 2));
      else for (const r of rows) out.line(JSON.stringify(fmt(r.ev)));
    }
    await out.flush();
    return 0;
  },
};

function footer(matched: number, read: number, garbage: number, extra: string | undefined, suppressed: number): string {
  const parts = [`${matched} denial${matched === 1 ? '' : 's'}`];
  if (extra) parts.push(extra);
  parts.push(`${read} event${read === 1 ? '' : 's'} read`);
  if (garbage) parts.push(`${garbage} garbage line${garbage === 1 ? '' : 's'} skipped`);
  if (suppressed) parts.push(`${suppressed} more held back by node rate limits, not shown`);
  return `(${parts.join(', ')})`;
}

function parseGroupBy(s: string | undefined): GroupKey[] | undefined {
  if (s === undefined) return undefined;
  const keys = s.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (keys.length === 0) throw new UsageError('--group-by: give one or more of ' + GROUP_KEYS.join(', '));
  for (const k of keys) if (!isGroupKey(k)) throw new UsageError(`--group-by: "${k}" is not one of ${GROUP_KEYS.join(', ')}`);
  return keys as GroupKey[];
}

function parseLimit(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < 1) throw new UsageError(`--limit: "${s}" is not a positive integer`);
  return Number(s);
}
