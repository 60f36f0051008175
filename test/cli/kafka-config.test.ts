// One `--kafka-config` file and one `--kafka-brokers` syntax for `run`, `aggregate` and `denials`
// (src/kafka/config.ts). The denials query used to read the file itself: it took a wrong SASL mechanism
// or a misspelt field silently and failed later at the broker; `run` crashed with a stack trace after
// starting. Now each command refuses them at start as a usage error (exit 2) naming the field. No broker
// is needed: each case fails before connecting, or (the accepted file) fails to connect to a closed port.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { KafkaConfigError, readKafkaConfig } from '../../src/kafka/config';
import { runCli } from '../env/cli';

let dir: string;
const file = (name: string, v: unknown) => {
  const p = path.join(dir, name);
  fs.writeFileSync(p, JSON.stringify(v));
  return p;
};

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'af-kafka-config-'));
  fs.writeFileSync(path.join(dir, 'audit.log'), '');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const COMMANDS: Record<string, (brokers: string, cfg?: string) => string[]> = {
  denials: (b, cfg) => ['denials', '--kafka-brokers', b, ...(cfg ? ['--kafka-config', cfg] : []), '--timeout', '3s'],
  aggregate: (b, cfg) => ['aggregate', '--kafka-brokers', b, ...(cfg ? ['--kafka-config', cfg] : []), '--recording', 'web=app=web', '--profile-dir', path.join(dir, 'profiles')],
  run: (b, cfg) => [
    'run', '--once', '--audit-log', path.join(dir, 'audit.log'), '--checkpoint', 'none', '--output', path.join(dir, 'out.ndjson'),
    '--spool-dir', path.join(dir, 'spool'), '--kafka-brokers', b, ...(cfg ? ['--kafka-config', cfg] : []),
  ],
};

for (const [name, args] of Object.entries(COMMANDS)) {
  test(`${name}: a bad SASL mechanism, an unknown field and a broker without a port are usage errors`, () => {
    const badSasl = file(`${name}-sasl.json`, { sasl: { mechanism: 'md5', username: 'u', password: 'p' } });
    const r1 = runCli(args('127.0.0.1:1', badSasl));
    assert.equal(r1.code, 2, r1.stderr);
    assert.match(r1.stderr, /sasl must be \{mechanism: plain\|scram-sha-256\|scram-sha-512/);

    const typo = file(`${name}-typo.json`, { clientID: 'x' });
    const r2 = runCli(args('127.0.0.1:1', typo));
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /unknown field "clientID"/);

    const r3 = runCli(args('kafka.example'));
    assert.equal(r3.code, 2, r3.stderr);
    assert.match(r3.stderr, /--kafka-brokers: "kafka\.example" is not HOST:PORT/);
  });
}

test('denials takes the same file as run and aggregate (sink tuning included) and goes on to the broker', async () => {
  const port = await closedPort();
  const shared = file('shared.json', {
    clientId: 'node-a', topics: { events: 'team.events', recordings: 'team.recordings' }, spoolMaxBytes: 1 << 20, lingerMs: 10, compression: 'none',
  });
  const r = runCli(COMMANDS.denials!(`127.0.0.1:${port}`, shared));
  // not a usage error: the query got as far as connecting, and says where it failed
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`auditflow denials: .*127\\.0\\.0\\.1:${port}`));
});

test('a config error keeps what caused it (cause), not only its message', () => {
  const missing = path.join(dir, 'no-such.json');
  assert.throws(
    () => readKafkaConfig(missing),
    (e: unknown) => e instanceof KafkaConfigError && (e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' && e.message.includes(missing),
  );
  const bad = path.join(dir, 'bad-json.json');
  fs.writeFileSync(bad, '{"clientId":');
  assert.throws(() => readKafkaConfig(bad), (e: unknown) => e instanceof KafkaConfigError && e.cause instanceof SyntaxError);
});
