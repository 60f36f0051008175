// Credentials computed at request time by @kubernetes/client-node, through src/k8s/kubeconfig.ts into
// KubeClient's requests against the real apiserver: exec plugins (ExecCredential with a token or a client
// certificate), the OIDC auth-provider, and the in-cluster service account (loadFromCluster).
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, KubeClient, type WatchEvent } from '../../src/k8s/client';
import { fromKubeconfig, inClusterAccess, KubeconfigError, type ClusterAccess } from '../../src/k8s/kubeconfig';
import { ensureKube, run, type KubeEnv } from '../env/kube';

let env: KubeEnv;
let admin: KubeClient;
let tmp: string;
const NS = 'default';
const SA = `kubeconfig-test-${randomBytes(3).toString('hex')}`;

before(async () => {
  env = await ensureKube();
  admin = KubeClient.load(env.kubeconfig, 'auditflow-test');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-kubeconfig-auth-'));
  await admin.apply(`/api/v1/namespaces/${NS}/serviceaccounts/${SA}`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } });
});

after(async () => {
  await admin?.delete(`/api/v1/namespaces/${NS}/serviceaccounts/${SA}`).catch(() => undefined);
  admin?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** A signed service-account JWT from the TokenRequest API: what kubelet projects into pods. */
async function serviceAccountToken(): Promise<string> {
  const r = await admin.create<{ status: { token: string } }>(`/api/v1/namespaces/${NS}/serviceaccounts/${SA}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  assert.match(r.status.token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  return r.status.token;
}

async function whoami(access: ClusterAccess): Promise<string> {
  const c = new KubeClient(access, 'auditflow-test');
  try {
    const r = await c.request<{ status: { userInfo: { username: string } } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    return r.status.userInfo.username;
  } finally {
    c.close();
  }
}

function kubeconfig(file: string, user: Record<string, unknown>): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'rig', cluster: { server: env.server, 'certificate-authority': env.ca } }],
      users: [{ name: 'me', user }],
      contexts: [{ name: 'me@rig', context: { cluster: 'rig', user: 'me' } }],
      'current-context': 'me@rig',
    }),
  );
  return file;
}

/**
 * An exec credential plugin: prints `credentialFile` (an ExecCredential) and appends a line to `calls` per run;
 * with `failWith` set, says it on stderr and exits 1 instead.
 */
function plugin(dir: string): { script: string; calls: string; credential: string; fail: string } {
  fs.mkdirSync(dir, { recursive: true });
  const script = path.join(dir, 'credential-plugin.sh');
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      'echo run >>"$PLUGIN_DIR/calls"',
      'if [ -f "$PLUGIN_DIR/fail" ]; then cat "$PLUGIN_DIR/fail" >&2; exit 1; fi',
      'cat "$PLUGIN_DIR/credential.json"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { script, calls: path.join(dir, 'calls'), credential: path.join(dir, 'credential.json'), fail: path.join(dir, 'fail') };
}

const execCredential = (status: Record<string, unknown>) => JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status });
const runs = (calls: string) => (fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').split('\n').filter(Boolean).length : 0);

describe('kubeconfig: exec credential plugins', () => {
  it('a token from an exec plugin (relative command, env) reaches requests and watches; concurrent requests share one run', async () => {
    const dir = path.join(tmp, 'exec-token');
    const p = plugin(dir);
    fs.writeFileSync(p.credential, execCredential({ token: env.tokenFor('admin') }));
    const file = kubeconfig(path.join(dir, 'config'), {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './credential-plugin.sh', env: [{ name: 'PLUGIN_DIR', value: dir }], interactiveMode: 'Never' },
    });
    const access = fromKubeconfig(file);
    assert.equal(access.token, undefined, 'no static token: it comes from the plugin');
    assert.equal(runs(p.calls), 0, 'the plugin runs at the first request, not at load');
    const c = new KubeClient(access, 'auditflow-test');
    try {
      const names = await Promise.all([1, 2, 3, 4].map(() => c.get<{ items: unknown[] }>('/api/v1/namespaces')));
      assert.ok(names.every((l) => Array.isArray(l.items) && l.items.length > 0), 'admin lists namespaces');
      assert.equal(runs(p.calls), 1, 'one plugin run for concurrent requests');
      assert.equal(await whoami(access), 'admin');
      // a watch carries the same credentials
      const cm = `exec-${randomBytes(3).toString('hex')}`;
      const list = await c.get<{ metadata: { resourceVersion: string } }>(`/api/v1/namespaces/${NS}/configmaps`);
      const seen: WatchEvent<{ metadata: { name: string } }>[] = [];
      const ac = new AbortController();
      const watching = c.watch<{ metadata: { name: string } }>(`/api/v1/namespaces/${NS}/configmaps`, { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 30 }, (e) => {
        seen.push(e);
        if (e.object.metadata.name === cm) ac.abort();
      }, ac.signal).then(() => new Error('the watch ended before the ConfigMap was seen'), (e: unknown) => e);
      await c.create(`/api/v1/namespaces/${NS}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm }, data: { k: 'v' } });
      assert.match(String(await watching), /watch aborted/, 'the watch was stopped by us, on seeing the ConfigMap');
      assert.ok(seen.some((e) => e.type === 'ADDED' && e.object.metadata.name === cm), 'the watch saw the new ConfigMap');
      await c.delete(`/api/v1/namespaces/${NS}/configmaps/${cm}`);
    } finally {
      c.close();
    }
  });

  it('a client certificate from an exec plugin is presented on the TLS connection', async () => {
    const dir = path.join(tmp, 'exec-cert');
    const p = plugin(dir);
    const cn = `exec-cert-${randomBytes(3).toString('hex')}`;
    const pki = path.join(env.dir, 'pki');
    const key = path.join(dir, 'k.pem');
    const csr = path.join(dir, 'c.csr');
    const crt = path.join(dir, 'c.pem');
    assert.equal((await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', key, '-out', csr])).status, 0);
    const sign = await run('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(pki, 'ca.crt'), '-CAkey', path.join(pki, 'ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-out', crt]);
    assert.equal(sign.status, 0, sign.stderr);
    fs.writeFileSync(p.credential, execCredential({ clientCertificateData: fs.readFileSync(crt, 'utf8'), clientKeyData: fs.readFileSync(key, 'utf8') }));
    const file = kubeconfig(path.join(dir, 'config'), { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: p.script, env: [{ name: 'PLUGIN_DIR', value: dir }] } });
    assert.equal(await whoami(fromKubeconfig(file)), cn);
  });

  it('a failing plugin fails the request with its message (no crash); once it works again, so do requests', async () => {
    const dir = path.join(tmp, 'exec-fail');
    const p = plugin(dir);
    fs.writeFileSync(p.credential, execCredential({ token: env.tokenFor('admin') }));
    fs.writeFileSync(p.fail, 'plugin says: identity provider unreachable');
    const access = fromKubeconfig(kubeconfig(path.join(dir, 'config'), { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: p.script, env: [{ name: 'PLUGIN_DIR', value: dir }] } }));
    await assert.rejects(whoami(access), (e: unknown) => e instanceof ApiError && e.status === 0 && /no credentials: plugin says: identity provider unreachable/.test(e.message));
    await assert.rejects(access.authenticate(), KubeconfigError);
    fs.rmSync(p.fail);
    assert.equal(await whoami(access), 'admin', 'a failure is not cached');
  });

  it('after a 401 the plugin is run again for a new credential', async () => {
    const dir = path.join(tmp, 'exec-401');
    const p = plugin(dir);
    // a credential that claims to be valid for an hour, which client-node would otherwise keep using
    const expiry = new Date(Date.now() + 3600_000).toISOString();
    fs.writeFileSync(p.credential, execCredential({ token: 'revoked-token', expirationTimestamp: expiry }));
    const access = fromKubeconfig(kubeconfig(path.join(dir, 'config'), { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: p.script, env: [{ name: 'PLUGIN_DIR', value: dir }] } }));
    await assert.rejects(whoami(access), (e: unknown) => e instanceof ApiError && e.status === 401);
    fs.writeFileSync(p.credential, execCredential({ token: env.tokenFor('nobody'), expirationTimestamp: expiry }));
    assert.equal(await whoami(access), 'nobody');
    assert.equal(runs(p.calls), 2);
  });
});

describe('kubeconfig: OIDC and in-cluster', () => {
  it('the OIDC auth-provider: an unexpired id-token is sent as the bearer token', async () => {
    const jwt = await serviceAccountToken();
    const file = kubeconfig(path.join(tmp, 'oidc', 'config'), {
      'auth-provider': { name: 'oidc', config: { 'client-id': 'auditflow', 'idp-issuer-url': 'https://issuer.invalid', 'id-token': jwt } },
    });
    assert.equal(await whoami(fromKubeconfig(file)), `system:serviceaccount:${NS}:${SA}`);
  });

  it('in-cluster: KUBERNETES_SERVICE_HOST/PORT and the service-account token and CA files', async () => {
    const root = path.join(tmp, 'pod');
    const sa = path.join(root, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount');
    fs.mkdirSync(sa, { recursive: true });
    fs.writeFileSync(path.join(sa, 'token'), await serviceAccountToken());
    fs.copyFileSync(env.ca, path.join(sa, 'ca.crt'));
    fs.writeFileSync(path.join(sa, 'namespace'), NS);
    const url = new URL(env.server);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    const restore = () => {
      for (const [k, v] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    };
    let access: ClusterAccess;
    try {
      delete process.env.KUBERNETES_SERVICE_PORT;
      process.env.KUBERNETES_SERVICE_HOST = url.hostname;
      assert.throws(() => inClusterAccess(root), /KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT/);
      process.env.KUBERNETES_SERVICE_PORT = url.port;
      access = inClusterAccess(root);
      assert.throws(() => inClusterAccess(path.join(tmp, 'not-a-pod')), /in-cluster service account: no token at /);
    } finally {
      restore();
    }
    assert.equal(access.server, env.server);
    assert.equal(access.source, 'in-cluster service account (context inClusterContext)');
    assert.equal(access.tokenFile, path.join(sa, 'token'));
    assert.deepEqual(access.ca, fs.readFileSync(env.ca));
    assert.equal(await whoami(access), `system:serviceaccount:${NS}:${SA}`);
  });
});
