// kafkajs client construction shared by the sink, the aggregator and the denials query: brokers, TLS,
// SASL (PLAIN, SCRAM), and kafkajs's own log lines routed into our pino logger (kafkajs would print to
// stdout otherwise).

import * as fs from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { Logger } from '../log';
import { installDecodeSpeedups, logRefusedBatchesTo } from './decode-speedups';
import { installIdleLoopFix } from './idle-loop-fix';

/** How to reach and authenticate to the brokers; the `--kafka-config` file holds all but `brokers`. */
export interface ClientOptions {
  brokers: string[];
  clientId?: string;
  /** true: TLS with the system CAs; ca, cert, key: PEM text or a path to a PEM file. */
  tls?: boolean | { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
}

function readPem(v: string | undefined): string | undefined {
  // a path or the PEM text itself
  if (v === undefined) return undefined;
  return v.includes('-----BEGIN') ? v : fs.readFileSync(v, 'utf8');
}

const CONNECTION = /connect|ECONNREFUSED|ECONNRESET|Connection (error|timeout)|Closed connection/i;
/** The messages of kafkajs's retriable broker errors seen in a healthy cluster's normal life. */
const RETRIED =
  /not the leader|no leader|leader (is )?not available|does not host this topic-partition|coordinator is (loading|not available)|not the correct coordinator|replica is not available|fewer in-sync replicas|request timed out|disconnected before a response|rebalanc/i;

/** What differs between the users of a client: a default client id, and how long kafkajs retries a request. */
export interface ClientRole {
  /** When the options give none; default auditflow. */
  clientId?: string;
  /** kafkajs's own retries; a one-shot query with a deadline of its own wants a few quick ones. */
  retry?: KafkaConfig['retry'];
}

let speedupsLogged = false;

export function createKafka(opts: ClientOptions, log: Logger, role: ClientRole = {}): Kafka {
  const speedups = installDecodeSpeedups();
  const idleFix = installIdleLoopFix();
  if (!speedupsLogged) {
    speedupsLogged = true;
    logRefusedBatchesTo(log);
    if (speedups.records !== true) log.info({ reason: speedups.records }, "kafkajs's own record decoder is in use (slower consumption)");
    if (idleFix !== true) log.info({ reason: idleFix }, "kafkajs's request queue is not patched: each idle broker connection polls every millisecond");
  }
  const cfg: KafkaConfig = {
    clientId: opts.clientId ?? role.clientId ?? 'auditflow',
    brokers: opts.brokers,
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    logLevel: logLevel.WARN,
    logCreator: () => (entry) => {
      const { message, ...rest } = entry.log;
      const fields = { kafkajs: entry.namespace, ...rest };
      // kafkajs logs every failed connection attempt, and every broker answer it retries on its own
      // (leader elections, a coordinator loading or moving), as an error; an outage is reported once by
      // the sink (and counted) or the query, so these stay at debug; anything else (authentication,
      // protocol, configuration) is a warning
      if (CONNECTION.test(String(message)) || RETRIED.test(`${String(message)} ${String(rest.error ?? '')}`)) log.debug(fields, message);
      else if (entry.level <= logLevel.WARN) log.warn(fields, message);
      else log.debug(fields, message);
    },
  };
  if (role.retry) cfg.retry = role.retry;
  if (opts.tls) {
    const t = opts.tls === true ? {} : opts.tls;
    cfg.ssl = {
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      ...(t.ca ? { ca: [readPem(t.ca)!] } : {}),
      ...(t.cert ? { cert: readPem(t.cert)! } : {}),
      ...(t.key ? { key: readPem(t.key)! } : {}),
    };
  }
  if (opts.sasl) {
    const { mechanism, username, password } = opts.sasl;
    cfg.sasl = { mechanism, username, password } as SASLOptions;
  }
  return new Kafka(cfg);
}
