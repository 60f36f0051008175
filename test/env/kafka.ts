// The real test rig, part 3: a real Apache Kafka broker (KRaft, one combined broker + controller on loopback).
//
//   const k = await ensureKafka();       // fetches the jars once (Maven Central, cached), starts a fresh broker
//   k.brokers                            // ['127.0.0.1:PORT'] for kafkajs
//   await k.kill(); await k.restart();   // SIGKILL it (an outage), start it again on the same ports and data
//   await k.stop();                      // SIGTERM, and remove its data directory
//
// Each call starts its own broker (own ports, own data directory), so test files never share state by accident.
// KAFKA_VERSION picks the broker version (default: the pom's 3.9.x). Nothing is mocked: when java, mvn or Maven
// Central are missing, ensureKafka() fails with what test/env/kafka/kafka.sh said.

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { freePort } from './net';
import { findUp } from './find-up';

export const SASL_USER = 'auditflow';
export const SASL_PASSWORD = 'auditflow-secret';

export interface KafkaBroker {
  /** PLAINTEXT listener, for kafkajs `brokers`. */
  brokers: string[];
  /** SASL_PLAINTEXT listener (PLAIN and SCRAM-SHA-256 as SASL_USER / SASL_PASSWORD). */
  saslBrokers: string[];
  /** The broker's directory (server.properties, broker.log, data/). */
  dir: string;
  version: string;
  pid(): number | undefined;
  /** SIGKILL, as a crashed broker; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Start again after kill()/stop(keepData) on the same ports and data; resolves once it answers. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 30 s) and remove the data directory unless keepData. */
  stop(opts?: { keepData?: boolean }): Promise<void>;
  /** The last lines of the broker's log, for failure messages. */
  logTail(lines?: number): string;
}

const SCRIPT = findUp(path.join('test', 'env', 'kafka', 'kafka.sh'));
const running = new Set<number>();
let exitHook = false;

function runScript(args: string[], timeoutMs: number, version: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...extraEnv, KAFKA_VERSION: version } });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`test/env/kafka/kafka.sh ${args.join(' ')} did not finish within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run test/env/kafka/kafka.sh: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`test/env/kafka/kafka.sh ${args[0]} failed (exit ${code}):\n${err.trim()}`));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) throw new Error(`broker pid ${pid} still alive after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls until the broker answers a metadata request and can create a topic (the controller is ready). */
async function waitAnswers(brokers: string[], dir: string, ms: number): Promise<void> {
  const kafka = new Kafka({ clientId: 'rig-probe', brokers, logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2000 });
  const admin = kafka.admin();
  const end = Date.now() + ms;
  let last: unknown;
  try {
    while (Date.now() < end) {
      try {
        await admin.connect();
        const c = await admin.describeCluster();
        if (c.brokers.length > 0 && c.controller !== null) return;
      } catch (e) {
        last = e;
      }
      await admin.disconnect().catch(() => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  throw new Error(`the Kafka broker in ${dir} did not answer within ${ms} ms (${String(last)})`);
}

/** Starts a fresh broker (fetching the jars on first use) and resolves once it answers. */
/** `clusterId` forces the KRaft cluster id the storage is formatted with (default: a random one). */
/** `host`: the address its client listeners bind and advertise (default 127.0.0.1; the cluster tests give one pods reach). */
export async function ensureKafka(opts: { version?: string; clusterId?: string; host?: string } = {}): Promise<KafkaBroker> {
  const host = opts.host ?? '127.0.0.1';
  const version = opts.version ?? process.env['KAFKA_VERSION'] ?? '3.9.2';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-kafka-'));
  const [port, cport, sport] = [await freePort(), await freePort(), await freePort()];
  let pid: number | undefined;
  if (!exitHook) {
    exitHook = true;
    // a test process that dies must not leave brokers eating the shared machine's memory
    process.on('exit', () => {
      for (const p of running) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
  }
  const start = async (): Promise<void> => {
    const env: NodeJS.ProcessEnv = { KAFKA_HOST: host, ...(opts.clusterId === undefined ? {} : { KAFKA_CLUSTER_ID: opts.clusterId }) };
    const out = await runScript(['start', dir, String(port), String(cport), String(sport)], 15 * 60_000, version, env);
    pid = Number(out.split('\n').pop());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`kafka.sh start printed no pid: ${out}`);
    running.add(pid);
    await waitAnswers([`${host}:${port}`], dir, 120_000);
  };
  const broker: KafkaBroker = {
    brokers: [`${host}:${port}`],
    saslBrokers: [`${host}:${sport}`],
    dir,
    version,
    pid: () => pid,
    async kill() {
      if (pid === undefined) return;
      const p = pid;
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await waitGone(p, 30_000);
      running.delete(p);
      pid = undefined;
      fs.rmSync(path.join(dir, 'pid'), { force: true });
    },
    async restart() {
      if (pid !== undefined) throw new Error('restart(): the broker is still running');
      await start();
    },
    async stop(o = {}) {
      if (pid !== undefined) {
        const p = pid;
        await runScript(['stop', dir], 60_000, version);
        running.delete(p);
        pid = undefined;
      }
      if (!o.keepData) fs.rmSync(dir, { recursive: true, force: true });
    },
    logTail(lines = 40) {
      try {
        return fs.readFileSync(path.join(dir, 'broker.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
      } catch {
        return '(no broker.log)';
      }
    },
  };
  try {
    await start();
  } catch (e) {
    await broker.stop().catch(() => undefined);
    throw e;
  }
  return broker;
}
