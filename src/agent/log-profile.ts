// The logging seccomp profile that recording needs, as SPO's log-enricher-trace: every syscall allowed and
// logged (SCMP_ACT_LOG), so the kernel audits each one and the pipeline records what a workload does. The
// agent installs it on every node under its own directory, operator/<namespace>/, which no SeccompProfile
// name can reach (names have no "/"), so no profile can replace it and the agent's clean-up never removes it.
// The recording webhook points recorded containers at it.

import * as path from 'node:path';
import { ProfileDir, SECCOMP_OPERATOR_SUBDIR } from './profile-files';

export const LOG_PROFILE_NAME = 'log-enricher-trace';
export const LOG_PROFILE_CONTENT = JSON.stringify({ defaultAction: 'SCMP_ACT_LOG' }, null, 2) + '\n';

/** What a container's `localhostProfile` says: `operator/<namespace>/log-enricher-trace.json`. */
export const logProfileLocalhost = (namespace: string) => `operator/${namespace}/${LOG_PROFILE_NAME}.json`;

/** Writes the profile under `<kubeletDir>/seccomp/operator/<namespace>/` (atomic; unchanged files are left alone). Returns its path. */
export async function installLogProfile(kubeletDir: string, namespace: string): Promise<{ path: string; changed: boolean }> {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) throw new Error(`namespace ${JSON.stringify(namespace)} is not a namespace name`);
  const dir = new ProfileDir(path.join(kubeletDir, SECCOMP_OPERATOR_SUBDIR, namespace));
  const changed = await dir.write(LOG_PROFILE_NAME, LOG_PROFILE_CONTENT);
  return { path: dir.pathFor(LOG_PROFILE_NAME), changed };
}
