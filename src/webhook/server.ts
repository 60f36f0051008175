// The admission webhook server: HTTPS (the certificate from cert-manager.ts, swapped in place when it is
// rotated), one path per webhook, AdmissionReview v1 in, a JSONPatch out. Decisions come from informer
// caches (ProfileRecordings, ProfileBindings, ClusterProfileBindings, profiles, namespaces), so an admission
// costs no API round trip; events are written after the answer.

import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log';
import type { ProfileBinding, ProfileRecording, SeccompProfile, SelinuxProfile } from '../k8s/api';
import { isNotFound, type KubeClient } from '../k8s/client';
import { Informer, type KObject } from '../k8s/informer';
import { PROFILE_BINDINGS, PROFILE_RECORDINGS, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES } from '../k8s/resources';
import { CLUSTER_PROFILE_BINDINGS, LABEL_ENABLE_BINDING, NAMESPACES, type ClusterProfileBinding } from './api';
import { EventWriter } from './events';
import { admissionSeconds, admissions } from './metrics';
import { bindingMutation, clusterBindingMutation, recordingMutation, type Mutation } from './mutate';
import type { PodLike } from './patch';

export const PATHS = {
  recording: '/mutate-v1-pod-recording',
  binding: '/mutate-v1-pod-binding',
  'cluster-binding': '/mutate-v1-pod-cluster-binding',
} as const;
export type WebhookName = keyof typeof PATHS;

const MAX_BODY = 8 << 20;

interface AdmissionRequest {
  uid: string;
  kind?: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation?: string;
  dryRun?: boolean;
  object?: unknown;
}

interface AdmissionReview {
  apiVersion: string;
  kind: 'AdmissionReview';
  request?: AdmissionRequest;
}

type Ns = KObject & { metadata: { labels?: Record<string, string> } };

export interface WebhookServerOptions {
  client: KubeClient;
  log: Logger;
  /** `localhostProfile` of the agent's logging profile. */
  logProfile: string;
  host: string;
  port: number;
  cert: string;
  key: string;
}

export class WebhookServer {
  private readonly server: https.Server;
  private readonly events: EventWriter;
  readonly recordings: Informer<ProfileRecording & KObject>;
  readonly bindings: Informer<ProfileBinding & KObject>;
  readonly clusterBindings: Informer<ClusterProfileBinding & KObject>;
  readonly seccompProfiles: Informer<SeccompProfile & KObject>;
  readonly selinuxProfiles: Informer<SelinuxProfile & KObject>;
  readonly namespaces: Informer<Ns>;
  private readonly log: Logger;
  private pending = new Set<Promise<void>>();
  private readonly started: Informer<KObject>[];

  constructor(private readonly opts: WebhookServerOptions) {
    this.log = opts.log;
    this.events = new EventWriter(opts.client, opts.log);
    const io = { log: opts.log };
    this.recordings = new Informer(opts.client, PROFILE_RECORDINGS, io);
    this.bindings = new Informer(opts.client, PROFILE_BINDINGS, io);
    this.clusterBindings = new Informer(opts.client, CLUSTER_PROFILE_BINDINGS, io);
    this.seccompProfiles = new Informer(opts.client, SECCOMP_PROFILES, io);
    this.selinuxProfiles = new Informer(opts.client, SELINUX_PROFILES, io);
    this.namespaces = new Informer(opts.client, NAMESPACES, io);
    this.started = [this.recordings, this.bindings, this.seccompProfiles, this.selinuxProfiles, this.namespaces] as unknown as Informer<KObject>[];
    this.server = https.createServer({ cert: opts.cert, key: opts.key, minVersion: 'TLSv1.2' }, (req, res) => {
      this.serve(req, res).catch((e: Error) => {
        this.log.error({ err: e.message }, 'webhook request failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    // A client that stops sending must not hold a socket for ever.
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
  }

  /** Starts the informers (first lists in) and then listens. */
  async start(): Promise<void> {
    // Next to SPO (its CRDs, not auditflow's) there is no ClusterProfileBinding: the other webhooks still work.
    try {
      await this.opts.client.get(resourcePath(CLUSTER_PROFILE_BINDINGS), { limit: 1 });
      this.started.push(this.clusterBindings as unknown as Informer<KObject>);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      this.log.warn('the ClusterProfileBinding CRD (clusterprofilebindings.auditflow.dev) is not installed: cluster-wide bindings are off');
    }
    await Promise.all(this.started.map((i) => i.start()));
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.log.info({ address: this.address() }, 'admission webhook listening');
  }

  address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** A rotated certificate: new TLS connections get it, open ones finish with the old one. */
  setCertificate(cert: string, key: string): void {
    this.server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await Promise.all([...this.pending]);
    await Promise.all(this.started.map((i) => i.stop()));
  }

  private async serve(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://webhook');
    if (req.method === 'GET' && url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const which = (Object.keys(PATHS) as WebhookName[]).find((k) => PATHS[k] === url.pathname);
    if (!which || req.method !== 'POST') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const stop = admissionSeconds.startTimer({ webhook: which });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) {
        admissions.inc({ webhook: which, result: 'bad-request' });
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c as Buffer);
    }
    let review: AdmissionReview;
    try {
      review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as AdmissionReview;
      if (!review || typeof review !== 'object' || review.kind !== 'AdmissionReview' || !review.request || typeof review.request.uid !== 'string') throw new Error('not an AdmissionReview with a request');
    } catch (e) {
      admissions.inc({ webhook: which, result: 'bad-request' });
      this.log.warn({ webhook: which, err: e }, 'bad admission request');
      res.writeHead(400, { 'content-type': 'text/plain' }).end('expected an AdmissionReview\n');
      return;
    }
    const r = review.request!;
    let response: Record<string, unknown>;
    try {
      const m = this.decide(which, r);
      if (!r.dryRun) for (const e of m.events) this.track(this.events.write(e));
      if (m.ops.length) {
        admissions.inc({ webhook: which, result: 'mutated' });
        response = { uid: r.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(m.ops)).toString('base64') };
      } else {
        admissions.inc({ webhook: which, result: 'allowed' });
        response = { uid: r.uid, allowed: true };
      }
      if (m.warnings.length) response.warnings = m.warnings.slice(0, 20).map((w) => w.slice(0, 500));
      if (m.ops.length) this.log.info({ webhook: which, namespace: r.namespace, name: r.name, ops: m.ops.length }, 'pod mutated');
    } catch (e) {
      admissions.inc({ webhook: which, result: 'error' });
      this.log.error({ webhook: which, namespace: r.namespace, name: r.name, err: e }, 'admission failed');
      response = { uid: r.uid, allowed: false, status: { code: 500, message: `auditflow ${which} webhook: ${(e as Error).message}` } };
    }
    const body = JSON.stringify({ apiVersion: review.apiVersion || 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    stop();
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** The mutation for one request; only pod CREATE is mutated (a pod's security context cannot change later). */
  decide(which: WebhookName, r: AdmissionRequest): Mutation {
    const none: Mutation = { ops: [], events: [], warnings: [] };
    if (r.operation !== 'CREATE' || r.subResource || r.resource?.resource !== 'pods' || (r.resource.group ?? '') !== '') return none;
    const pod = r.object as PodLike;
    if (!pod || typeof pod !== 'object') throw new Error('the request carries no pod');
    const namespace = r.namespace ?? pod.metadata?.namespace ?? '';
    const reqName = r.name ?? '';
    if (which === 'recording') {
      const recordings = this.recordings.list().filter((x) => x.metadata.namespace === namespace && !x.metadata.deletionTimestamp);
      return recordingMutation({ pod, recordings, logProfile: this.opts.logProfile, reqName });
    }
    const profiles = {
      seccomp: (n: string) => this.seccompProfiles.get(n),
      selinux: (n: string) => this.selinuxProfiles.get(n),
    };
    const bindings = this.bindings.list().filter((b) => b.metadata.namespace === namespace && !b.metadata.deletionTimestamp);
    const nsLabels = this.namespaces.get(namespace)?.metadata.labels ?? {};
    const input = {
      pod,
      namespace,
      bindings,
      // The namespaced webhook only gets opted-in namespaces (its namespaceSelector); the cluster one asks.
      bindingEnabled: which === 'binding' || Object.prototype.hasOwnProperty.call(nsLabels, LABEL_ENABLE_BINDING),
      clusterBindings: this.clusterBindings.list().filter((b) => !b.metadata.deletionTimestamp),
      profiles,
      reqName,
    };
    return which === 'binding' ? bindingMutation(input) : clusterBindingMutation(input);
  }
}
