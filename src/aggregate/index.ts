// The Kafka aggregator: recording sessions from the recordings topic → profiles.
export { Aggregator, type AggregatorOptions, type AggregatorStats } from './aggregator';
export { buildProfile, profileName, replicaSuffix, ANNOTATION_EVIDENCE } from './build';
export { DirectoryProfileSink, type EvidenceFile } from './profile-dir';
export { StaticRecordingSource, parseRecordingFlag, readRecordingsFile, RecordingSpecError } from './static-source';
export { KafkaStateStore, FileStateStore, defaultStateTopic, type StateStore } from './state-store';
