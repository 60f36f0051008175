// The webhook's metrics (auditflow_webhook_*), on the process registry.

import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from '../metrics';

export const admissions = new Counter({
  name: 'auditflow_webhook_admissions_total',
  help: 'Admission requests by webhook (recording, binding, cluster-binding) and result (allowed: unchanged; mutated: patched; error: could not be handled, denied; bad-request: not an AdmissionReview)',
  labelNames: ['webhook', 'result'] as const,
  registers: [registry],
});

export const admissionSeconds = new Histogram({
  name: 'auditflow_webhook_admission_duration_seconds',
  help: 'Time to answer an admission request, by webhook',
  labelNames: ['webhook'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
  registers: [registry],
});

export const eventsWritten = new Counter({
  name: 'auditflow_webhook_events_total',
  help: 'Kubernetes events the webhook wrote, by reason and result (written, error)',
  labelNames: ['reason', 'result'] as const,
  registers: [registry],
});

export const certRotations = new Counter({
  name: 'auditflow_webhook_cert_rotations_total',
  help: 'Certificates the webhook made, by what (ca, serving) and why (missing, expiring, hosts, invalid)',
  labelNames: ['what', 'why'] as const,
  registers: [registry],
});

export const certExpiry = new Gauge({
  name: 'auditflow_webhook_cert_expiry_timestamp_seconds',
  help: 'When the certificate in use expires (Unix time), by what (ca, serving)',
  labelNames: ['what'] as const,
  registers: [registry],
});

export const caBundlePatches = new Counter({
  name: 'auditflow_webhook_cabundle_patches_total',
  help: 'caBundle updates of the webhook configurations, by result (patched, unchanged, missing, error)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const inUseUpdates = new Counter({
  name: 'auditflow_webhook_in_use_updates_total',
  help: 'Updates of the in-use finalizers and status.activeWorkloads, by kind and what (finalizer-added, finalizer-removed, workloads)',
  labelNames: ['kind', 'what'] as const,
  registers: [registry],
});
