// The webhook's certificates, made and rotated by auditflow itself (no cert-manager): a CA and a serving
// certificate kept in one Secret (ca.crt, ca.key, tls.crt, tls.key), and the caBundle of the webhook
// configurations patched to trust the CA. Several replicas share the Secret: every write is a
// compare-and-swap on its resourceVersion, the loser re-reads and uses what the winner wrote.
//
// Rotation: the serving certificate is renewed when less than `renewBefore` of its lifetime is left (or its
// names or issuer do not fit); the CA likewise, and then the old CA stays in ca.crt (and so in the caBundle)
// until it expires, so a replica still serving a certificate of the old CA is trusted while it catches up.
// The caBundle is patched before the new certificate is served.

import { X509Certificate } from 'node:crypto';
import type { Logger } from '../log';
import { isConflict, isNotFound, type KubeClient } from '../k8s/client';
import { resourcePath } from '../k8s/resources';
import { MUTATING_WEBHOOK_CONFIGURATIONS, SECRETS } from './api';
import { newCa, newServingCert, splitPem, type KeyPairPem } from './certs';
import { caBundlePatches, certExpiry, certRotations } from './metrics';

const DAY = 86_400_000;

export interface CertManagerOptions {
  client: KubeClient;
  log: Logger;
  namespace: string;
  secretName: string;
  /** Names the serving certificate must hold: the Service's DNS names, or 127.0.0.1 for a url: webhook. */
  hosts: string[];
  /** Existing MutatingWebhookConfigurations whose every webhook gets the caBundle (a static configuration). */
  webhookConfigurations: string[];
  /** Instead: publishes the bundle (base64) itself, e.g. by applying the whole configuration. */
  publishCaBundle?: (caBundleB64: string) => Promise<void>;
  caValidityMs?: number;
  certValidityMs?: number;
  /** Renew when less than this fraction of a certificate's lifetime is left (default 1/3). */
  renewFraction?: number;
  /** Called with the certificate to serve whenever it changes (also the first time). */
  onChange?: (pair: KeyPairPem) => void;
}

interface Secret {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  type?: string;
  data?: Record<string, string>;
}

export interface CertState {
  /** ca.crt: the current CA first, then older ones still valid. */
  caBundle: string;
  ca: KeyPairPem;
  serving: KeyPairPem;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined) => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

function lifetimeLeft(cert: X509Certificate, now: number): number {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  return (to - now) / Math.max(1, to - from);
}

export class CertManager {
  private readonly caValidityMs: number;
  private readonly certValidityMs: number;
  private readonly renewFraction: number;
  private current: CertState | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CertManagerOptions) {
    this.caValidityMs = opts.caValidityMs ?? 5 * 365 * DAY;
    this.certValidityMs = opts.certValidityMs ?? 90 * DAY;
    this.renewFraction = opts.renewFraction ?? 1 / 3;
  }

  get state(): CertState | undefined {
    return this.current;
  }

  private get secretPath(): string {
    return resourcePath(SECRETS, { namespace: this.opts.namespace, name: this.opts.secretName });
  }

  /** Makes sure the Secret holds a valid pair and the caBundle trusts it; returns the pair to serve. */
  async ensure(now = Date.now()): Promise<CertState> {
    for (let attempt = 0; ; attempt++) {
      let secret: Secret | undefined;
      try {
        secret = await this.opts.client.get<Secret>(this.secretPath);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      const { state, changed } = this.plan(secret, now);
      if (changed) {
        const body: Secret & { apiVersion: string; kind: string } = {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: this.opts.secretName, namespace: this.opts.namespace, ...(secret?.metadata.resourceVersion ? { resourceVersion: secret.metadata.resourceVersion } : {}) },
          type: 'kubernetes.io/tls',
          data: { 'ca.crt': b64(state.caBundle), 'ca.key': b64(state.ca.key), 'tls.crt': b64(state.serving.cert), 'tls.key': b64(state.serving.key) },
        };
        try {
          if (secret) await this.opts.client.replace(this.secretPath, body);
          else await this.opts.client.create(resourcePath(SECRETS, { namespace: this.opts.namespace }), body);
        } catch (e) {
          // Another replica wrote first: use its certificates.
          if ((isConflict(e) || (e as { status?: number }).status === 409) && attempt < 5) continue;
          throw e;
        }
        this.opts.log.info({ secret: `${this.opts.namespace}/${this.opts.secretName}`, servingExpires: new X509Certificate(state.serving.cert).validTo }, 'webhook certificate stored');
      }
      if (this.opts.publishCaBundle) await this.opts.publishCaBundle(b64(state.caBundle));
      else await this.patchCaBundle(state.caBundle);
      const servingChanged = this.current?.serving.cert !== state.serving.cert;
      this.current = state;
      certExpiry.set({ what: 'ca' }, Date.parse(new X509Certificate(state.ca.cert).validTo) / 1000);
      certExpiry.set({ what: 'serving' }, Date.parse(new X509Certificate(state.serving.cert).validTo) / 1000);
      if (servingChanged) this.opts.onChange?.(state.serving);
      return state;
    }
  }

  /** What the Secret should hold at `now`, from what it holds. */
  plan(secret: Secret | undefined, now: number): { state: CertState; changed: boolean } {
    const d = secret?.data ?? {};
    const bundle = splitPem(unb64(d['ca.crt']) ?? '');
    let ca: KeyPairPem | undefined;
    let caCert: X509Certificate | undefined;
    let older: string[] = [];
    try {
      const key = unb64(d['ca.key']);
      if (bundle.length && key) {
        caCert = new X509Certificate(bundle[0]!);
        ca = { cert: bundle[0]!, key };
        older = bundle.slice(1);
      }
    } catch {
      ca = undefined;
    }
    let changed = false;
    const validOld = (pem: string) => {
      try {
        return Date.parse(new X509Certificate(pem).validTo) > now;
      } catch {
        return false;
      }
    };
    if (!ca || !caCert || !caCert.ca || lifetimeLeft(caCert, now) < this.renewFraction) {
      const why = !secret ? 'missing' : !ca ? 'invalid' : 'expiring';
      const next = newCa(`auditflow-webhook-ca@${Math.floor(now / 1000)}`, this.caValidityMs, new Date(now));
      if (ca && caCert && Date.parse(caCert.validTo) > now) older = [ca.cert, ...older];
      ca = next;
      caCert = new X509Certificate(next.cert);
      certRotations.inc({ what: 'ca', why });
      this.opts.log.info({ why, expires: caCert.validTo }, 'new webhook CA');
      changed = true;
    }
    older = older.filter(validOld);
    let serving: KeyPairPem | undefined;
    const cert = unb64(d['tls.crt']);
    const key = unb64(d['tls.key']);
    let why: string | undefined = 'missing';
    if (cert && key && !changed) {
      try {
        const x = new X509Certificate(cert);
        if (!x.checkIssued(caCert) || !x.verify(caCert.publicKey)) why = 'invalid';
        else if (!this.opts.hosts.every((h) => (/^[\d.]+$|:/.test(h) ? x.checkIP(h) : x.checkHost(h)) !== undefined)) why = 'hosts';
        else if (lifetimeLeft(x, now) < this.renewFraction) why = 'expiring';
        else {
          why = undefined;
          serving = { cert, key };
        }
      } catch {
        why = 'invalid';
      }
    } else if (changed && cert) {
      why = 'ca';
    }
    if (!serving) {
      serving = newServingCert(ca, this.opts.hosts, this.certValidityMs, new Date(now));
      certRotations.inc({ what: 'serving', why: why ?? 'missing' });
      this.opts.log.info({ why, hosts: this.opts.hosts }, 'new webhook serving certificate');
      changed = true;
    }
    const caBundle = [ca.cert, ...older].join('');
    if (caBundle !== bundle.join('')) changed = true;
    return { state: { caBundle, ca, serving }, changed };
  }

  /** Sets clientConfig.caBundle of every webhook of the configurations (JSON Patch, each guarded by a test of the webhook's name). */
  async patchCaBundle(bundle: string): Promise<void> {
    const want = b64(bundle);
    for (const name of this.opts.webhookConfigurations) {
      const p = resourcePath(MUTATING_WEBHOOK_CONFIGURATIONS, { name });
      try {
        const cfg = await this.opts.client.get<{ webhooks?: { name: string; clientConfig?: { caBundle?: string } }[] }>(p);
        const ops: unknown[] = [];
        (cfg.webhooks ?? []).forEach((w, i) => {
          if (w.clientConfig?.caBundle === want) return;
          ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name }, { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
        });
        if (!ops.length) {
          caBundlePatches.inc({ result: 'unchanged' });
          continue;
        }
        await this.opts.client.jsonPatch(p, ops);
        caBundlePatches.inc({ result: 'patched' });
        this.opts.log.info({ configuration: name }, 'webhook caBundle patched');
      } catch (e) {
        if (isNotFound(e)) {
          caBundlePatches.inc({ result: 'missing' });
          this.opts.log.warn({ configuration: name }, 'webhook configuration not found: caBundle not patched');
          continue;
        }
        caBundlePatches.inc({ result: 'error' });
        throw e;
      }
    }
  }

  /** Checks again every `intervalMs` (default 1 h, at most a tenth of the serving certificate's lifetime). */
  startRotation(intervalMs = Math.min(3_600_000, this.certValidityMs / 10)): void {
    const tick = () => {
      this.ensure().catch((e: Error) => this.opts.log.error({ err: e }, 'webhook certificate check failed; retried later'));
      this.timer = setTimeout(tick, intervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}
