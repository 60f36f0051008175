// The Kubernetes rig itself (test/env/kube.ts, test/env/kube/): a real kube-apiserver built from the Go module
// proxy, on etcd, reached through the kubeconfigs and tokens it writes; reused while healthy; restartable with its
// data kept. Other k8s tests and the recording controller/node agent tests rely on exactly this.
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadClusterAccess } from '../../src/k8s/kubeconfig';
import { apiRequest, ensureKube, kubectl, repoRoot, run, SERVICE_ACCOUNTS, serviceAccountUser, type KubeEnv } from '../env/kube';

describe('the kube-apiserver + etcd rig', () => {
  let env: KubeEnv;

  before(async () => {
    env = await ensureKube();
  });

  it('serves the Kubernetes version it built, over TLS verified by its CA, with RBAC on', async () => {
    assert.match(env.version, /^v1\.3\d\.\d+$/);
    const v = await apiRequest(env, { user: 'admin' }, 'GET', '/version');
    assert.equal(v.status, 200, v.text);
    assert.equal(v.body.gitVersion, env.version, 'the server reports the version stamped at build time');
    const client = await run(env.kubectl, ['version', '--client', '-o', 'json']);
    assert.equal(JSON.parse(client.stdout).clientVersion.gitVersion, env.version, 'kubectl is the same release');
    assert.match(env.server, /^https:\/\/127\.0\.0\.1:\d+$/, 'loopback only');
    const rbac = await apiRequest(env, { user: 'admin' }, 'GET', '/apis/rbac.authorization.k8s.io/v1');
    assert.equal(rbac.status, 200);
    const anonymous = await apiRequest(env, { token: '' }, 'GET', '/api/v1/namespaces');
    assert.ok(anonymous.status === 401 || anonymous.status === 403, `anonymous: ${anonymous.status}`);
  });

  it('has a token and a kubeconfig for admin, nobody and each component service account', async () => {
    const users = ['admin', 'nobody', ...SERVICE_ACCOUNTS.map((sa) => serviceAccountUser(sa))];
    assert.deepEqual([...env.users].sort(), [...users].sort());
    for (const u of users) {
      const who = await apiRequest(env, { user: u }, 'POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' });
      assert.equal(who.status, 201, `${u}: ${who.text}`);
      assert.equal(who.body.status.userInfo.username, u);
      if (u.startsWith('system:serviceaccount:')) {
        const ns = u.split(':')[2];
        assert.deepEqual([...who.body.status.userInfo.groups].sort(), ['system:authenticated', 'system:serviceaccounts', `system:serviceaccounts:${ns}`]);
      }
      if (u === 'admin') assert.ok(who.body.status.userInfo.groups.includes('system:masters'));
      // the kubeconfig works with kubectl and with the project's own kubeconfig loader
      const r = await kubectl(env, ['auth', 'whoami', '-o', 'json'], { user: u });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).status.userInfo.username, u);
      const access = loadClusterAccess(env.kubeconfigFor(u));
      assert.equal(access.server, env.server);
      assert.equal(access.token, env.tokenFor(u));
      assert.deepEqual(access.ca, fs.readFileSync(env.ca));
    }
    assert.equal(env.tokenFor('auditflow-agent'), env.tokenFor(serviceAccountUser('auditflow-agent')), 'short service-account names work');
    assert.throws(() => env.tokenFor('mallory'), /no token for user "mallory"; the rig knows: admin, nobody/);
  });

  it('provisioning again (test/env/kube/start.sh, as every test process does) reuses the running instance', async () => {
    const pid = fs.readFileSync(path.join(env.dir, 'apiserver.pid'), 'utf8').trim();
    const r = await run('bash', [path.join(repoRoot(), 'test', 'env', 'kube', 'start.sh')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /reusing kube-apiserver/);
    assert.equal(r.stdout.trim(), path.join(env.dir, 'env.json'));
    assert.equal(fs.readFileSync(path.join(env.dir, 'apiserver.pid'), 'utf8').trim(), pid, 'same process');
    assert.equal(JSON.parse(fs.readFileSync(path.join(env.dir, 'env.json'), 'utf8')).users.admin.token, env.tokenFor('admin'), 'same tokens');
  });

  it('restartApiserver() brings up a new apiserver on the same etcd: objects survive, clients reconnect', async () => {
    const name = `rig-${randomBytes(3).toString('hex')}`;
    const created = await kubectl(env, ['-n', 'default', 'create', 'configmap', name, '--from-literal=k=v']);
    assert.equal(created.status, 0, created.stderr);
    const pidFile = path.join(env.dir, 'apiserver.pid');
    const before = fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8').trim() : '';
    await env.restartApiserver();
    const after = fs.readFileSync(pidFile, 'utf8').trim();
    assert.notEqual(after, before, 'a new kube-apiserver process');
    const got = await kubectl(env, ['-n', 'default', 'get', 'configmap', name, '-o', 'jsonpath={.data.k}']);
    assert.equal(got.status, 0, got.stderr);
    assert.equal(got.stdout, 'v', 'the object is still in etcd');
    await kubectl(env, ['-n', 'default', 'delete', 'configmap', name]);
  });
});
