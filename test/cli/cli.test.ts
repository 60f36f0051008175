// The auditflow command line, run as a user would run it (the compiled bin, real files, real pipes).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';

import { BIN, ROOT, runCli as run } from '../env/cli';

const FX = path.join(ROOT, 'fixtures/real');

function ndjson(s: string): Array<Record<string, unknown>> {
  return s.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

describe('auditflow CLI', () => {
  it('top-level --help lists the commands; every subcommand has --help', () => {
    const top = run(['--help']);
    assert.equal(top.code, 0);
    for (const cmd of ['parse', 'profile']) {
      assert.match(top.stdout, new RegExp(`\\b${cmd}\\b`));
      const h = run([cmd, '--help']);
      assert.equal(h.code, 0, `${cmd} --help`);
      assert.match(h.stdout, new RegExp(`^Usage: auditflow ${cmd}`));
    }
  });

  it('usage errors exit 2, runtime errors exit 1', () => {
    assert.equal(run(['frobnicate']).code, 2);
    const badFlag = run(['parse', '--no-such-flag']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /no-such-flag/);
    const missing = run(['parse', '/nonexistent/audit.log']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot open \/nonexistent\/audit.log: ENOENT/);
  });

  it('parse writes one schema-v1 object per record with the contract fields', () => {
    const r = run(['parse', path.join(FX, 'seccomp-auditd.log')]);
    assert.equal(r.code, 0, r.stderr);
    const evs = ndjson(r.stdout);
    assert.equal(evs.length, fs.readFileSync(path.join(FX, 'seccomp-auditd.log'), 'utf8').trim().split('\n').length);
    const first = evs[0]!;
    for (const k of ['schema', 'type', 'kind', 'timestamp', 'serial', 'node', 'source', 'pid', 'comm', 'exe', 'uid', 'gid', 'auid', 'ses', 'arch', 'syscall', 'syscallNr', 'action', 'container', 'pod', 'enrichment']) {
      assert.ok(k in first, `field ${k} missing`);
    }
    assert.equal(first.schema, 'auditflow.event/v1');
    assert.equal(first.timestamp, '2025-02-26T02:03:30.396Z');
    assert.equal(first.serial, 1727850);
    assert.equal(first.syscall, 'fchmodat');
    assert.equal(first.action, 'log');
    assert.deepEqual(first.source, { file: path.join(FX, 'seccomp-auditd.log'), format: 'auditd' });
    assert.equal(first.enrichment, 'unresolved');
  });

  it('parse reads stdin and gzip files the same as plain files', () => {
    const file = path.join(FX, 'avc-auditd.log');
    const plain = run(['parse', '--node', 'n1', file]).stdout;
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'af-')), 'avc.log.gz');
    fs.writeFileSync(tmp, zlib.gzipSync(fs.readFileSync(file)));
    const gz = run(['parse', '--node', 'n1', tmp]).stdout;
    const stdin = run(['parse', '--node', 'n1', '-'], fs.readFileSync(file)).stdout;
    const strip = (s: string) => ndjson(s).map((e) => ({ ...e, source: undefined }));
    assert.ok(plain.length > 0);
    assert.deepEqual(strip(gz), strip(plain));
    assert.deepEqual(strip(stdin), strip(plain));
  });

  it('parse --events coalesces the records of an event into one object', () => {
    const r = run(['parse', '--events', path.join(FX, 'avc-auditd.log')]);
    const evs = ndjson(r.stdout);
    const ev = evs.find((e) => e.serial === 293)!;
    assert.equal(ev.type, 'AVC');
    assert.deepEqual(ev.records, ['AVC', 'SYSCALL', 'CWD', 'PATH']);
    assert.equal(ev.exe, '/usr/libexec/postfix/pickup');
    assert.equal(ev.syscall, 'open');
    assert.equal(ev.cwd, '/var/spool/postfix');
    assert.deepEqual(ev.paths, ['maildrop']);
  });

  it('parse --summary prints the table with counts by type, action and errors', () => {
    const r = run(['parse', '--summary', path.join(FX, 'seccomp-syslog.log'), path.join(FX, 'odd.log')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^lines \d+ {2}records \d+ {2}parse errors \d+/);
    assert.match(r.stdout, /record type +count/);
    assert.match(r.stdout, /seccomp action +count\n-+ +-+\nlog +\d+/);
    assert.match(r.stdout, /top syscalls/);
  });

  it('garbage input is counted and logged, the run goes on', () => {
    const input = Buffer.concat([
      Buffer.from('this is not audit\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x41, 0x0a]),
      Buffer.from('type=SECCOMP msg=audit(1740670474.406:2766278): pid=6412 comm="chmod" exe="/usr/bin/chmod" sig=0 arch=c000003e syscall=268 compat=0 ip=0x7f5c0fae83c7 code=0x7ffc0000\n'),
      Buffer.from('type=SECCOMP msg=audit(1740670474.406:27\n'),
      Buffer.from('type=EXECVE msg=audit(1.000:1): a0="' + 'x'.repeat(2 << 20) + '"\n'),
      Buffer.from('type=SECCOMP msg=audit(1740670474.407:2766279): pid=6412 comm="chmod" exe="/usr/bin/chmod" sig=0 arch=c000003e syscall=90 compat=0 ip=0x7f5c0fae83c7 code=0x7ffc0000\n'),
    ]);
    const r = run(['parse', '-'], input);
    assert.equal(r.code, 0, r.stderr);
    const evs = ndjson(r.stdout);
    assert.deepEqual(evs.map((e) => e.syscall), ['fchmodat', 'chmod']);
    const logs = ndjson(r.stderr);
    const reasons = logs.map((l) => l.reason);
    for (const reason of ['no-audit-header', 'nul-byte', 'truncated', 'line-too-long']) assert.ok(reasons.includes(reason), `${reason} logged`);
    const s = run(['parse', '--summary', '-'], input);
    assert.match(s.stdout, /parse errors 4/);
  });

  it('profile --format oci builds a runtime-spec profile from SECCOMP records', () => {
    const r = run(['profile', path.join(FX, 'seccomp-syslog.log'), '--comm', 'sh']);
    assert.equal(r.code, 0, r.stderr);
    const p = JSON.parse(r.stdout);
    assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
    assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const names = p.syscalls[0].names as string[];
    assert.equal(p.syscalls[0].action, 'SCMP_ACT_ALLOW');
    assert.deepEqual(names, [...names].sort(), 'sorted');
    assert.equal(new Set(names).size, names.length, 'unique');
    assert.ok(names.includes('write') && names.includes('rt_sigaction'));
  });

  it('profile --format seccompprofile writes the SPO resource with coverage', () => {
    const r = run(['profile', '--format', 'seccompprofile', '--name', 'demo-app', path.join(FX, 'seccomp-syslog.log')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^apiVersion: "security-profiles-operator.x-k8s.io\/v1"\nkind: "SeccompProfile"\nmetadata:\n {2}name: "demo-app"/);
    assert.match(r.stdout, /spo.x-k8s.io\/syscall-coverage: "\{\\"version\\":\\"v1\\",\\"total\\":\d+/);
    assert.match(r.stdout, /spec:\n {2}defaultAction: "SCMP_ACT_ERRNO"/);
  });

  it('profile refuses hostile names', () => {
    for (const name of ['../../etc', 'a/b', 'UPPER', '', 'x'.repeat(300)]) {
      const r = run(['profile', '--name', name, path.join(FX, 'seccomp-auditd.log')]);
      assert.equal(r.code, 2, `name ${JSON.stringify(name)}`);
    }
  });

  it('profile --format selinuxprofile and cil from AVC denials', () => {
    const file = path.join(FX, 'avc-auditd.log');
    const y = run(['profile', '--format', 'selinuxprofile', '--name', 'pickup', '--comm', 'pickup', file]);
    assert.equal(y.code, 0, y.stderr);
    assert.match(y.stdout, /kind: "SelinuxProfile"/);
    assert.match(y.stdout, /inherit:\n {2}- kind: "System"\n {4}name: "container"/);
    assert.match(y.stdout, /postfix_spool_maildrop_t:\n {6}dir:\n {6}- "read"\n {6}- "write"/);
    const c = run(['profile', '--format', 'cil', '--name', 'pickup', '--comm', 'pickup', file]);
    assert.match(c.stdout, /^\(block pickup\n {4}\(blockinherit container\)\n/);
    assert.match(c.stdout, /\(allow process postfix_spool_maildrop_t \( dir \( read write \)\)\)/);
  });

  it('profile with nothing selected fails with a message', () => {
    const r = run(['profile', '--pid', '1', path.join(FX, 'seccomp-auditd.log')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no SECCOMP records matched/);
  });
});

describe('progress bar', () => {
  // script(1) (util-linux/bsdutils, on every Debian) gives the command a real pseudo-terminal.
  const big = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'af-progress-')), 'big.log');
  fs.writeFileSync(big, fs.readFileSync(path.join(FX, 'avc-auditd.log'), 'utf8').repeat(80));
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} parse --summary ${JSON.stringify(big)} >/dev/null`;

  it('is drawn on stderr when it is a terminal and the input is a file', () => {
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `script(1) missing or failed: ${r.stderr}`);
    assert.match(r.stdout, /\r\[#+\.*\] +\d+% +[\d.]+ MB\/s/);
  });

  it('is not drawn when stderr is not a terminal', () => {
    const r = spawnSync('bash', ['-c', cmd], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stderr, /\r\[/);
  });
});
