// The kubeconfig loader (src/k8s/kubeconfig.ts, on @kubernetes/client-node's KubeConfig) against the real
// apiserver: each way of saying where the cluster is and who we are ends in an API call answered for that
// identity (SelfSubjectReview), or in a clear KubeconfigError.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, KubeClient } from '../../src/k8s/client';
import { fromKubeconfig, KubeconfigError, loadClusterAccess, type ClusterAccess } from '../../src/k8s/kubeconfig';
import { ensureKube, run, type KubeEnv } from '../env/kube';

let env: KubeEnv;
let tmp: string;

before(async () => {
  env = await ensureKube();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-kubeconfig-'));
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

interface Who {
  username: string;
  groups: string[];
}

/** Who the apiserver says the client is. */
async function whoami(access: ClusterAccess): Promise<Who> {
  const c = new KubeClient(access, 'auditflow-test');
  try {
    const r = await c.request<{ status: { userInfo: Who } }>('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    });
    return r.status.userInfo;
  } finally {
    c.close();
  }
}

/** A kubeconfig with one cluster, user and context (JSON is YAML). */
function kubeconfig(file: string, cluster: Record<string, unknown>, user: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'rig', cluster: { server: env.server, ...cluster } }],
    users: [{ name: 'me', user }],
    contexts: [{ name: 'me@rig', context: { cluster: 'rig', user: 'me' } }],
    'current-context': 'me@rig',
    ...extra,
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

/** A client certificate for `cn` in group `o`, signed by the rig's CA (which the apiserver trusts for clients). */
async function clientCert(dir: string, cn: string, o: string): Promise<{ cert: string; key: string }> {
  fs.mkdirSync(dir, { recursive: true });
  const key = path.join(dir, 'client.key');
  const csr = path.join(dir, 'client.csr');
  const cert = path.join(dir, 'client.crt');
  const pki = path.join(env.dir, 'pki');
  const req = await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}/O=${o}`, '-keyout', key, '-out', csr]);
  assert.equal(req.status, 0, req.stderr);
  // an explicit serial: -CAcreateserial would write the rig's ca.srl, which concurrent tests would race on
  const sign = await run('openssl', ['x509', '-req', '-in', csr, '-CA', path.join(pki, 'ca.crt'), '-CAkey', path.join(pki, 'ca.key'), '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '1', '-out', cert]);
  assert.equal(sign.status, 0, sign.stderr);
  return { cert, key };
}

describe('kubeconfig: static credentials', () => {
  it('the rig kubeconfig (CA file, inline token): server, CA and token are read and the API answers as that user', async () => {
    const access = fromKubeconfig(env.kubeconfigFor('nobody'));
    assert.equal(access.server, env.server);
    assert.equal(access.token, env.tokenFor('nobody'));
    assert.deepEqual(access.ca, fs.readFileSync(env.ca));
    assert.equal(access.insecureSkipTlsVerify, false);
    assert.match(access.source, /\(context nobody@auditflow-test\)$/);
    assert.equal((await whoami(access)).username, 'nobody');
  });

  it('impersonation (`as`) reaches the request as Impersonate-User', async () => {
    const file = kubeconfig(path.join(tmp, 'as', 'config'), { 'certificate-authority': env.ca }, { token: env.tokenFor('admin'), as: 'nobody' });
    assert.equal((await whoami(fromKubeconfig(file))).username, 'nobody');
  });

  it('tokenFile, relative to the kubeconfig, trailing newline and all; after a 401 the file is read again', async () => {
    const dir = path.join(tmp, 'tokenfile');
    const file = kubeconfig(path.join(dir, 'config'), { 'certificate-authority-data': fs.readFileSync(env.ca).toString('base64') }, { tokenFile: 'secrets/token' });
    fs.mkdirSync(path.join(dir, 'secrets'));
    const tokenPath = path.join(dir, 'secrets', 'token');
    fs.writeFileSync(tokenPath, 'not-a-valid-token\n');
    const access = fromKubeconfig(file);
    assert.equal(access.tokenFile, tokenPath);
    assert.equal(access.token, undefined);
    await assert.rejects(whoami(access), (e: unknown) => e instanceof ApiError && e.status === 401);
    // the rotated token is picked up without waiting for client-node's one-minute re-read
    fs.writeFileSync(tokenPath, `${env.tokenFor('nobody')}\n`);
    assert.equal((await whoami(access)).username, 'nobody');
  });

  it('client certificate and key, as relative files and as inline data', async () => {
    const dir = path.join(tmp, 'cert');
    const cn = `cert-user-${randomBytes(3).toString('hex')}`;
    const { cert, key } = await clientCert(dir, cn, 'auditflow-testers');
    const files = kubeconfig(path.join(dir, 'config'), { 'certificate-authority': env.ca }, { 'client-certificate': 'client.crt', 'client-key': 'client.key' });
    const access = fromKubeconfig(files);
    assert.deepEqual(access.cert, fs.readFileSync(cert));
    assert.deepEqual(access.key, fs.readFileSync(key));
    assert.equal(access.token, undefined);
    const who = await whoami(access);
    assert.equal(who.username, cn);
    assert.ok(who.groups.includes('auditflow-testers'), JSON.stringify(who.groups));
    const inline = kubeconfig(
      path.join(dir, 'inline', 'config'),
      { 'certificate-authority': env.ca },
      { 'client-certificate-data': fs.readFileSync(cert).toString('base64'), 'client-key-data': fs.readFileSync(key).toString('base64') },
    );
    assert.equal((await whoami(fromKubeconfig(inline))).username, cn);
  });

  it('TLS: without the CA the serving certificate is refused; insecure-skip-tls-verify and tls-server-name are honoured', async () => {
    const dir = path.join(tmp, 'tls');
    const token = env.tokenFor('nobody');
    const noCa = fromKubeconfig(kubeconfig(path.join(dir, 'no-ca'), {}, { token }));
    await assert.rejects(whoami(noCa), (e: unknown) => e instanceof ApiError && e.status === 0 && /certificate/i.test(e.message));
    const insecure = fromKubeconfig(kubeconfig(path.join(dir, 'insecure'), { 'insecure-skip-tls-verify': true }, { token }));
    assert.equal(insecure.insecureSkipTlsVerify, true);
    assert.equal((await whoami(insecure)).username, 'nobody');
    // the serving certificate names kubernetes.default.svc, not example.com
    const good = fromKubeconfig(kubeconfig(path.join(dir, 'sni-good'), { 'certificate-authority': env.ca, 'tls-server-name': 'kubernetes.default.svc' }, { token }));
    assert.equal(good.tlsServerName, 'kubernetes.default.svc');
    assert.equal((await whoami(good)).username, 'nobody');
    const bad = fromKubeconfig(kubeconfig(path.join(dir, 'sni-bad'), { 'certificate-authority': env.ca, 'tls-server-name': 'example.com' }, { token }));
    await assert.rejects(whoami(bad), (e: unknown) => e instanceof ApiError && e.status === 0 && /example\.com/.test(e.message));
  });
});

describe('kubeconfig: which file', () => {
  it('$KUBECONFIG is a merged list: missing entries skipped, the first current-context and the first definition of a name win', async () => {
    const dir = path.join(tmp, 'merge');
    fs.mkdirSync(dir, { recursive: true });
    // a: only the current context's name; b: the context, the user and the real cluster; c: a cluster of the
    // same name that points nowhere, another current-context
    const a = path.join(dir, 'a.yaml');
    fs.writeFileSync(a, JSON.stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'admin@rig' }));
    const b = path.join(dir, 'b.yaml');
    fs.writeFileSync(
      b,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'rig', cluster: { server: env.server, 'certificate-authority': env.ca } }],
        users: [
          { name: 'admin', user: { token: env.tokenFor('admin') } },
          { name: 'nobody', user: { token: env.tokenFor('nobody') } },
        ],
        contexts: [
          { name: 'admin@rig', context: { cluster: 'rig', user: 'admin' } },
          { name: 'nobody@rig', context: { cluster: 'rig', user: 'nobody' } },
        ],
        'current-context': 'nobody@rig',
      }),
    );
    const c = path.join(dir, 'c.yaml');
    fs.writeFileSync(
      c,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'rig', cluster: { server: 'https://127.0.0.1:1' } }],
        users: [{ name: 'admin', user: { token: 'wrong' } }],
        contexts: [{ name: 'admin@rig', context: { cluster: 'rig', user: 'admin' } }],
        'current-context': 'admin@rig',
      }),
    );
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = [path.join(dir, 'missing.yaml'), a, b, c].join(path.delimiter);
    let access: ClusterAccess;
    try {
      access = loadClusterAccess();
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
    assert.equal(access.server, env.server);
    assert.equal(access.token, env.tokenFor('admin'));
    assert.match(access.source, /\(context admin@rig\)$/);
    assert.equal((await whoami(access)).username, 'admin');
    // an explicit --kubeconfig takes precedence over $KUBECONFIG
    process.env.KUBECONFIG = c;
    try {
      assert.equal(loadClusterAccess(b).token, env.tokenFor('nobody'));
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('refuses what it cannot use with a KubeconfigError that says why', () => {
    const dir = path.join(tmp, 'bad');
    const token = env.tokenFor('nobody');
    const cases: [string, () => string, RegExp][] = [
      ['missing file', () => path.join(dir, 'nope.yaml'), /cannot read kubeconfig .*nope\.yaml/],
      ['not YAML', () => (fs.mkdirSync(dir, { recursive: true }), fs.writeFileSync(path.join(dir, 'garbage'), 'clusters: [\n'), path.join(dir, 'garbage')), /cannot read kubeconfig/],
      ['no current-context', () => kubeconfig(path.join(dir, 'no-ctx'), {}, { token }, { 'current-context': '' }), /no current-context/],
      ['unknown context', () => kubeconfig(path.join(dir, 'ctx'), {}, { token }, { 'current-context': 'elsewhere' }), /context "elsewhere" not found/],
      ['unknown user', () => kubeconfig(path.join(dir, 'user'), {}, { token }, { contexts: [{ name: 'me@rig', context: { cluster: 'rig', user: 'ghost' } }] }), /user "ghost" not found/],
      ['missing CA file', () => kubeconfig(path.join(dir, 'ca'), { 'certificate-authority': 'absent.crt' }, { token }), /certificate-authority: .*ENOENT/],
      ['proxy-url', () => kubeconfig(path.join(dir, 'proxy'), { 'proxy-url': 'http://127.0.0.1:3128' }, { token }), /proxy-url is not supported/],
    ];
    for (const [what, make, msg] of cases) {
      const file = make();
      assert.throws(() => fromKubeconfig(file), (e: unknown) => e instanceof KubeconfigError && msg.test(e.message), what);
    }
  });
});
