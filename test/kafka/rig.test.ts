// The Kafka rig itself: a broker whose KRaft cluster id starts with '-' formats and starts. One random id in 64
// does (URL-safe base64 of 16 bytes), and the storage tool used to take it for an option: the broker then never
// started, and whichever Kafka test drew it failed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { ensureKafka } from '../env/kafka';

test('a cluster id that starts with "-" is formatted as the id, and the broker answers', async () => {
  const clusterId = '-Aq3xYbVRO6mX0-aBcDeFg'; // 22 characters of URL-safe base64, as Kafka's own ids
  const broker = await ensureKafka({ clusterId });
  try {
    const meta = fs.readFileSync(path.join(broker.dir, 'data', 'meta.properties'), 'utf8');
    assert.match(meta, new RegExp(`^cluster\\.id=${clusterId}$`, 'm'), `meta.properties:\n${meta}`);
    const admin = new Kafka({ clientId: 'rig-test', brokers: broker.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const c = await admin.describeCluster();
      assert.equal(c.clusterId, clusterId);
    } finally {
      await admin.disconnect();
    }
  } finally {
    await broker.stop();
  }
});
