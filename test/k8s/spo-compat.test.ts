// SPO 1.0 drop-in (issue 13), against the real kube-apiserver:
// (a) objects GENERATED from SPO v1.0.0's own CRDs (/work/shared/spo-v1.0.0/crds: every property set, every
//     enum value, every defaulted field left out) are server-side applied against auditflow's standalone CRDs
//     and come back with their spec (and status) as sent, plus SPO's defaults;
// (b) with SPO's own CRDs installed in place of auditflow's (restored in `after`), everything auditflow writes
//     (recorded profiles through the recording controller, node statuses and profile statuses through the node
//     agent, deploy/examples) is accepted and nothing is pruned.
process.env.AUDITFLOW_LOG_LEVEL ??= 'error';

import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadAll } from 'js-yaml';
import type { AvcInfo } from '../../parsers';
import { startAgent, type Agent } from '../../src/agent/agent';
import { nodeStatusName } from '../../src/agent/status';
import { API_VERSION, type ProfileRecording } from '../../src/k8s/api';
import { KubeClient, type RequestOptions } from '../../src/k8s/client';
import { startRecordingController, type RecordingController } from '../../src/k8s/recording-controller';
import { NODE_STATUSES, PROFILE_RECORDINGS, RAW_SELINUX_PROFILES, resourcePath, SECCOMP_PROFILES, SELINUX_PROFILES, APPARMOR_PROFILES } from '../../src/k8s/resources';
import { createLogger } from '../../src/log';
import type { RecordedProfile, RecordingSpec } from '../../src/profile/recording';
import { SeccompProfileBuilder } from '../../src/profile/seccomp';
import { SelinuxProfileBuilder } from '../../src/profile/selinux';
import { clientAs, ensureDeployed, ensureNamespace, eventually, forgetNode, getOrUndefined, uniqueName } from '../env/k8s-setup';
import { kubectl, repoRoot, type KubeEnv } from '../env/kube';

const SPO_DIR = process.env.SPO_CRDS ?? '/work/shared/spo-v1.0.0/crds';
const KINDS = ['SeccompProfile', 'SelinuxProfile', 'RawSelinuxProfile', 'AppArmorProfile', 'ProfileRecording', 'ProfileBinding', 'SecurityProfileNodeStatus'];
const NS = 'auditflow-spo-compat';

type Schema = {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  enum?: unknown[];
  default?: unknown;
  required?: string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  minItems?: number;
  format?: string;
};
type Crd = { spec: { group: string; scope: string; names: { kind: string; plural: string }; versions: { name: string; served: boolean; schema: { openAPIV3Schema: Schema } }[] } };

function spoCrds(): Crd[] {
  const out: Crd[] = [];
  for (const f of fs.readdirSync(SPO_DIR).filter((x) => x.endsWith('.yaml')).sort()) {
    for (const d of loadAll(fs.readFileSync(path.join(SPO_DIR, f), 'utf8')) as Crd[]) if (d && KINDS.includes(d.spec.names.kind)) out.push(d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Generating objects from a schema

const SAMPLE_STRING = 'value';
const SAMPLE_KEY = 'key_a';
/** Values for patterns the generic sample does not match (SPO's listenerPath). */
const PATTERN_SAMPLES: Record<string, string> = { '^/var/run/security-profiles-operator/[a-zA-Z0-9_\\-\\.]+$': '/var/run/security-profiles-operator/agent.sock' };

function sampleString(s: Schema, at: string): string {
  if (s.format === 'date-time') return '2026-11-22T17:35:20Z';
  let v = SAMPLE_STRING;
  if (s.pattern && !new RegExp(s.pattern).test(v)) {
    const p = PATTERN_SAMPLES[s.pattern];
    if (!p) throw new Error(`${at}: no sample value for pattern ${s.pattern}: add one to PATTERN_SAMPLES`);
    v = p;
  }
  return v;
}

/** A value for `s` with every property set; enums take `choose(path, values)`. */
function full(s: Schema, at: string, choose: (at: string, values: unknown[]) => unknown): unknown {
  if (s.enum) return choose(at, s.enum);
  switch (s.type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, p] of Object.entries(s.properties ?? {})) o[k] = full(p, `${at}.${k}`, choose);
      if (s.additionalProperties && typeof s.additionalProperties === 'object') o[SAMPLE_KEY] = full(s.additionalProperties, `${at}.*`, choose);
      return o;
    }
    case 'array':
      return [full(s.items!, `${at}[]`, choose)];
    case 'string':
      return sampleString(s, at);
    case 'integer':
      return Math.max(s.minimum ?? 1, 1);
    case 'boolean':
      return true;
    default:
      throw new Error(`${at}: no generator for type ${String(s.type)}`);
  }
}

/** Every enum in `s`: path → values. */
function enums(s: Schema, at: string, out = new Map<string, unknown[]>()): Map<string, unknown[]> {
  if (s.enum) out.set(at, s.enum);
  for (const [k, p] of Object.entries(s.properties ?? {})) enums(p, `${at}.${k}`, out);
  if (s.items) enums(s.items, `${at}[]`, out);
  if (s.additionalProperties && typeof s.additionalProperties === 'object') enums(s.additionalProperties, `${at}.*`, out);
  return out;
}

/** Paths of the fields with a default. */
function defaulted(s: Schema, at: string, out: string[] = []): string[] {
  for (const [k, p] of Object.entries(s.properties ?? {})) {
    if (p.default !== undefined) out.push(`${at}.${k}`);
    defaulted(p, `${at}.${k}`, out);
  }
  if (s.items) defaulted(s.items, `${at}[]`, out);
  return out;
}

/** `v` without the field at `field` (a path from defaulted(); `[]` applies to every item). */
function without(v: unknown, field: string): unknown {
  const parts = field.split('.').slice(1);
  const go = (x: unknown, ps: string[]): unknown => {
    if (ps.length === 0 || x === null || typeof x !== 'object') return x;
    const [head, ...rest] = ps;
    const arr = head!.endsWith('[]');
    const key = arr ? head!.slice(0, -2) : head!;
    const o = { ...(x as Record<string, unknown>) };
    if (!(key in o)) return o;
    if (rest.length === 0 && !arr) {
      delete o[key];
      return o;
    }
    o[key] = arr ? (o[key] as unknown[]).map((i) => go(i, rest)) : go(o[key], rest);
    return o;
  };
  return go(v, parts);
}

/** `v` with the schema's defaults filled in where a field is missing (what the apiserver does). */
function withDefaults(s: Schema, v: unknown): unknown {
  if (v === undefined || v === null) return v;
  if (s.type === 'object' && typeof v === 'object' && !Array.isArray(v)) {
    const o = { ...(v as Record<string, unknown>) };
    for (const [k, p] of Object.entries(s.properties ?? {})) {
      if (o[k] === undefined && p.default !== undefined) o[k] = structuredClone(p.default);
      if (o[k] !== undefined) o[k] = withDefaults(p, o[k]);
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      for (const k of Object.keys(o)) if (!(k in (s.properties ?? {}))) o[k] = withDefaults(s.additionalProperties, o[k]);
    }
    return o;
  }
  if (s.type === 'array' && Array.isArray(v)) return v.map((i) => withDefaults(s.items!, i));
  return v;
}

interface Generated {
  what: string;
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  spec: unknown;
  status?: unknown;
  expectSpec: unknown;
}

function generate(crd: Crd): Generated[] {
  const out: Generated[] = [];
  const { kind, plural } = crd.spec.names;
  for (const v of crd.spec.versions.filter((x) => x.served)) {
    const root = v.schema.openAPIV3Schema;
    const specS = root.properties!.spec!;
    const statusS = root.properties!.status;
    const base = { apiVersion: `${crd.spec.group}/${v.name}`, kind, plural, namespaced: crd.spec.scope === 'Namespaced' };
    const first = (_: string, vals: unknown[]) => vals[0];
    const spec = full(specS, 'spec', first);
    const status = statusS ? full(statusS, 'status', first) : undefined;
    out.push({ ...base, what: `${v.name} every property`, spec, status, expectSpec: spec });
    for (const [at, values] of enums(specS, 'spec')) {
      for (const val of values) {
        const s = full(specS, 'spec', (p, vals) => (p === at ? val : vals[0]));
        out.push({ ...base, what: `${v.name} ${at}=${String(val)}`, spec: s, expectSpec: s });
      }
    }
    if (statusS) {
      for (const [at, values] of enums(statusS, 'status')) {
        for (const val of values) out.push({ ...base, what: `${v.name} ${at}=${String(val)}`, spec, status: full(statusS, 'status', (p, vals) => (p === at ? val : vals[0])), expectSpec: spec });
      }
    }
    for (const d of defaulted(specS, 'spec')) {
      const s = without(spec, d);
      out.push({ ...base, what: `${v.name} without ${d} (defaulted)`, spec: s, expectSpec: withDefaults(specS, s) });
    }
    const bare = withDefaults(specS, {});
    if (!(specS.required ?? []).length) out.push({ ...base, what: `${v.name} empty spec (all defaults)`, spec: {}, expectSpec: bare });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

let env: KubeEnv;
let admin: KubeClient;

async function kc(args: string[], input?: string): Promise<string> {
  const r = await kubectl(env, args, input === undefined ? {} : { input });
  assert.equal(r.status, 0, `kubectl ${args.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

before(async () => {
  env = await ensureDeployed();
  admin = clientAs(env, 'admin');
  await ensureNamespace(admin, NS);
});

after(() => admin?.close());

describe("(a) objects generated from SPO v1.0.0's CRDs, applied to auditflow's standalone CRDs", () => {
  const crds = spoCrds();
  it('covers every kind', () => assert.deepEqual(crds.map((c) => c.spec.names.kind).sort(), [...KINDS].sort()));
  for (const crd of crds) {
    it(`${crd.spec.names.kind}: every generated object comes back with its spec (and status) unchanged plus SPO's defaults`, async (t) => {
      const gen = generate(crd);
      t.diagnostic(`${gen.length} objects generated from ${crd.spec.versions.filter((v) => v.served).map((v) => v.name).join(', ')}`);
      assert.ok(gen.length > 1, 'objects were generated');
      const failures: string[] = [];
      const names: string[] = [];
      for (const [i, g] of gen.entries()) {
        const name = `${uniqueName('gen')}-${i}`;
        names.push(name);
        const ns = g.namespaced ? ['-n', NS] : [];
        const obj = { apiVersion: g.apiVersion, kind: g.kind, metadata: { name }, spec: g.spec };
        const r = await kubectl(env, [...ns, 'apply', '--server-side', '--field-manager=spo-compat', '-o', 'json', '-f', '-'], { input: JSON.stringify(obj) });
        if (r.status !== 0) {
          failures.push(`${g.what}: rejected: ${r.stderr.trim()}`);
          continue;
        }
        const back = JSON.parse(r.stdout);
        try {
          assert.equal(back.apiVersion, g.apiVersion);
          assert.deepEqual(back.spec, g.expectSpec);
        } catch {
          failures.push(`${g.what}: spec came back as ${JSON.stringify(back.spec)}, expected ${JSON.stringify(g.expectSpec)}`);
          continue;
        }
        if (g.status !== undefined) {
          const s = await kubectl(env, [...ns, 'apply', '--server-side', '--field-manager=spo-compat', '--subresource=status', '-o', 'json', '-f', '-'], {
            input: JSON.stringify({ apiVersion: g.apiVersion, kind: g.kind, metadata: { name }, status: g.status }),
          });
          if (s.status !== 0) failures.push(`${g.what}: status rejected: ${s.stderr.trim()}`);
          else if (JSON.stringify(JSON.parse(s.stdout).status) !== JSON.stringify(g.status)) {
            try {
              assert.deepEqual(JSON.parse(s.stdout).status, g.status);
            } catch {
              failures.push(`${g.what}: status came back as ${JSON.stringify(JSON.parse(s.stdout).status)}, expected ${JSON.stringify(g.status)}`);
            }
          }
        }
      }
      const plural = `${crd.spec.names.plural}.${crd.spec.group}`;
      await kubectl(env, [...(crd.spec.scope === 'Namespaced' ? ['-n', NS] : []), 'delete', '--ignore-not-found', '--wait=false', plural, ...names]);
      assert.deepEqual(failures, [], `${failures.length} of ${gen.length} generated objects`);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------

interface Write {
  method: string;
  path: string;
  sent: any;
  got?: any;
  error?: string;
}

/** Every write `c` makes, with what the server answered (the stored object). */
function recordWrites(c: KubeClient, log: Write[]): KubeClient {
  const orig = c.request.bind(c);
  (c as { request: KubeClient['request'] }).request = async <T>(method: string, p: string, opts: RequestOptions = {}): Promise<T> => {
    if (method === 'GET' || method === 'DELETE' || !opts.body || typeof opts.body !== 'object' || Array.isArray(opts.body)) return orig<T>(method, p, opts);
    try {
      const got = await orig<T>(method, p, opts);
      log.push({ method, path: p, sent: opts.body, got });
      return got;
    } catch (e) {
      log.push({ method, path: p, sent: opts.body, error: (e as Error).message });
      throw e;
    }
  };
  return c;
}

/** Where `got` lacks something of `sent` (deep subset; resourceVersion is the server's). */
function pruned(sent: unknown, got: unknown, at = ''): string[] {
  if (sent === null || typeof sent !== 'object') return JSON.stringify(sent) === JSON.stringify(got) ? [] : [`${at}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(got)}`];
  if (Array.isArray(sent)) {
    if (!Array.isArray(got) || got.length !== sent.length) return [`${at}: sent ${JSON.stringify(sent)}, stored ${JSON.stringify(got)}`];
    return sent.flatMap((x, i) => pruned(x, got[i], `${at}[${i}]`));
  }
  if (got === null || typeof got !== 'object') return [`${at}: sent an object, stored ${JSON.stringify(got)}`];
  return Object.entries(sent).flatMap(([k, v]) => (k === 'resourceVersion' || v === undefined ? [] : pruned(v, (got as Record<string, unknown>)[k], `${at}.${k}`)));
}

/** A 409 is an optimistic-concurrency retry (resourceVersion changed), not a rejection of the content. */
const isConflict = (w: Write) => /: 409 /.test(w.error ?? '');

function problems(log: Write[]): string[] {
  return log.filter((w) => !isConflict(w)).flatMap((w) => (w.error ? [`${w.method} ${w.path}: rejected: ${w.error}`] : pruned(w.sent, w.got).map((d) => `${w.method} ${w.path}: ${d}`)));
}

describe("(b) with SPO v1.0.0's own CRDs installed, what auditflow writes is accepted and nothing is pruned", () => {
  const files = ['seccompprofile.yaml', 'selinuxpolicy.yaml', 'apparmorprofile.yaml', 'profilerecording.yaml', 'profilebinding.yaml', 'securityprofilenodestatus.yaml'];
  const NODE = uniqueName('spo-node');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'auditflow-spo-'));
  const cleanup: [string, string][] = [];

  before(async () => {
    // SPO's CRDs replace ours as they are (kubectl replace: nothing of ours kept by field ownership).
    await kc(['replace', ...files.flatMap((f) => ['-f', path.join(SPO_DIR, f)])]);
    const plurals = ['seccompprofiles', 'selinuxprofiles', 'rawselinuxprofiles', 'apparmorprofiles', 'profilerecordings', 'profilebindings', 'securityprofilenodestatuses'];
    await kc(['wait', '--for=condition=Established', '--timeout=120s', ...plurals.map((p) => `crd/${p}.security-profiles-operator.x-k8s.io`)]);
    const crd = JSON.parse(await kc(['get', 'crd', 'seccompprofiles.security-profiles-operator.x-k8s.io', '-o', 'json']));
    assert.equal(crd.metadata.labels?.['app.kubernetes.io/part-of'], undefined, "SPO's own CRD is installed");
    assert.ok(crd.metadata.annotations?.['controller-gen.kubebuilder.io/version'], "SPO's own CRD is installed");
  });

  after(async () => {
    await forgetNode(admin, NODE).catch(() => undefined);
    for (const [p] of cleanup.reverse()) await admin.delete(p).catch(() => undefined);
    // auditflow's CRDs back, exactly (replace), then owned by the rig's field manager again (apply).
    const r = await kubectl(env, ['replace', '-k', path.join(repoRoot(), 'deploy', 'base', 'crds')]);
    assert.equal(r.status, 0, `restoring auditflow's CRDs failed:\n${r.stderr}`);
    await env.applyCrds();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('recorded profiles (seccomp, SELinux; disableProfileAfterRecording) written by the recording controller', async () => {
    const log: Write[] = [];
    const client = recordWrites(clientAs(env, 'auditflow-aggregator', 'auditflow'), log);
    const ctl: RecordingController = await startRecordingController({ client, log: createLogger('spo-compat') });
    try {
      for (const [kind, disable] of [['SeccompProfile', false], ['SelinuxProfile', true]] as const) {
        const rec = uniqueName('rec');
        const recording: ProfileRecording = {
          apiVersion: API_VERSION,
          kind: 'ProfileRecording',
          metadata: { name: rec, namespace: NS },
          spec: { kind, recorder: 'Logs', podSelector: { matchLabels: { app: 'x' } }, mergeStrategy: 'Containers', disableProfileAfterRecording: disable },
        };
        await admin.apply(resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: rec }), recording);
        cleanup.push([resourcePath(PROFILE_RECORDINGS, { namespace: NS, name: rec }), 'rec']);
        await eventually('recording seen', () => ctl.source.list().some((s) => s.name === rec));
        const spec: RecordingSpec = { name: rec, namespace: NS, kind, podSelector: { matchLabels: { app: 'x' } }, mergeStrategy: 'containers' };
        const name = `${rec}-web`;
        const labels = { 'spo.x-k8s.io/recording-id': rec, 'spo.x-k8s.io/container-id': 'web', 'spo.x-k8s.io/recording-namespace': NS };
        let resource: RecordedProfile['resource'];
        if (kind === 'SeccompProfile') {
          const b = new SeccompProfileBuilder();
          for (const s of ['read', 'write', 'exit_group']) b.add('x86_64', s);
          resource = b.toResource({ name, labels }) as unknown as RecordedProfile['resource'];
        } else {
          const b = new SelinuxProfileBuilder();
          b.add({ decision: 'denied', permissions: ['read'], tclass: 'file', source: { user: '', role: '', type: 'container_t' }, target: { user: '', role: '', type: 'var_log_t' } } as unknown as AvcInfo);
          resource = b.toResource(name, labels) as unknown as RecordedProfile['resource'];
        }
        cleanup.push([resourcePath(kind === 'SeccompProfile' ? SECCOMP_PROFILES : SELINUX_PROFILES, { name }), kind]);
        await ctl.sink.write({ recording: spec, name, containerName: 'web', kind, resource, evidence: {}, final: true });
      }
    } finally {
      await ctl.stop();
    }
    const profileWrites = log.filter((w) => /\/(seccompprofiles|selinuxprofiles)\//.test(w.path));
    assert.equal(profileWrites.length, 2, `two profiles written: ${log.map((w) => w.path).join(', ')}`);
    assert.equal(profileWrites[1]!.got?.spec?.state, 'Disabled', 'disableProfileAfterRecording: state Disabled, kept by SPO');
    assert.deepEqual(problems(profileWrites), []);
    // The recording's status: SPO's schema has activeWorkloads only; auditflow's conditions and profiles are
    // extensions of its own CRD (pruned here, listed in README's differences).
    const statusWrites = log.filter((w) => w.path.endsWith('/status') && !isConflict(w));
    assert.ok(statusWrites.length > 0);
    for (const w of statusWrites) {
      assert.equal(w.error, undefined, `${w.method} ${w.path} accepted`);
      assert.deepEqual(pruned(w.sent.status?.activeWorkloads, w.got.status?.activeWorkloads), []);
    }
  });

  it('node statuses and profile statuses written by the node agent (Installed, Disabled, Error, Unsupported)', async () => {
    const log: Write[] = [];
    const client = recordWrites(clientAs(env, 'auditflow-agent', 'auditflow-agent'), log);
    const objs = [
      { t: SECCOMP_PROFILES, kind: 'SeccompProfile', name: uniqueName('spo-ok'), spec: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ action: 'SCMP_ACT_ALLOW', names: ['read'] }] }, state: 'Installed' },
      { t: SECCOMP_PROFILES, kind: 'SeccompProfile', name: uniqueName('spo-off'), spec: { defaultAction: 'SCMP_ACT_ERRNO', state: 'Disabled' }, state: 'Disabled' },
      { t: SECCOMP_PROFILES, kind: 'SeccompProfile', name: uniqueName('spo-bad'), spec: { defaultAction: 'SCMP_ACT_ERRNO', baseProfileName: 'missing-base' }, state: 'Error' },
      { t: SELINUX_PROFILES, kind: 'SelinuxProfile', name: uniqueName('spo-se'), spec: {}, state: 'Error' },
      { t: RAW_SELINUX_PROFILES, kind: 'RawSelinuxProfile', name: uniqueName('spo-raw'), spec: { policy: '(blockinherit container)' }, state: 'Error' },
      { t: APPARMOR_PROFILES, kind: 'AppArmorProfile', name: uniqueName('spo-aa'), spec: {}, state: 'Error' },
    ];
    let agent: Agent | undefined;
    try {
      agent = await startAgent({ client, nodeName: NODE, kubeletDir: path.join(tmp, 'kubelet'), log: createLogger('spo-compat') });
      for (const o of objs) {
        await admin.apply(resourcePath(o.t, { name: o.name }), { apiVersion: API_VERSION, kind: o.kind, metadata: { name: o.name }, spec: o.spec });
        cleanup.push([resourcePath(o.t, { name: o.name }), o.kind]);
      }
      for (const o of objs) {
        await eventually(`${o.kind} ${o.name}: node status ${o.state} and profile status ${o.state}`, async () => {
          const ns = await getOrUndefined<{ status?: { status?: string } }>(admin, resourcePath(NODE_STATUSES, { name: nodeStatusName(o.kind, o.name, NODE) }));
          const p = await getOrUndefined<{ status?: { status?: string } }>(admin, resourcePath(o.t, { name: o.name }));
          return ns?.status?.status === o.state && p?.status?.status === o.state;
        });
      }
    } finally {
      await agent?.stop();
    }
    const nodeWrites = log.filter((w) => w.path.includes('/securityprofilenodestatuses/'));
    assert.ok(nodeWrites.length >= objs.length * 2, `node status writes: ${nodeWrites.length}`);
    const profileStatusWrites = log.filter((w) => w.path.endsWith('/status') && !w.path.includes('/securityprofilenodestatuses/'));
    assert.ok(profileStatusWrites.length >= objs.length, `profile status writes: ${profileStatusWrites.length}`);
    assert.deepEqual(problems(log), []);
  });

  it('every example in deploy/examples', async () => {
    const dir = path.join(repoRoot(), 'deploy', 'examples');
    const out: string[] = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.yaml')).sort()) {
      for (const doc of (loadAll(fs.readFileSync(path.join(dir, f), 'utf8')) as { apiVersion: string; kind: string; metadata: { name: string }; spec: unknown }[]).filter(Boolean)) {
        if (doc.apiVersion !== API_VERSION) continue;
        const r = await kubectl(env, ['-n', NS, 'apply', '--server-side', '--dry-run=server', '--field-manager=spo-compat', '-o', 'json', '-f', '-'], { input: JSON.stringify(doc) });
        if (r.status !== 0) {
          out.push(`${f}: rejected: ${r.stderr}`);
          continue;
        }
        out.push(...pruned(doc.spec, JSON.parse(r.stdout).spec, `${f} spec`));
      }
    }
    assert.deepEqual(out, []);
  });
});
