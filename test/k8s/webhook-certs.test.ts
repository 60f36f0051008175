// The webhook's own certificates on the real kube-apiserver: made at start and stored in the Secret, the
// caBundle written into the webhook configuration, the apiserver trusting them (a pod admitted through the
// webhook), renewal of a serving certificate and of a CA near expiry (the served certificate swapped in place,
// the old CA kept in the bundle while valid, the apiserver still admitting), two replicas starting at once
// agreeing on one certificate, and a static configuration whose caBundle alone is patched.
process.env.AUDITFLOW_LOG_LEVEL ??= 'warn';

import { strict as assert } from 'node:assert';
import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { API_VERSION, type ProfileRecording } from '../../src/k8s/api';
import type { KubeClient } from '../../src/k8s/client';
import { PROFILE_RECORDINGS, resourcePath } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import { registry } from '../../src/metrics';
import type { Webhook } from '../../src/webhook';
import { LABEL_ENABLE_RECORDING, MUTATING_WEBHOOK_CONFIGURATIONS, SECRETS } from '../../src/webhook/api';
import { CertManager } from '../../src/webhook/cert-manager';
import { newCa, newServingCert, splitPem } from '../../src/webhook/certs';
import { clientAs, ensureDeployed, eventually, uniqueName } from '../env/k8s-setup';
import { SA_NAMESPACE, type KubeEnv } from '../env/kube';
import { deleteConfiguration, SCOPE_LABEL, startTestWebhook } from '../env/webhook';

const RUN = uniqueName('whc').slice(4);
const NS = `wh-certs-${RUN}`;
const SECRET = `wh-certs-${RUN}`;
const CONFIG = `auditflow-webhook-certs-${RUN}`;
const HOUR = 3_600_000;

let env: KubeEnv;
let admin: KubeClient;
let webhook: (Webhook & { url: string; configName: string }) | undefined;
const secrets: string[] = [SECRET];
const configs: string[] = [CONFIG];

type Secret = { metadata: { resourceVersion: string }; type: string; data: Record<string, string> };
const getSecret = (name = SECRET) => admin.get<Secret>(resourcePath(SECRETS, { namespace: SA_NAMESPACE, name }));
const pem = (s: Secret, k: string) => Buffer.from(s.data[k]!, 'base64').toString('utf8');
const caBundles = async (name = CONFIG) =>
  (await admin.get<{ webhooks: { clientConfig: { caBundle?: string } }[] }>(resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name }))).webhooks.map((w) => Buffer.from(w.clientConfig.caBundle ?? '', 'base64').toString('utf8'));

/** The certificate the webhook presents to a TLS client right now. */
function servedCert(url: string): Promise<X509Certificate> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: u.hostname, port: Number(u.port), rejectUnauthorized: false }, () => {
      const c = s.getPeerX509Certificate();
      s.end();
      if (c) resolve(c);
      else reject(new Error('no peer certificate'));
    });
    s.once('error', reject);
  });
}

/** A pod created in the scoped namespace, read back: the apiserver only admits it if it trusts the webhook. */
let podN = 0;
async function admittedThroughWebhook(): Promise<void> {
  const name = `p-${++podN}`;
  const got = await admin.create<{ spec: { containers: { securityContext?: { seccompProfile?: { localhostProfile?: string } } }[] } }>(`/api/v1/namespaces/${NS}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'certs' } },
    spec: { containers: [{ name: 'c', image: 'registry.example/c:1' }] },
  });
  assert.equal(got.spec.containers[0]!.securityContext?.seccompProfile?.localhostProfile, `operator/${SA_NAMESPACE}/log-enricher-trace.json`, 'mutated by the webhook');
  await admin.delete(`/api/v1/namespaces/${NS}/pods/${name}`, { gracePeriodSeconds: 0 }).catch(() => undefined);
}

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  assert.ok(m, `metric ${name} is registered`);
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((a, v) => a + v.value, 0);
}

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  await admin.apply(`/api/v1/namespaces/${NS}`, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { [SCOPE_LABEL]: RUN, [LABEL_ENABLE_RECORDING]: '' } } });
  await admin.apply(`/api/v1/namespaces/${NS}/serviceaccounts/default`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: NS } });
  const r: ProfileRecording = { apiVersion: API_VERSION, kind: 'ProfileRecording', metadata: { name: 'certs', namespace: NS }, spec: { kind: 'SeccompProfile', recorder: 'Logs', podSelector: { matchLabels: { app: 'certs' } } } };
  await admin.apply(resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: 'certs' }), r);
});

after(async () => {
  if (admin) for (const c of configs) await deleteConfiguration(admin, c);
  await webhook?.stop().catch(() => undefined);
  if (admin) {
    for (const s of secrets) await admin.delete(resourcePath(SECRETS, { namespace: SA_NAMESPACE, name: s })).catch(() => undefined);
    admin.close();
  }
});

describe('webhook certificates', () => {
  it('at start: a CA and a serving certificate for 127.0.0.1 in the Secret, the caBundle in every webhook, trusted by the apiserver', async () => {
    webhook = await startTestWebhook({ client: admin, scope: RUN, configName: CONFIG, secretName: SECRET, namespaces: [NS] });
    const s = await getSecret();
    assert.equal(s.type, 'kubernetes.io/tls');
    assert.deepEqual(Object.keys(s.data).sort(), ['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    const ca = new X509Certificate(pem(s, 'ca.crt'));
    const serving = new X509Certificate(pem(s, 'tls.crt'));
    assert.equal(ca.ca, true);
    assert.equal(serving.ca, false);
    assert.ok(serving.verify(ca.publicKey) && serving.checkIssued(ca), 'the serving certificate is signed by the CA');
    assert.equal(serving.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(serving.checkHost('auditflow-webhook.auditflow.svc'), undefined, 'only the names asked for (here the url: address)');
    assert.deepEqual(await caBundles(), [pem(s, 'ca.crt'), pem(s, 'ca.crt'), pem(s, 'ca.crt')]);
    assert.equal((await servedCert(webhook.url)).fingerprint256, serving.fingerprint256, 'the stored certificate is the one served');
    await eventually('webhook sees the recording', () => !!webhook!.server.recordings.get(`${NS}/certs`));
    await admittedThroughWebhook();
  });

  it('renews a serving certificate near expiry: Secret updated, the new one served at once, same CA, still trusted', async () => {
    const w = webhook!;
    const before = await getSecret();
    const ca = { cert: pem(before, 'ca.crt'), key: pem(before, 'ca.key') };
    // A certificate with 10 % of its lifetime left (the default renews with a third left).
    const old = newServingCert(ca, ['127.0.0.1'], 10 * HOUR, new Date(Date.now() - 9 * HOUR));
    await admin.replace(resourcePath(SECRETS, { namespace: SA_NAMESPACE, name: SECRET }), { ...before, data: { ...before.data, 'tls.crt': Buffer.from(old.cert).toString('base64'), 'tls.key': Buffer.from(old.key).toString('base64') } });
    const rotations = await metric('auditflow_webhook_cert_rotations_total', { what: 'serving', why: 'expiring' });
    await w.certs.ensure();
    const after = await getSecret();
    const renewed = new X509Certificate(pem(after, 'tls.crt'));
    assert.notEqual(renewed.fingerprint256, new X509Certificate(old.cert).fingerprint256);
    assert.ok(Date.parse(renewed.validTo) - Date.now() > 30 * 24 * HOUR, `a full lifetime again (valid to ${renewed.validTo})`);
    assert.equal(pem(after, 'ca.crt'), ca.cert, 'the CA stays');
    assert.equal(await metric('auditflow_webhook_cert_rotations_total', { what: 'serving', why: 'expiring' }), rotations + 1);
    assert.equal((await servedCert(w.url)).fingerprint256, renewed.fingerprint256, 'served without a restart');
    await admittedThroughWebhook();
  });

  it('renews a CA near expiry: new CA first in ca.crt and the caBundle, the old one kept while valid, a new serving certificate from the new CA', async () => {
    const w = webhook!;
    const before = await getSecret();
    const oldCa = newCa('old-ca', 10 * HOUR, new Date(Date.now() - 9 * HOUR));
    const oldServing = newServingCert(oldCa, ['127.0.0.1'], 10 * HOUR, new Date(Date.now() - HOUR));
    await admin.replace(resourcePath(SECRETS, { namespace: SA_NAMESPACE, name: SECRET }), {
      ...before,
      data: { 'ca.crt': Buffer.from(oldCa.cert).toString('base64'), 'ca.key': Buffer.from(oldCa.key).toString('base64'), 'tls.crt': Buffer.from(oldServing.cert).toString('base64'), 'tls.key': Buffer.from(oldServing.key).toString('base64') },
    });
    await w.certs.ensure();
    const after = await getSecret();
    const bundle = splitPem(pem(after, 'ca.crt'));
    assert.equal(bundle.length, 2, 'new CA and the old, still valid one');
    assert.equal(bundle[1], oldCa.cert);
    const newCaCert = new X509Certificate(bundle[0]!);
    assert.notEqual(newCaCert.fingerprint256, new X509Certificate(oldCa.cert).fingerprint256);
    assert.ok(new X509Certificate(pem(after, 'tls.crt')).checkIssued(newCaCert), 'serving certificate from the new CA');
    for (const b of await caBundles()) assert.equal(b, pem(after, 'ca.crt'), 'caBundle written with both CAs');
    assert.equal((await servedCert(w.url)).fingerprint256, new X509Certificate(pem(after, 'tls.crt')).fingerprint256);
    await admittedThroughWebhook();
  });

  it('two replicas starting together on a missing Secret end with the same certificate', async () => {
    const secret = `wh-race-${RUN}`;
    secrets.push(secret);
    const seen: string[] = [];
    const mk = () =>
      new CertManager({ client: admin, log: createLogger('race'), namespace: SA_NAMESPACE, secretName: secret, hosts: ['127.0.0.1'], webhookConfigurations: [], onChange: (p) => seen.push(p.cert) });
    const [a, b] = await Promise.all([mk().ensure(), mk().ensure()]);
    assert.equal(a.serving.cert, b.serving.cert);
    assert.equal(a.caBundle, b.caBundle);
    const s = await getSecret(secret);
    assert.equal(pem(s, 'tls.crt'), a.serving.cert, 'what both serve is what is stored');
    assert.deepEqual(seen, [a.serving.cert, a.serving.cert]);
  });

  it('a static configuration (someone else manages it): only its caBundle is patched, every webhook of it', async () => {
    const name = `auditflow-webhook-static-${RUN}`;
    configs.push(name);
    const hook = (n: string) => ({
      name: n,
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      failurePolicy: 'Ignore',
      clientConfig: { url: 'https://127.0.0.1:1/none' },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['configmaps'] }],
      namespaceSelector: { matchLabels: { [SCOPE_LABEL]: `${RUN}-never` } },
    });
    await admin.create(resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS), { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name }, webhooks: [hook('a.example.com'), hook('b.example.com')] });
    const m = new CertManager({ client: admin, log: createLogger('static'), namespace: SA_NAMESPACE, secretName: SECRET, hosts: ['127.0.0.1'], webhookConfigurations: [name] });
    const st = await m.ensure();
    const cfg = await admin.get<{ webhooks: { name: string; failurePolicy: string; clientConfig: { url: string; caBundle: string } }[] }>(resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name }));
    assert.deepEqual(
      cfg.webhooks.map((w) => [w.name, w.failurePolicy, w.clientConfig.url, Buffer.from(w.clientConfig.caBundle, 'base64').toString('utf8')]),
      [
        ['a.example.com', 'Ignore', 'https://127.0.0.1:1/none', st.caBundle],
        ['b.example.com', 'Ignore', 'https://127.0.0.1:1/none', st.caBundle],
      ],
    );
    const patches = await metric('auditflow_webhook_cabundle_patches_total', { result: 'unchanged' });
    await m.ensure();
    assert.equal(await metric('auditflow_webhook_cabundle_patches_total', { result: 'unchanged' }), patches + 1, 'nothing written when the bundle is already there');
  });
});
