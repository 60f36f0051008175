// auditflow's parsers: a pure library (no I/O, nothing from src/) that turns audit log text into typed
// records and events. Entry points: parseLine() for one line, Coalescer for grouping records into events.

export * from './types';
export { parseLine, isParseError, isNonAudit, isRecord, AuditRecord, type ParseOptions } from './record';
export { Coalescer, DEFAULT_MAX_BYTES_PER_EVENT, DEFAULT_MAX_RECORDS_PER_EVENT, type AuditEvent, type CoalesceOptions, type CoalesceOverflow, type CoalesceStats } from './coalesce';
export { Fields, Quote, tokenize } from './fields';
export { decodeHexString, isHexString } from './hex';
export { recordTypeName, recordTypeNumber, kindOfType, primaryRank, recordTypeTraits, RECORD_TYPES, type RecordTypeTraits } from './record-types';
export { decodeSeccompCode } from './seccomp';
export { splitContext } from './selinux';
export * from './syscalls';
export { digitsValue, Num, scanSeccompLine, SeccompLine, StrForm } from './seccomp-line';
