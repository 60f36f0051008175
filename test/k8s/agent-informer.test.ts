// The agents' list/watch loop against the real apiserver: a watch from a resourceVersion the apiserver no longer
// has is answered 410 Gone, and the informer relists instead of failing.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { API_VERSION, type SeccompProfile } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { Informer, type KObject } from '../../src/k8s/informer';
import { resourcePath, SECCOMP_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import { clientAs, ensureDeployed, eventually, uniqueName } from '../env/k8s-setup';

let admin: KubeClient;
let agent: KubeClient;
const name = uniqueName('informer');

async function gone(): Promise<number> {
  const { values } = await registry.getSingleMetric('auditflow_k8s_watch_restarts_total')!.get();
  return values.filter((v) => v.labels.resource === 'seccompprofiles' && v.labels.reason === 'gone').reduce((a, v) => a + v.value, 0);
}

before(async () => {
  const env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  agent = clientAs(env, 'auditflow-agent', 'auditflow-agent');
  await admin.apply(resourcePath(SECCOMP_PROFILES, { name }), { apiVersion: API_VERSION, kind: 'SeccompProfile', metadata: { name }, spec: { defaultAction: 'SCMP_ACT_ERRNO' } });
});

after(async () => {
  await admin?.delete(resourcePath(SECCOMP_PROFILES, { name })).catch(() => undefined);
  admin?.close();
  agent?.close();
});

describe('informer', () => {
  it('relists after 410 Gone and then follows changes', async () => {
    const before = await gone();
    const inf = new Informer<SeccompProfile & KObject>(agent, SECCOMP_PROFILES, { log: createLogger('informer-test'), resumeFrom: '1' });
    const seen: string[] = [];
    inf.on((type, o) => o.metadata.name === name && seen.push(type));
    await inf.start();
    try {
      await eventually('the profile is in the cache after the relist', () => inf.get(name));
      assert.equal(await gone(), before + 1, 'one 410 Gone, counted');
      await admin.mergePatch(resourcePath(SECCOMP_PROFILES, { name }), { metadata: { labels: { touched: 'yes' } } });
      await eventually('the update arrives through the new watch', () => inf.get(name)?.metadata.labels?.touched === 'yes');
      assert.deepEqual(seen, ['add', 'update']);
    } finally {
      await inf.stop();
    }
  });
});
