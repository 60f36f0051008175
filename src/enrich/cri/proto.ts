// Finds and loads runtime_v1.proto at run time.
//
// tsc compiles src/enrich/cri/*.ts to dist/src/enrich/cri/*.js but does not copy the .proto. The file is found,
// in this order:
//   1. $AUDITFLOW_CRI_PROTO (an explicit path, for unusual layouts);
//   2. beside this module (a packager that copies the .proto next to the .js);
//   3. src/enrich/cri/runtime_v1.proto under the package root: the nearest ancestor of this module's directory
//      holding a package.json, which is the repo root both for src/ (ts-node) and for dist/src/ (compiled).
// A container image of auditflow must therefore ship src/enrich/cri/runtime_v1.proto (or set the variable).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as protoLoader from '@grpc/proto-loader';

export const CRI_PROTO_FILE = 'runtime_v1.proto';
export const CRI_PROTO_ENV = 'AUDITFLOW_CRI_PROTO';

/** Where runtime_v1.proto is looked for, in order (for error messages and tests). */
export function criProtoCandidates(fromDir: string = __dirname, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  const explicit = env[CRI_PROTO_ENV];
  if (explicit) out.push(path.resolve(explicit));
  out.push(path.join(fromDir, CRI_PROTO_FILE));
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      out.push(path.join(dir, 'src', 'enrich', 'cri', CRI_PROTO_FILE));
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  return out;
}

/** The path of runtime_v1.proto; throws, naming every place it looked, when it is nowhere. */
export function locateCriProto(fromDir: string = __dirname, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = criProtoCandidates(fromDir, env);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(`CRI proto ${CRI_PROTO_FILE} not found; looked at: ${candidates.join(', ')} (set ${CRI_PROTO_ENV} to its path)`);
  }
  return found;
}

/** containerd's event stream proto (containerd-events.ts), shipped beside runtime_v1.proto and found the same way. */
export const CONTAINERD_EVENTS_PROTO_FILE = 'containerd_events.proto';

/** The path of containerd_events.proto: in the directory where runtime_v1.proto was found. */
export function locateContainerdEventsProto(fromDir: string = __dirname, env: NodeJS.ProcessEnv = process.env): string {
  const candidates = criProtoCandidates(fromDir, env).map((p) => path.join(path.dirname(p), CONTAINERD_EVENTS_PROTO_FILE));
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) throw new Error(`containerd events proto ${CONTAINERD_EVENTS_PROTO_FILE} not found; looked at: ${candidates.join(', ')}`);
  return found;
}

/** Fully qualified service name, as in the package definition. */
export const RUNTIME_SERVICE = 'runtime.v1.RuntimeService';

let cached: protoLoader.PackageDefinition | undefined;

/**
 * The runtime.v1 package definition. Messages are plain objects with camelCase fields (podSandboxId), enums are
 * their names as strings, 64-bit integers are decimal strings, and unset fields have their proto3 defaults.
 */
export function loadCriPackageDefinition(): protoLoader.PackageDefinition {
  // loaded on first use, like @grpc/grpc-js (client.ts): start-up cost for runs without CRI
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cached ??= (require('@grpc/proto-loader') as typeof protoLoader).loadSync(locateCriProto(), { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true });
  return cached;
}

let cachedEvents: protoLoader.PackageDefinition | undefined;

/** containerd.services.events.v1 (Subscribe, Envelope); the Any inside an envelope keeps its bytes (value: Buffer). */
export function loadContainerdEventsDefinition(): protoLoader.PackageDefinition {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cachedEvents ??= (require('@grpc/proto-loader') as typeof protoLoader).loadSync(locateContainerdEventsProto(), { keepCase: false, longs: String, enums: String, defaults: true });
  return cachedEvents;
}
