// Node agent metrics (auditflow_agent_*).

import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics';

export const fileOps = new Counter({
  name: 'auditflow_agent_profile_files_total',
  help: 'Profile files on this node by kind and operation (written, unchanged, removed, kept: deletion waits for pods using it)',
  labelNames: ['kind', 'op'] as const,
  registers: [registry],
});

export const profileErrors = new Counter({
  name: 'auditflow_agent_profile_errors_total',
  help: 'Profiles this node could not install, by kind and reason (invalid-name, stack, cil, semodule, write)',
  labelNames: ['kind', 'reason'] as const,
  registers: [registry],
});

export const nodeStates = new Gauge({
  name: 'auditflow_agent_profiles',
  help: "Profiles by kind and this node's state (Installed, Error, Terminating, Pending, Unsupported)",
  labelNames: ['kind', 'state'] as const,
  registers: [registry],
});
