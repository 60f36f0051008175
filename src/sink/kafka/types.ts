// Contract between `auditflow run` (src/cli/run-command.ts) and the Kafka sink (src/sink/kafka).
// run-command builds these options from `--kafka-brokers` and `--kafka-config FILE` (a JSON object with
// the optional fields, src/kafka/config.ts) and calls `createKafkaSink(opts, log)` from src/sink/kafka/index.ts.

import type { ClientOptions } from '../../kafka/client';
import type { SinkTuning } from '../../kafka/config';
import type { RecordingSpec } from '../../profile/recording';

export interface KafkaSinkOptions extends ClientOptions, SinkTuning {
  /** Node name: message key for host events, and a header on every message. */
  node: string;
  topics?: { events?: string; recordings?: string };
  /** Directory of the bounded on-disk spool used while the broker is unreachable. */
  spoolDir: string;
  /** Recordings known on the node (CLI --record); empty: send recording data for every container. */
  recordings?: RecordingSpec[];
  /**
   * Group commit (EventSink.sync; `auditflow run` sets it): write() resolves once its messages are queued for
   * the broker, and sync() once everything queued before it is acknowledged or spooled. Without it each write
   * waits for its own acknowledgement: a round trip per pipeline batch, which held a busy node to ~15k
   * records/s with its lag growing.
   */
  groupCommit?: boolean;
}
