// `auditflow agent`: the node agent (DaemonSet) that installs SeccompProfiles and SelinuxProfiles for kubelet.

import * as os from 'node:os';
import * as path from 'node:path';
import { startAgent, type Agent } from '../agent/agent';
import { HttpServer, parseListen } from '../http/server';
import { loadKubeClient } from './kube-client';
import { createLogger } from '../log';
import { enableDefaultMetrics } from '../metrics';
import { list, UsageError, type Command } from './command';
import * as fs from 'node:fs';
import { OciBases, DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_TTL_MS } from '../agent/oci-base';
import { loadPublicKey } from '../oci/cosign';
import { stopSignal } from './stop-signal';

/** The policy for `oci://` base profiles (issue 16). */
function ociBasesFromFlags(v: Record<string, unknown>): OciBases {
  let keys;
  try {
    keys = list(v['oci-verify-key']).map((f) => loadPublicKey(fs.readFileSync(f), f));
  } catch (e) {
    throw new UsageError(`--oci-verify-key: ${(e as Error).message}`, { cause: e });
  }
  const size = v['oci-cache-size'] !== undefined ? Number(v['oci-cache-size']) : DEFAULT_CACHE_ENTRIES;
  if (!Number.isInteger(size) || size < 1) throw new UsageError('--oci-cache-size must be a positive integer');
  let ttlMs = DEFAULT_CACHE_TTL_MS;
  if (v['oci-cache-ttl'] !== undefined) {
    const m = /^(\d+)(s|m|h)?$/.exec(String(v['oci-cache-ttl']));
    if (!m) throw new UsageError('--oci-cache-ttl: expected seconds or a duration such as 30m or 24h');
    ttlMs = Number(m[1]) * ({ s: 1, m: 60, h: 3600 } as Record<string, number>)[m[2] ?? 's']! * 1000;
  }
  let ca;
  if (v['oci-ca-file'] !== undefined) {
    try {
      ca = fs.readFileSync(v['oci-ca-file'] as string);
    } catch (e) {
      throw new UsageError(`--oci-ca-file: ${(e as Error).message}`, { cause: e });
    }
  }
  return new OciBases({
    keys,
    requireSignature: v['oci-insecure-skip-verify'] !== true,
    allowedRegistries: list(v['oci-allowed-registry']),
    maxEntries: size,
    ttlMs,
    ...(ca ? { ca } : {}),
    ...(v['oci-docker-config'] !== undefined ? { dockerConfig: v['oci-docker-config'] as string } : {}),
  });
}

export const agentCommand: Command = {
  name: 'agent',
  summary:
    'Node agent: installs SeccompProfiles as <kubelet-dir>/seccomp/operator/<name>.json (stacked on their\n' +
    'baseProfileName), SelinuxProfiles with semodule where the node runs SELinux, and reports per-node status.',
  usage: 'agent [options]',
  help: [
    '  --node-name NAME       this node (default $NODE_NAME, else the host name); alias --node',
    '  --kubelet-dir DIR      kubelet root directory (default /var/lib/kubelet)',
    '  --kubelet-seccomp-root DIR  kubelet\'s seccomp root instead (default <kubelet-dir>/seccomp)',
    '  --namespace NS         namespace of the SecurityProfileNodeStatus objects (default $POD_NAMESPACE, else auditflow)',
    '  --kubeconfig FILE      kubeconfig (default $KUBECONFIG, else in-cluster, else ~/.kube/config)',
    '  --selinux-dir DIR      where CIL modules are kept for semodule (default /etc/selinux.d)',
    '  --log-denials          add SECCOMP_FILTER_FLAG_LOG to denying profiles so the kernel audits their denials',
    '                         (for auditflow denials); needs runc >= 1.2, older runc rejects profiles with flags',
    '  --listen HOST:PORT     serve /metrics and /healthz there (default: not served); alias --metrics-address',
    '  --oci-verify-key FILE  cosign public key (PEM) that oci:// base profiles must be signed with (repeatable)',
    '  --oci-insecure-skip-verify  accept unsigned oci:// base profiles (default: a signature is required)',
    '  --oci-allowed-registry HOST[:PORT]  registries oci:// bases may come from (repeatable; default: any)',
    '  --oci-ca-file FILE     extra CA (PEM) for the registries\' TLS',
    '  --oci-docker-config FILE  docker config.json with registry credentials (default ~/.docker/config.json)',
    '  --oci-cache-size N     pulled base profiles kept (default 1000)',
    '  --oci-cache-ttl DUR    how long a pulled base is reused, e.g. 24h, 30m, 600 (s) (default 24h)',
    '  A profile whose oci:// base cannot be pulled or verified is Error, and is retried on a timer',
    '  (10 s, doubling to 5 min) until the base can be pulled: no change to the profile is needed.',
  ].join('\n'),
  options: {
    'node-name': { type: 'string' },
    node: { type: 'string' },
    'kubelet-dir': { type: 'string' },
    'kubelet-seccomp-root': { type: 'string' },
    namespace: { type: 'string' },
    kubeconfig: { type: 'string' },
    'selinux-dir': { type: 'string' },
    'log-denials': { type: 'boolean' },
    listen: { type: 'string' },
    'metrics-address': { type: 'string' },
    'oci-verify-key': { type: 'string', multiple: true },
    'oci-insecure-skip-verify': { type: 'boolean' },
    'oci-allowed-registry': { type: 'string', multiple: true },
    'oci-ca-file': { type: 'string' },
    'oci-docker-config': { type: 'string' },
    'oci-cache-size': { type: 'string' },
    'oci-cache-ttl': { type: 'string' },
  },
  async run(v) {
    const nodeName = (v['node-name'] as string | undefined) ?? (v.node as string | undefined) ?? process.env.NODE_NAME ?? os.hostname();
    if (!nodeName || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(nodeName) || nodeName.length > 253) throw new UsageError(`--node-name "${nodeName}" is not a node name`);
    const namespace = (v.namespace as string | undefined) ?? process.env.POD_NAMESPACE ?? 'auditflow';
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) throw new UsageError(`--namespace "${namespace}" is not a namespace name`);
    if (v['kubelet-dir'] !== undefined && v['kubelet-seccomp-root'] !== undefined) throw new UsageError('give --kubelet-dir or --kubelet-seccomp-root, not both');
    // The agent writes to <kubeletDir>/seccomp/operator: a seccomp root maps back to its parent.
    const kubeletDir = v['kubelet-seccomp-root'] !== undefined ? path.dirname(path.resolve(v['kubelet-seccomp-root'] as string)) : path.resolve((v['kubelet-dir'] as string | undefined) ?? '/var/lib/kubelet');
    if (v['kubelet-seccomp-root'] !== undefined && path.basename(path.resolve(v['kubelet-seccomp-root'] as string)) !== 'seccomp') {
      throw new UsageError('--kubelet-seccomp-root must end in /seccomp (kubelet resolves localhostProfile there)');
    }
    const listen = (v.listen as string | undefined) ?? (v['metrics-address'] as string | undefined);
    if (listen !== undefined) {
      try {
        parseListen(listen);
      } catch (e) {
        throw new UsageError(`--listen: ${(e as Error).message}`, { cause: e });
      }
    }
    const ociBases = ociBasesFromFlags(v);
    const log = createLogger('auditflow-agent');
    const client = loadKubeClient(v.kubeconfig as string | undefined, 'auditflow-agent', log);
    if (!client) return 1;
    enableDefaultMetrics();
    let agent: Agent | undefined;
    let server: HttpServer | undefined;
    if (listen !== undefined) {
      // /healthz turns 200 once the informers' first lists are in (startAgent resolved)
      server = new HttpServer({ listen, log, health: { synced: () => ({ ok: agent !== undefined, detail: agent ? 'watches synced' : 'starting' }) } });
      await server.start();
    }
    log.info({ node: nodeName, kubeletDir, namespace, apiserver: client.access.server, via: client.access.source, listen }, 'starting node agent');
    const stopped = stopSignal();
    const opts = { client, nodeName, kubeletDir, namespace, log, ...(v['selinux-dir'] ? { selinuxDir: v['selinux-dir'] as string } : {}), logDenials: v['log-denials'] === true, ociBases };
    // Startup waits for the informers' first lists; a signal during that wait still ends the process.
    const started = startAgent(opts).then((a) => (agent = a));
    await Promise.race([started, stopped]);
    await stopped;
    log.info('stopping node agent');
    if (agent) await agent.stop();
    await server?.close();
    client.close();
    return 0;
  },
};
