// The Kafka aggregator: recording sessions from the recordings topic → profiles.
export { Aggregator, type AggregatorOptions, type AggregatorStats } from './aggregator';
export { StaticRecordingSource, readRecordingsFile } from './static-source';
export { KafkaStateStore, FileStateStore, defaultStateTopic, type StateStore } from './state-store';
