// `auditflow webhook`: the admission webhook (Deployment): injects the logging profile into pods a
// ProfileRecording selects, applies ProfileBindings and ClusterProfileBindings, keeps used profiles and
// applied bindings from being deleted, and makes and rotates its own certificates.

import { HttpServer, parseListen } from '../http/server';
import { loadKubeClient } from './kube-client';
import { createLogger } from '../log';
import { enableDefaultMetrics } from '../metrics';
import { startWebhook, type Webhook } from '../webhook';
import { list, UsageError, type Command } from './command';
import { stopSignal } from './stop-signal';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `90d`, `36h`, `30m`, `600` (s) → ms. */
function duration(flag: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(s|m|h|d)?$/.exec(String(v));
  if (!m || Number(m[1]) === 0) throw new UsageError(`${flag}: expected a duration such as 90d, 36h, 30m or 600 (seconds)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's']! * 1000;
}

export const webhookCommand: Command = {
  name: 'webhook',
  summary:
    'Admission webhook: injects the logging profile into pods of active ProfileRecordings, applies\n' +
    'ProfileBindings and ClusterProfileBindings, protects profiles in use; makes and rotates its own TLS certificates.',
  usage: 'webhook [options]',
  help: [
    '  --namespace NS         auditflow\'s namespace (default $POD_NAMESPACE, else auditflow): the Secret\'s, and the',
    '                         logging profile\'s directory operator/<NS>/ on the nodes',
    '  --service NAME         the webhook Service: its DNS names go in the certificate (default auditflow-webhook)',
    '  --host NAME|IP         another name or address for the certificate (repeatable), e.g. 127.0.0.1 for a url: webhook',
    '  --secret NAME          Secret holding the CA and serving certificate (default auditflow-webhook-tls)',
    '  --webhook-configuration NAME  the MutatingWebhookConfiguration auditflow writes (default auditflow-webhook)',
    '  --static-config        do not write the configuration: only patch the caBundle of the one(s) named by',
    '                         --webhook-configuration (repeatable), which someone else manages',
    '  --webhooks LIST        the webhooks to register, comma-separated (default recording,binding,cluster-binding);',
    '                         next to SPO, whose webhook records and binds: cluster-binding',
    '  --cluster-binding-failure-policy Fail|Ignore  for cluster-binding.auditflow.dev (default Ignore: a down',
    '                         webhook does not stop pods cluster-wide; recording and binding always fail closed)',
    '  --listen HOST:PORT     HTTPS address of the webhook (default 0.0.0.0:9443)',
    '  --metrics-listen HOST:PORT  serve /metrics and /healthz there over HTTP (default: not served)',
    '  --kubeconfig FILE      kubeconfig (default $KUBECONFIG, else in-cluster, else ~/.kube/config)',
    '  --ca-validity DUR      lifetime of a new CA (default 1825d)',
    '  --cert-validity DUR    lifetime of a new serving certificate (default 90d); renewed with a third left',
    '  --no-in-use            do not manage the in-use finalizers (another replica or SPO does)',
  ].join('\n'),
  options: {
    namespace: { type: 'string' },
    service: { type: 'string' },
    host: { type: 'string', multiple: true },
    secret: { type: 'string' },
    'webhook-configuration': { type: 'string', multiple: true },
    'static-config': { type: 'boolean' },
    webhooks: { type: 'string' },
    'cluster-binding-failure-policy': { type: 'string' },
    listen: { type: 'string' },
    'metrics-listen': { type: 'string' },
    kubeconfig: { type: 'string' },
    'ca-validity': { type: 'string' },
    'cert-validity': { type: 'string' },
    'no-in-use': { type: 'boolean' },
  },
  async run(v) {
    const namespace = (v.namespace as string | undefined) ?? process.env.POD_NAMESPACE ?? 'auditflow';
    if (!NAME.test(namespace) || namespace.length > 63) throw new UsageError(`--namespace "${namespace}" is not a namespace name`);
    const service = (v.service as string | undefined) ?? 'auditflow-webhook';
    if (!NAME.test(service) || service.length > 63) throw new UsageError(`--service "${service}" is not a Service name`);
    const secretName = (v.secret as string | undefined) ?? 'auditflow-webhook-tls';
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(secretName)) throw new UsageError(`--secret "${secretName}" is not a Secret name`);
    const configs = list(v['webhook-configuration']);
    if (!v['static-config'] && configs.length > 1) throw new UsageError('--webhook-configuration: one name, unless --static-config');
    const ALL = ['recording', 'binding', 'cluster-binding'] as const;
    const hooks = ((v.webhooks as string | undefined) ?? ALL.join(','))
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
    const badHook = hooks.find((h) => !(ALL as readonly string[]).includes(h));
    if (badHook !== undefined || !hooks.length) throw new UsageError(`--webhooks: a comma-separated list of ${ALL.join(', ')}`);
    const cbfp = (v['cluster-binding-failure-policy'] as string | undefined) ?? 'Ignore';
    if (cbfp !== 'Fail' && cbfp !== 'Ignore') throw new UsageError('--cluster-binding-failure-policy: Fail or Ignore');
    const hosts = [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`, ...list(v.host)];
    let listen: { host: string; port: number };
    try {
      listen = parseListen((v.listen as string | undefined) ?? '0.0.0.0:9443');
      if (v['metrics-listen'] !== undefined) parseListen(v['metrics-listen'] as string);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const caValidityMs = duration('--ca-validity', v['ca-validity']);
    const certValidityMs = duration('--cert-validity', v['cert-validity']);
    const log = createLogger('auditflow-webhook');
    const client = loadKubeClient(v.kubeconfig as string | undefined, 'auditflow-webhook', log);
    if (!client) return 1;
    enableDefaultMetrics();
    let webhook: Webhook | undefined;
    let metrics: HttpServer | undefined;
    if (v['metrics-listen'] !== undefined) {
      metrics = new HttpServer({ listen: v['metrics-listen'] as string, log, health: { synced: () => ({ ok: webhook !== undefined, detail: webhook ? 'serving' : 'starting' }) } });
      await metrics.start();
    }
    const stopped = stopSignal();
    log.info({ namespace, hosts, listen, configurations: configs.length ? configs : ['auditflow-webhook'] }, 'starting admission webhook');
    const started = startWebhook({
      client,
      log,
      namespace,
      secretName,
      hosts,
      configuration: v['static-config']
        ? { static: configs.length ? configs : ['auditflow-webhook'] }
        : { managed: { name: configs[0] ?? 'auditflow-webhook', target: { service: { name: service, namespace, port: 443 } }, clusterBindingFailurePolicy: cbfp, webhooks: hooks as (typeof ALL)[number][] } },
      host: listen.host,
      port: listen.port,
      ...(caValidityMs ? { caValidityMs } : {}),
      ...(certValidityMs ? { certValidityMs } : {}),
      inUse: v['no-in-use'] !== true,
    }).then((w) => (webhook = w));
    await Promise.race([started, stopped]);
    await stopped;
    log.info('stopping admission webhook');
    await webhook?.stop();
    await metrics?.close();
    client.close();
    return 0;
  },
};
