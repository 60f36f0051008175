// The Kubernetes client of a long-running command (agent, webhook): a kubeconfig that cannot be used is one
// log line and exit status 1, not a stack trace.

import { KubeClient } from '../k8s/client';
import { KubeconfigError } from '../k8s/kubeconfig';
import type { Logger } from '../log';

/** The client, or undefined once the kubeconfig problem is logged (the command then exits 1). */
export function loadKubeClient(kubeconfig: string | undefined, userAgent: string, log: Logger): KubeClient | undefined {
  try {
    return KubeClient.load(kubeconfig, userAgent);
  } catch (e) {
    if (e instanceof KubeconfigError) {
      log.error(e.message);
      return undefined;
    }
    throw e;
  }
}
