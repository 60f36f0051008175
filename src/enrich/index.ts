// Enrichment: pid → container (via /proc/<pid>/cgroup) → pod (via the CRI runtime). Depends on nothing in src/cli.
export * from './cgroup';
export * from './cri';
export * from './pod-resolver';
export * from './proc-cache';
export * from './enricher';
export * from './container-watch';
