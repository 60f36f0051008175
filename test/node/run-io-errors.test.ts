// Issue 10, `auditflow run`: outputs that cannot be fsync'ed (/dev/null, a pipe) are written without fsync;
// outputs that cannot be written at all fail the start with exit 1; a profile whose name is too long for the
// filesystem is dropped and counted, not retried forever; a transient write error (disk full) is retried
// without duplicating what was written; SIGTERM ends the process within its grace period, keeping the
// checkpoint at what was written. The source is a plain file (the real fixtures), no auditd needed.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRecordingFlags, RUN_RECORD_FLAG } from '../../src/recording/flags';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { ProfileDirectory } from '../../src/recording/profile-dir';
import { Recorder } from '../../src/recording/recorder';
import { eventFromRecord, type ContainerRef, type EventV1, type PodRef } from '../../src/event/v1';
import { isRecord, parseLine } from '../../parsers';
import { BIN, ROOT } from '../env/cli';
import { metricValue, pollUntil, startRun, stopRun } from '../env/run-node';

const FIXTURE = path.join(ROOT, 'fixtures/real/avc-auditd.log');
const ONCE = ['run', '--once', '--from-start', '--checkpoint', 'none', '--cri-socket', 'none', '--listen', 'none', '--no-progress', '--events', 'all', '--audit-log', FIXTURE];
const ENV = { ...process.env, AUDITFLOW_LOG_LEVEL: 'info' };
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-run-io-'));
const small = path.join(tmp, 'small');
let mounted = false;
let expected: string[];

/** Runs the bin to its end (a hung run is killed after a minute and fails the test, never blocks it). */
function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: ENV, timeout: 60_000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const lines = (s: string) => s.split('\n').filter(Boolean);
const key = (l: string) => {
  const e = JSON.parse(l) as { timestamp: string; serial: number; type: string };
  return `${e.timestamp}:${e.serial}:${e.type}`;
};

before(() => {
  fs.mkdirSync(small);
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', small], { encoding: 'utf8' });
  assert.equal(r.status, 0, `mount a 1 MiB tmpfs (the tests run as root): ${r.stderr}`);
  mounted = true;
  const r2 = run([...ONCE, '--output', '-']);
  assert.equal(r2.code, 0, r2.stderr);
  expected = lines(r2.stdout).map(key).sort();
  assert.ok(expected.length > 300);
});
after(() => {
  if (mounted) spawnSync('umount', [small]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** Fills the small filesystem up to `leave` free bytes; returns the filler's path. */
function fill(leave: number): string {
  const filler = path.join(small, 'filler');
  fs.rmSync(filler, { force: true });
  const { bavail, bsize } = fs.statfsSync(small);
  const free = bavail * bsize;
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free - leave)));
  return filler;
}

describe('outputs that cannot be fsync\'ed are written without fsync', () => {
  it('--output /dev/null: ends with exit 0, no retry', () => {
    const r = run([...ONCE, '--output', '/dev/null']);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.doesNotMatch(r.stderr, /retrying/);
  });

  it('--output a FIFO (a pipe): every event reaches its reader, exit 0', async () => {
    const fifo = path.join(tmp, 'events.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // the reader drains the FIFO into a file: a pipe back to this process would fill up while run() below
    // blocks the event loop (spawnSync), and then the reader, the FIFO and auditflow would all wait
    const copy = path.join(tmp, 'events-from-fifo.ndjson');
    const out = fs.openSync(copy, 'w');
    const reader = spawn('cat', [fifo], { stdio: ['ignore', out, 'ignore'] });
    fs.closeSync(out);
    const readerDone = new Promise((r) => reader.on('close', r));
    const r = run([...ONCE, '--output', fifo]);
    await readerDone;
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    assert.deepEqual(lines(fs.readFileSync(copy, 'utf8')).map(key).sort(), expected);
  });
});

describe('outputs that cannot be written fail the start: exit 1, the reason in the log', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['--output a directory', () => ['--output', tmp], /cannot write events to .*: EISDIR/],
    ['--output in a missing directory', () => ['--output', path.join(tmp, 'missing', 'events.ndjson')], /cannot write events to .*: ENOENT/],
    [
      '--output a dangling symlink into a missing directory',
      () => {
        const l = path.join(tmp, 'dangling-output');
        fs.rmSync(l, { force: true });
        fs.symlinkSync(path.join(tmp, 'nowhere', 'events.ndjson'), l);
        return ['--output', l];
      },
      /cannot write events to .*dangling-output: ENOENT/,
    ],
    [
      '--profile-dir a regular file',
      () => {
        const f = path.join(tmp, 'not-a-dir');
        fs.writeFileSync(f, '');
        return ['--output', 'none', '--record', 'web=app=web', '--profile-dir', f];
      },
      /--profile-dir .*not-a-dir: not a directory/,
    ],
    [
      '--profile-dir a dangling symlink',
      () => {
        const l = path.join(tmp, 'dangling-dir');
        fs.rmSync(l, { force: true });
        fs.symlinkSync(path.join(tmp, 'nowhere'), l);
        return ['--output', 'none', '--record', 'web=app=web', '--profile-dir', l];
      },
      /--profile-dir .*dangling-dir: a dangling symbolic link/,
    ],
  ];
  for (const [name, args, msg] of cases) {
    it(name, () => {
      const r = run([...ONCE, ...args()]);
      assert.equal(r.code, 1, r.stderr.slice(-2000));
      assert.match(r.stderr, msg);
      assert.doesNotMatch(r.stderr, /retrying/);
    });
  }
});

describe('recorded profiles that cannot be written', () => {
  const log = createLogger('test');
  let serial = 1;
  function seccomp(container: ContainerRef, pod: PodRef): EventV1 {
    const line = `type=SECCOMP msg=audit(1795368920.417:${serial++}): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=26925 comm="sh" exe="/bin/busybox" sig=0 arch=c000003e syscall=1 compat=0 ip=0x49641b code=0x7ffc0000`;
    const r = parseLine(line);
    assert.ok(isRecord(r));
    const ev = eventFromRecord(r, { node: 'n1', file: null, raw: false });
    ev.enrichment = 'resolved';
    ev.container = container;
    ev.pod = pod;
    return ev;
  }

  it('a profile name too long for the filesystem is dropped and counted, not retried forever; others are recorded', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'rec-'));
    const rec = new Recorder({ recordings: parseRecordingFlags(['web=app=web'], RUN_RECORD_FLAG), out: new ProfileDirectory(dir), stateDir: path.join(dir, '.state'), log });
    // a valid DNS-1123 subdomain, but web-<it>.selinux.evidence.json / SeccompProfile.web-<it>.json exceed NAME_MAX
    const longName = Array.from({ length: 4 }, (_, i) => String.fromCharCode(97 + i).repeat(60)).join('.');
    const pod = { name: 'p', namespace: 'demo', uid: 'u1', labels: { app: 'web' } };
    const long: ContainerRef = { id: 'a'.repeat(64), name: longName, runtime: 'containerd', image: 'x' };
    const ok: ContainerRef = { id: 'b'.repeat(64), name: 'app', runtime: 'containerd', image: 'x' };
    const before = metricValue(await registry.metrics(), 'auditflow_record_rejected_total', { reason: 'name-too-long' });
    await rec.write([seccomp(long, pod), seccomp(ok, pod)]);
    await rec.close();
    const after = metricValue(await registry.metrics(), 'auditflow_record_rejected_total', { reason: 'name-too-long' });
    assert.equal(after - before, 1);
    assert.ok(fs.existsSync(path.join(dir, 'web-app.json')), fs.readdirSync(dir).join(' '));
    assert.ok(!fs.readdirSync(dir).some((f) => f.includes('aaaa')));
  });

  it('a profile whose state file meets a permanent error (a directory planted there) is dropped, the rest goes on', { timeout: 60_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'rec-'));
    const stateDir = path.join(dir, '.state');
    fs.mkdirSync(path.join(stateDir, 'SeccompProfile.web-blocked.json'), { recursive: true });
    const rec = new Recorder({ recordings: parseRecordingFlags(['web=app=web'], RUN_RECORD_FLAG), out: new ProfileDirectory(dir), stateDir, log });
    const pod = { name: 'p', namespace: 'demo', uid: 'u1', labels: { app: 'web' } };
    const before = metricValue(await registry.metrics(), 'auditflow_record_rejected_total', { reason: 'write-failed' });
    await rec.write([seccomp({ id: 'c'.repeat(64), name: 'blocked', runtime: 'containerd', image: 'x' }, pod), seccomp({ id: 'd'.repeat(64), name: 'fine', runtime: 'containerd', image: 'x' }, pod)]);
    await rec.close();
    const after = metricValue(await registry.metrics(), 'auditflow_record_rejected_total', { reason: 'write-failed' });
    assert.equal(after - before, 1);
    assert.ok(fs.existsSync(path.join(dir, 'web-fine.json')));
  });
});

describe('a transient write error (disk full)', () => {
  it('is retried from where the write stopped: every event exactly once once space returns', { timeout: 120_000 }, async () => {
    const out = path.join(small, 'events.ndjson');
    fs.rmSync(out, { force: true });
    const filler = fill(16 * 1024);
    const child = spawn(process.execPath, [BIN, ...ONCE, '--output', out], { stdio: ['ignore', 'ignore', 'pipe'], env: ENV });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await pollUntil(() => /writing events failed; retrying/.test(stderr), 60_000, `the ENOSPC retry:\n${stderr.slice(-2000)}`);
    fs.rmSync(filler);
    assert.equal(await exited, 0, stderr.slice(-2000));
    const got = lines(fs.readFileSync(out, 'utf8'));
    const keys = got.map(key);
    assert.equal(new Set(keys).size, keys.length, 'no event written twice');
    assert.deepEqual(keys.sort(), expected);
    fs.rmSync(out);
  });

  it('SIGTERM ends the process within its grace period; the checkpoint holds only what was written', { timeout: 180_000 }, async () => {
    const out = path.join(small, 'events2.ndjson');
    fs.rmSync(out, { force: true });
    const filler = fill(0);
    const checkpoint = path.join(tmp, 'checkpoint.json');
    fs.rmSync(checkpoint, { force: true });
    const p = startRun(['--from-start', '--audit-log', FIXTURE, '--checkpoint', checkpoint, '--cri-socket', 'none', '--no-track-forks', '--events', 'all', '--output', out, '--shutdown-grace', '3']);
    await pollUntil(() => /writing events failed; retrying/.test(p.stderr()), 60_000, `the ENOSPC retry:\n${p.stderr().slice(-2000)}`);
    // generous: the grace is 3 s; a process that ignores SIGTERM is killed after 30 s and fails here
    const { code, signal } = await stopRun(p, 30_000);
    assert.equal(signal, null, `killed: SIGTERM did not end it\n${p.stderr().slice(-2000)}`);
    assert.equal(code, 1);
    // nothing was written, so nothing may be acked
    if (fs.existsSync(checkpoint)) assert.equal((JSON.parse(fs.readFileSync(checkpoint, 'utf8')) as { position: { offset: number } }).position.offset, 0);
    // with space again, a restart from that checkpoint writes every event, once
    fs.rmSync(filler);
    const r = run(['run', '--once', '--from-start', '--checkpoint', checkpoint, '--cri-socket', 'none', '--listen', 'none', '--no-progress', '--events', 'all', '--audit-log', FIXTURE, '--output', out]);
    assert.equal(r.code, 0, r.stderr.slice(-2000));
    const keys = lines(fs.readFileSync(out, 'utf8')).map(key);
    assert.equal(new Set(keys).size, keys.length);
    assert.deepEqual(keys.sort(), expected);
  });
});
