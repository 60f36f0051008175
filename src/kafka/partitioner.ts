// The producers' partitioner: kafkajs's DefaultPartitioner (the Java client's murmur2, so a key lands on the
// partition any other client would choose), remembered per key. kafkajs computes murmur2 with 64-bit Long
// arithmetic for every message, ~10 µs each on the 2-core VM, and every event of a container carries the
// same key (messages.ts): it was the largest cost of the node sink's full events (issue 14). The partition
// of a key depends only on the key and the topic's partition count, so the memo changes nothing.

import { Partitioners, type ICustomPartitioner } from 'kafkajs';

/** Keys remembered per topic; beyond that the memo starts over (a busy node has a few hundred containers). */
const MAX_KEYS = 10_000;

export const MemoizedDefaultPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner();
  const topics = new Map<string, { partitions: number; keys: Map<string, number> }>();
  return (args) => {
    const key = args.message.key;
    // an explicit partition, a missing key (round robin) or a Buffer key: kafkajs decides as always
    if ((args.message.partition !== undefined && args.message.partition !== null) || typeof key !== 'string') return inner(args);
    let t = topics.get(args.topic);
    if (!t || t.partitions !== args.partitionMetadata.length) {
      t = { partitions: args.partitionMetadata.length, keys: new Map() };
      topics.set(args.topic, t);
    }
    let p = t.keys.get(key);
    if (p === undefined) {
      p = inner(args);
      if (t.keys.size >= MAX_KEYS) t.keys.clear();
      t.keys.set(key, p);
    }
    return p;
  };
};
