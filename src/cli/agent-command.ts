// `auditflow agent`: the node agent (DaemonSet) that installs SeccompProfiles and SelinuxProfiles for kubelet.

import * as os from 'node:os';
import * as path from 'node:path';
import { startAgent, type Agent } from '../agent/agent';
import { HttpServer, parseListen } from '../http/server';
import { loadKubeClient } from './kube-client';
import { createLogger } from '../log';
import { enableDefaultMetrics } from '../metrics';
import { UsageError, type Command } from './command';
import { OCI_BASE_HELP, OCI_BASE_OPTIONS, ociBasesFromFlags } from './oci-flags';
import { stopSignal } from './stop-signal';

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
    OCI_BASE_HELP,
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
    ...OCI_BASE_OPTIONS,
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
