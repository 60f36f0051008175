// The MutatingWebhookConfiguration, written by auditflow itself (server-side apply, as SPO's operator manages
// its own) whenever the caBundle changes: so the configuration exists only once a webhook that can answer it
// has made its certificates, and never points at a Service that was deployed without a running webhook.
//
// Lock-out rules: auditflow's own namespace is never selected (namespaceSelector), nor are auditflow's pods
// anywhere (objectSelector on app.kubernetes.io/name), so the webhook's pods can always be (re)created even
// while no webhook answers. Recording and namespaced binding are opt-in per namespace (SPO's labels) and fail
// closed, as SPO's; the cluster-wide binding selects every namespace but kube-system and fails open by default,
// so a down webhook cannot stop every pod of the cluster (--cluster-binding-failure-policy changes it).

import type { LabelSelectorRequirement } from '../profile/selector';
import { LABEL_ENABLE_BINDING, LABEL_ENABLE_RECORDING } from './api';
import { PATHS, type WebhookName } from './server';

export type FailurePolicy = 'Fail' | 'Ignore';

export interface ConfigurationOptions {
  name: string;
  /** auditflow's namespace: excluded from every webhook. */
  namespace: string;
  /** Where the apiserver reaches the webhook: the Service, or a URL base (https://host:port). */
  target: { service: { name: string; namespace: string; port?: number } } | { url: string };
  /** base64 PEM bundle. */
  caBundle: string;
  clusterBindingFailurePolicy?: FailurePolicy;
  /** Further requirements on every webhook's namespaces (a staged roll-out; the tests' own namespaces). */
  scope?: LabelSelectorRequirement[];
  timeoutSeconds?: number;
  /** Which webhooks to register (default all): next to SPO, whose own webhook records and binds, only cluster-binding. */
  webhooks?: WebhookName[];
}

/** Never selected by any webhook: control-plane add-ons the webhook itself may depend on. */
export const ALWAYS_EXCLUDED = ['kube-system'];
export const OWN_POD_LABEL = { key: 'app.kubernetes.io/name', value: 'auditflow' };

export function webhookConfiguration(o: ConfigurationOptions): Record<string, unknown> {
  const notOurs: LabelSelectorRequirement = { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([o.namespace, ...ALWAYS_EXCLUDED])].sort() };
  const objectSelector = { matchExpressions: [{ key: OWN_POD_LABEL.key, operator: 'NotIn', values: [OWN_POD_LABEL.value] }] };
  const clientConfig = (which: WebhookName) =>
    'url' in o.target
      ? { url: o.target.url.replace(/\/+$/, '') + PATHS[which], caBundle: o.caBundle }
      : { service: { name: o.target.service.name, namespace: o.target.service.namespace, path: PATHS[which], port: o.target.service.port ?? 443 }, caBundle: o.caBundle };
  const hook = (which: WebhookName, name: string, optIn: string | undefined, failurePolicy: FailurePolicy) => ({
    name,
    admissionReviewVersions: ['v1'],
    clientConfig: clientConfig(which),
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
    failurePolicy,
    matchPolicy: 'Equivalent',
    // Events about recordings and bindings are written, except for dry-run requests.
    sideEffects: 'NoneOnDryRun',
    timeoutSeconds: o.timeoutSeconds ?? 10,
    reinvocationPolicy: 'Never',
    namespaceSelector: { matchExpressions: [...(optIn ? [{ key: optIn, operator: 'Exists' }] : []), notOurs, ...(o.scope ?? [])] },
    objectSelector,
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: o.name, labels: { 'app.kubernetes.io/name': 'auditflow', 'app.kubernetes.io/component': 'webhook' } },
    // Recording first: it overrides (with a warning) and the bindings never do, so the outcome does not depend
    // on the order; listing it first only spares a warning when a binding would have applied.
    webhooks: [
      hook('recording', 'recording.auditflow.dev', LABEL_ENABLE_RECORDING, 'Fail'),
      hook('binding', 'binding.auditflow.dev', LABEL_ENABLE_BINDING, 'Fail'),
      hook('cluster-binding', 'cluster-binding.auditflow.dev', undefined, o.clusterBindingFailurePolicy ?? 'Ignore'),
    ].filter((_h, i) => !o.webhooks || o.webhooks.includes((['recording', 'binding', 'cluster-binding'] as const)[i]!)),
  };
}
