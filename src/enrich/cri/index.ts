export * from './client';
export * from './types';
export { locateCriProto, criProtoCandidates, loadCriPackageDefinition, CRI_PROTO_ENV, CRI_PROTO_FILE, RUNTIME_SERVICE } from './proto';
