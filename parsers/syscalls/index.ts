// Syscall tables for every arch Linux audit reports, generated from libseccomp (see generate.js).
export * from './arch.js';
export { LIBSECCOMP_VERSION, ARCHES_UNKNOWN_TO_LIBSECCOMP } from './tables.js';
