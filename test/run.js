#!/usr/bin/env node
// Runs a named group of test suites with Node's built-in runner over the compiled tests in dist/test.
// `npm test` runs every group; `npm run test:<group>` runs one; `npm run test:unit` the root-free tier. A group
// whose folder holds no compiled test is an error, never a silent pass. Output streams as each file finishes.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const groups = {
  parsers: ['parsers', 'cli'],
  node: ['node'],
  kafka: ['kafka'],
  k8s: ['k8s'],
  e2e: ['e2e'],
  oci: ['oci'],
  cluster: ['cluster'],
};

// `unit`: every test file, from every folder, that needs neither root nor a service (auditd, containerd,
// Kafka, the apiserver, a registry). A file is a service test when it uses the rig's service helpers or
// touches the audit subsystem, mounts or root-only paths; the list is derived, not kept by hand, so a new
// file lands in the right tier by what it does.
const SERVICE =
  /require\("\.\.\/env\/(rig|cri|kafka|kube|runc|k8s-setup|run-node|registry|e2e-procs|cluster)"\)|auditctl|getuid|\bmount\b|scmp_sys_resolver|\/dev\/kmsg/;

function unitFiles() {
  const files = [];
  const top = path.join(root, 'dist', 'test');
  for (const d of fs.existsSync(top) ? fs.readdirSync(top).sort() : []) {
    const dir = path.join(top, d);
    if (!fs.statSync(dir).isDirectory() || d === 'env' || d === 'bench') continue;
    for (const f of fs.readdirSync(dir, { recursive: true }).map(String).sort()) {
      if (f.endsWith('.test.js') && !SERVICE.test(fs.readFileSync(path.join(dir, f), 'utf8'))) files.push(path.join(dir, f));
    }
  }
  if (files.length === 0) fail('no compiled unit tests in dist/test; run "npm run build" first');
  return files;
}

function groupDirs(names) {
  const dirs = [];
  for (const name of names) {
    if (!groups[name]) fail(`unknown test group "${name}" (known: ${Object.keys(groups).join(', ')}, unit, all)`);
    for (const d of groups[name]) {
      const dir = path.join(root, 'dist', 'test', d);
      const found = fs.existsSync(dir) && fs.readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.test.js'));
      if (!found) fail(`no compiled tests in ${path.relative(root, dir)}; run "npm run build" first`);
      dirs.push(dir);
    }
  }
  return dirs;
}

function fail(message) {
  console.error(`test/run.js: ${message}`);
  process.exit(2);
}

/** Runs node --test, streaming its output; resolves to its exit code and the counts of its closing summary. */
function runTests(args, label) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['inherit', 'pipe', 'inherit'], cwd: root });
    let out = '';
    child.stdout.on('data', (b) => {
      process.stdout.write(b);
      out += b.toString('utf8');
      if (out.length > 1 << 24) out = out.slice(-(1 << 20)); // only the summary at the end is read back
    });
    const t0 = Date.now();
    const stop = (sig) => child.kill(sig);
    for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, stop);
    child.on('close', (code) => {
      for (const sig of ['SIGINT', 'SIGTERM']) process.off(sig, stop);
      // The plain closing line, whatever reporter is in use.
      const count = (k) => Number((out.match(new RegExp(`^ℹ ${k} (\\d+)$`, 'm')) || [])[1] || 0);
      console.log(`test/run.js: ${label} in ${Math.round((Date.now() - t0) / 1000)} s`);
      resolve({ code: code === null ? 1 : code, pass: count('pass'), fail: count('fail') + count('cancelled'), skip: count('skipped') + count('todo') });
    });
  });
}

function finish(results) {
  const sum = (k) => results.reduce((n, r) => n + r[k], 0);
  console.log(`tests: ${sum('pass')} passed, ${sum('fail')} failed, ${sum('skip')} skipped`);
  process.exit(results.find((r) => r.code !== 0)?.code ?? 0);
}

const want = process.argv[2] || 'all';
if (want === 'unit') {
  // files in parallel: none of them shares a service. Three at a time on the 2-core machine (node's default is
  // cores - 1, one here): most of these wait on child CLIs and files, and the tier takes ~55 s instead of ~100.
  runTests(['--test', '--test-concurrency=3', '--test-reporter=spec', ...unitFiles()], 'unit').then((r) => finish([r]));
} else {
  // One file at a time: the suites share one auditd, containerd, apiserver and the audit rules. The cluster
  // group runs last, on its own: its kubelet owns the cgroupfs /kubepods hierarchy, where the CRI rig's pods
  // also live, and kills pod cgroups it does not know (kubelet's orphaned-pod cleanup), so no CRI test may
  // run while it is up (node --test orders the files of several folders by name, which put it in the middle).
  const names = want === 'all' ? Object.keys(groups) : [want];
  const phases = [names.filter((n) => n !== 'cluster'), names.filter((n) => n === 'cluster')].filter((p) => p.length);
  (async () => {
    const results = [];
    for (const p of phases) results.push(await runTests(['--test', '--test-concurrency=1', '--test-reporter=spec', ...groupDirs(p)], p.join(', ')));
    finish(results);
  })();
}
