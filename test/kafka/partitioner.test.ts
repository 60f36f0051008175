// The memoized partitioner (src/kafka/partitioner.ts) chooses kafkajs's DefaultPartitioner's partition (the
// Java client's murmur2) for every key, also when the memo is warm, when a topic's partition count changes and
// when keys are hostile; messages without a string key or with an explicit partition are left to kafkajs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';
import { MemoizedDefaultPartitioner } from '../../src/kafka/partitioner';

function meta(n: number): PartitionMetadata[] {
  return Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
}

const KEYS = ['default/app', 'a', '', 'é日本🦀', 'quote"and\\back\nslash', 'f0e1d2c3-b4a5-4697-8877-665544332211', ...Array.from({ length: 300 }, (_, i) => `ns${i % 7}/container-${i}`)];

describe('memoized partitioner', () => {
  test("a string key gets DefaultPartitioner's partition, cold and warm, across partition counts and topics", () => {
    const memo = MemoizedDefaultPartitioner();
    const plain = Partitioners.DefaultPartitioner();
    for (const round of [1, 2]) {
      for (const n of [1, 3, 12, 3, 50]) {
        for (const topic of ['t.events', 't.recordings']) {
          for (const key of KEYS) {
            const args: PartitionerArgs = { topic, partitionMetadata: meta(n), message: { key, value: 'v' } };
            assert.equal(memo(args), plain(args), `round ${round}, ${n} partitions, ${topic}, key ${JSON.stringify(key)}`);
          }
        }
      }
    }
  });

  test('an explicit partition is kept; Buffer keys are hashed as kafkajs does; keyless messages get a partition that exists', () => {
    const memo = MemoizedDefaultPartitioner();
    const plain = Partitioners.DefaultPartitioner();
    const partitionMetadata = meta(6);
    assert.equal(memo({ topic: 't', partitionMetadata, message: { key: 'default/app', value: 'v', partition: 4 } }), 4);
    for (const key of KEYS.slice(0, 20)) {
      const args: PartitionerArgs = { topic: 't', partitionMetadata, message: { key: Buffer.from(key), value: 'v' } };
      assert.equal(memo(args), plain(args));
    }
    for (let i = 0; i < 20; i++) {
      const p = memo({ topic: 't', partitionMetadata, message: { key: null, value: 'v' } });
      assert.ok(Number.isInteger(p) && p >= 0 && p < 6, String(p));
    }
  });
});
