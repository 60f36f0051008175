// `auditflow agent` as a process, as deployed: its service account's kubeconfig, a kubelet directory, /healthz
// and /metrics, SIGTERM to stop; and its usage errors.
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { API_VERSION } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { BIN, runCli } from '../env/cli';
import { clientAs, ensureDeployed, eventually, forgetNode, uniqueName } from '../env/k8s-setup';
import { SA_NAMESPACE, type KubeEnv } from '../env/kube';
import { freePort } from '../env/net';

const NODE = uniqueName('cli-node');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-agent-cli-'));
const PROFILE = uniqueName('cli');
let env: KubeEnv;
let admin: KubeClient;
let child: ChildProcess | undefined;
let stderr = '';

async function httpGet(url: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const r = await fetch(url);
    return { status: r.status, text: await r.text() };
  } catch {
    return undefined;
  }
}

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
});

after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (admin) {
    await forgetNode(admin, NODE, SA_NAMESPACE);
    await admin.delete(resourcePath(SECCOMP_PROFILES, { name: PROFILE })).catch(() => undefined);
    admin.close();
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('auditflow agent (process)', () => {
  it('runs with the agent service account, serves /healthz and /metrics, installs profiles, stops on SIGTERM', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      [BIN, 'agent', '--node-name', NODE, '--kubelet-dir', path.join(tmp, 'kubelet'), '--namespace', SA_NAMESPACE, '--kubeconfig', env.kubeconfigFor('auditflow-agent'), '--listen', `127.0.0.1:${port}`],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, AUDITFLOW_LOG_LEVEL: 'info' } },
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.on('exit', (code) => resolve(code)));

    await eventually('/healthz answers 200', async () => (await httpGet(`http://127.0.0.1:${port}/healthz`))?.status === 200, 60_000).catch((e: Error) => {
      throw new Error(`${e.message}\nagent stderr:\n${stderr.slice(-3000)}`);
    });
    await admin.apply(resourcePath(SECCOMP_PROFILES, { name: PROFILE }), {
      apiVersion: API_VERSION,
      kind: 'SeccompProfile',
      metadata: { name: PROFILE },
      spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] },
    });
    const file = path.join(tmp, 'kubelet', 'seccomp', 'operator', `${PROFILE}.json`);
    await eventually(`${file} written by the agent process`, () => fs.existsSync(file));
    assert.deepEqual(JSON.parse(fs.readFileSync(file, 'utf8')), { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] });
    const metrics = (await httpGet(`http://127.0.0.1:${port}/metrics`))!;
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /auditflow_agent_profile_files_total\{kind="SeccompProfile",op="written"\} [1-9]/);
    assert.match(metrics.text, /auditflow_agent_profiles\{kind="SeccompProfile",state="Installed"\} [1-9]/);
    assert.match(metrics.text, /auditflow_process_cpu_user_seconds_total/);

    child.kill('SIGTERM');
    assert.equal(await exited, 0, `exit status; stderr:\n${stderr.slice(-2000)}`);
    assert.match(stderr, /"msg":"stopping node agent"/);
  });

  it('refuses bad options with exit 2 and a missing kubeconfig with exit 1', () => {
    for (const args of [
      ['agent', '--node-name', 'Not_A_Node'],
      ['agent', '--listen', 'nonsense'],
      ['agent', '--namespace', 'UPPER'],
      ['agent', '--kubelet-dir', '/a', '--kubelet-seccomp-root', '/b/seccomp'],
      ['agent', '--bogus'],
    ]) {
      const r = runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /auditflow agent: /);
    }
    const r = runCli(['agent', '--node-name', 'n1', '--kubeconfig', path.join(tmp, 'missing.yaml')]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot read kubeconfig .*missing\.yaml/);
  });
});
