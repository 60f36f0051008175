// Issue 10, the CLI side: inputs that cannot seek (FIFO, <(…), /dev/stdin as a pipe) are read, gzip on stdin is
// recognised, a gzip with a bad CRC or a truncated tail gives all it decompressed then a one-line error and exit
// 1, and output that cannot be written (stdout on a full disk, -o into a missing directory, a reader that went
// away) is one line on stderr and exit 1 (EPIPE: quiet, exit 0), never a stack trace or a hang.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { BIN, ROOT, runCli } from '../env/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-io-errors-'));
const SECCOMP = path.join(ROOT, 'fixtures/real/seccomp-auditd.log');
const AVC = path.join(ROOT, 'fixtures/real/avc-auditd.log');
const ENV = { ...process.env, AUDITFLOW_LOG_LEVEL: 'warn' };
const STACK = /^\s+at /m;

/** Plain log of `times` copies of the seccomp fixture (distinct enough to check counts), and its gzip. */
let plain: string;
let gz: string;
let plainText: string;
const writers: ChildProcess[] = [];

before(() => {
  plainText = fs.readFileSync(SECCOMP, 'utf8').repeat(300) + fs.readFileSync(AVC, 'utf8');
  plain = path.join(tmp, 'audit.log');
  fs.writeFileSync(plain, plainText);
  gz = path.join(tmp, 'audit.log.gz');
  fs.writeFileSync(gz, zlib.gzipSync(plainText));
});
after(() => {
  for (const w of writers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The output lines of a command, as a list. */
const lines = (s: string) => s.split('\n').filter(Boolean);

/** A FIFO that a separate process fills with `file` and closes. */
function fifoOf(file: string): { fifo: string; done: Promise<void> } {
  const fifo = path.join(tmp, `fifo-${Math.random().toString(36).slice(2)}`);
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const w = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', file, fifo], { stdio: 'ignore' });
  writers.push(w);
  return { fifo, done: new Promise((r) => w.on('exit', () => r())) };
}

/** Runs the bin with stdout on `fd`, returns exit code and stderr. */
function runToFd(args: string[], fd: number, input?: Buffer): { code: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: [input ? 'pipe' : 'ignore', fd, 'pipe'], input, encoding: 'utf8', env: ENV });
  return { code: r.status, stderr: r.stderr };
}

/** stderr holds exactly one line and no stack trace. */
function oneLine(stderr: string, re: RegExp): void {
  assert.doesNotMatch(stderr, STACK, stderr);
  const l = lines(stderr);
  assert.equal(l.length, 1, stderr);
  assert.match(l[0]!, re);
}

describe('non-seekable inputs are read (no ESPIPE)', () => {
  let expected: string;
  before(() => {
    const r = runCli(['parse', plain]);
    assert.equal(r.code, 0, r.stderr);
    expected = r.stdout.replaceAll(JSON.stringify(plain), 'null');
    assert.ok(lines(expected).length > 3000);
  });
  // events name their file; from a pipe there is none to name, so compare with the file's names blanked
  const normalize = (out: string, name: string) => out.replaceAll(JSON.stringify(name), 'null');

  it('parse reads a FIFO, plain and gzip', async () => {
    for (const src of [plain, gz]) {
      const { fifo, done } = fifoOf(src);
      const r = runCli(['parse', '--no-progress', fifo]);
      await done;
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /ESPIPE/);
      assert.equal(normalize(r.stdout, fifo), expected);
    }
  });

  it('parse reads /dev/stdin when it is a pipe (and when it is a socket), plain and gzip', () => {
    for (const src of [plain, gz]) {
      const r = spawnSync('sh', ['-c', `cat "${src}" | "${process.execPath}" "${BIN}" parse /dev/stdin`], { encoding: 'utf8', env: ENV, maxBuffer: 256 << 20 });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(normalize(r.stdout, '/dev/stdin'), expected);
      // spawnSync's `input` is a socket, which /dev/stdin cannot reopen (ENXIO): read as stdin itself
      const s = runCli(['parse', '/dev/stdin'], fs.readFileSync(src));
      assert.equal(s.code, 0, s.stderr);
      assert.equal(normalize(s.stdout, '/dev/stdin'), expected);
    }
  });

  it('parse reads a bash process substitution <(…)', () => {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" parse --no-progress <(cat "${gz}")`], { encoding: 'utf8', env: ENV, maxBuffer: 256 << 20 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(lines(r.stdout).length, lines(expected).length);
  });

  it('profile reads a FIFO and /dev/stdin as a pipe: the same profile as from the file', async () => {
    const want = runCli(['profile', plain]);
    assert.equal(want.code, 0, want.stderr);
    const { fifo, done } = fifoOf(gz);
    const fromFifo = runCli(['profile', fifo]);
    await done;
    assert.equal(fromFifo.code, 0, fromFifo.stderr);
    assert.equal(fromFifo.stdout, want.stdout);
    const fromStdin = spawnSync('sh', ['-c', `cat "${plain}" | "${process.execPath}" "${BIN}" profile /dev/stdin`], { encoding: 'utf8', env: ENV });
    assert.equal(fromStdin.status, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, want.stdout);
  });

  it('denials reads a FIFO and /dev/stdin as a pipe: the same rows as from the file', async () => {
    const events = path.join(tmp, 'events.ndjson');
    fs.writeFileSync(events, runCli(['parse', plain]).stdout);
    const want = runCli(['denials', '--all', '-o', 'ndjson', events]);
    assert.equal(want.code, 0, want.stderr);
    assert.ok(lines(want.stdout).length > 3000);
    const { fifo, done } = fifoOf(events);
    const fromFifo = runCli(['denials', '--all', '-o', 'ndjson', fifo]);
    await done;
    assert.equal(fromFifo.code, 0, fromFifo.stderr);
    assert.equal(fromFifo.stdout, want.stdout);
    const fromStdin = spawnSync('sh', ['-c', `cat "${events}" | "${process.execPath}" "${BIN}" denials --all -o ndjson /dev/stdin`], { encoding: 'utf8', env: ENV, maxBuffer: 256 << 20 });
    assert.equal(fromStdin.status, 0, fromStdin.stderr);
    assert.equal(fromStdin.stdout, want.stdout);
  });
});

describe('gzip errors: all that decompressed comes out, then one line and exit 1', () => {
  it('gzip on stdin ("-" and no argument) is recognised by its magic bytes', () => {
    const want = runCli(['parse', plain]).stdout.replaceAll(JSON.stringify(plain), 'null');
    for (const args of [['parse', '-'], ['parse']]) {
      const r = runCli(args, fs.readFileSync(gz));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, want);
    }
  });

  it('multi-member gzip (concatenated members) keeps working, from a file and from stdin', () => {
    const two = path.join(tmp, 'two.gz');
    fs.writeFileSync(two, Buffer.concat([zlib.gzipSync(plainText), zlib.gzipSync(plainText)]));
    const one = lines(runCli(['parse', plain]).stdout).length;
    const f = runCli(['parse', two]);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(lines(f.stdout).length, 2 * one);
    const s = runCli(['parse', '-'], fs.readFileSync(two));
    assert.equal(s.code, 0, s.stderr);
    assert.equal(lines(s.stdout).length, 2 * one);
  });

  it('a bad CRC: every record is still parsed and written, then the CRC error (file and stdin)', () => {
    const bad = Buffer.from(fs.readFileSync(gz));
    bad[bad.length - 8] ^= 0xff; // the CRC-32 of the trailer
    const badFile = path.join(tmp, 'badcrc.gz');
    fs.writeFileSync(badFile, bad);
    const want = runCli(['parse', plain]).stdout;
    const r = runCli(['parse', badFile]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, /^auditflow parse: .*badcrc\.gz: corrupt gzip file: CRC mismatch/);
    assert.equal(r.stdout, want.replaceAll(JSON.stringify(plain), JSON.stringify(badFile)));
    const s = runCli(['parse', '-'], bad);
    assert.equal(s.code, 1);
    oneLine(s.stderr, /^auditflow parse: stdin: corrupt gzip file: CRC mismatch/);
    assert.equal(lines(s.stdout).length, lines(want).length);
  });

  it('a truncated tail: the events of every complete line come out (--events, --summary, profile), then the error', () => {
    const whole = fs.readFileSync(gz);
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    const cutFile = path.join(tmp, 'cut.gz');
    fs.writeFileSync(cutFile, cut);
    // what a decoder can get out of the cut file, up to its last complete line
    const prefix = zlib.gunzipSync(cut, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const complete = path.join(tmp, 'complete.log');
    fs.writeFileSync(complete, prefix.subarray(0, prefix.lastIndexOf(10) + 1));
    assert.ok(prefix.length > 100_000);

    const want = runCli(['parse', '--events', complete]);
    const r = runCli(['parse', '--events', cutFile]);
    assert.equal(r.code, 1);
    // the partial last line is counted as a parse error (a warning), then the one error line
    assert.doesNotMatch(r.stderr, STACK, r.stderr);
    assert.match(r.stderr, /^auditflow parse: .*cut\.gz: truncated gzip file/m);
    assert.equal(r.stdout, want.stdout.replaceAll(JSON.stringify(complete), JSON.stringify(cutFile)));

    const sum = runCli(['parse', '--summary', '--no-progress', cutFile]);
    assert.equal(sum.code, 1);
    const records = (out: string) => Number(/records (\d+)/.exec(out)?.[1]);
    assert.equal(records(sum.stdout), records(runCli(['parse', '--summary', '--no-progress', complete]).stdout), sum.stdout);

    const p = runCli(['profile', cutFile]);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /truncated gzip file/);
    assert.equal(p.stdout, runCli(['profile', complete]).stdout);
  });
});

describe('write errors: one line and exit 1, never a stack trace or a hang', () => {
  it('stdout on a full disk (/dev/full): parse, parse --summary, profile, denials', () => {
    const full = fs.openSync('/dev/full', 'w');
    try {
      const events = path.join(tmp, 'events-full.ndjson');
      fs.writeFileSync(events, runCli(['parse', SECCOMP]).stdout);
      for (const [args, name] of [
        [['parse', plain], 'parse'],
        [['parse', '--summary', '--no-progress', plain], 'parse'],
        [['profile', plain], 'profile'],
        [['denials', '--all', '-o', 'ndjson', events], 'denials'],
      ] as const) {
        const r = runToFd([...args], full);
        assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
        oneLine(r.stderr, new RegExp(`^auditflow ${name}: cannot write to stdout: ENOSPC`));
      }
    } finally {
      fs.closeSync(full);
    }
  });

  it('profile -o into a missing directory', () => {
    const r = runCli(['profile', '-o', path.join(tmp, 'missing/dir/p.json'), plain]);
    assert.equal(r.code, 1);
    oneLine(r.stderr, /^auditflow profile: cannot write .*missing\/dir\/p\.json: ENOENT/);
  });

  /** Runs the bin with a stdout pipe whose reader goes away at once; resolves with the exit and stderr. */
  function readerGone(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: ENV });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  }

  it('EPIPE (| head): profile ends quietly, exit 0', async () => {
    const r = await readerGone(['profile', plain]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });

  it('EPIPE (| head): parse stops reading and ends quietly even when its input never ends', { timeout: 120_000 }, async () => {
    // the FIFO's writer keeps it open: a parse that read on after EPIPE would never end
    const fifo = path.join(tmp, 'endless');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const w = spawn('sh', ['-c', 'exec 3>"$2"; cat "$1" >&3; exec sleep 600', 'sh', plain, fifo], { stdio: 'ignore' });
    writers.push(w);
    const r = await readerGone(['parse', '--no-progress', fifo]);
    w.kill('SIGKILL');
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
  });
});
