// Two costs of consuming with kafkajs that the aggregator pays per fetched message (issue 14: ≥ 100k recording
// messages/s), removed without changing what kafkajs hands over:
//
// 1. Gzip. kafkajs decompresses a record batch with async zlib.unzip, which makes a thread-pool round trip per
//    16 KiB of output; on this VM that left the consumer's main thread idle for a third of its time and cost more
//    CPU than the inflating itself. The codec below inflates synchronously, in 256 KiB pieces. Compression (the
//    node sink's producer) stays kafkajs's own async gzip: there the tailer shares the event loop.
//    kafkajs has a public registry for this (CompressionCodecs).
//
// 2. The record decoder. kafkajs 2.2.4 decodes every record's offset and timestamp through its BigInt-backed
//    Long, twice from a decimal string (Long.fromValue(firstOffset).add(delta).toString()), and builds the
//    headers object by spreading it once per header. The replacement below is the same function, field for
//    field (test/kafka/decode-speedups.test.ts compares both on every case kafkajs distinguishes), with plain
//    number arithmetic where it is exact (a decimal string of at most 15 digits plus a delta under 2^48) and
//    Long otherwise. kafkajs has no registry for it: the module is put into Node's module cache under
//    kafkajs's own path before kafkajs first loads it, which kafkajs does lazily, on the first fetch response.
//    That is only done for the kafkajs version it was written against; with any other version, or when the
//    decoder was already loaded, kafkajs's own stays in place and the reason is kept in speedupsState().

import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { type Logger, worthLogging } from '../log';
import { sharedCounter } from '../metrics';
import { kafkajsRoot, patchableKafkajs } from './kafkajs-internals';


/** kafkajs's Decoder, as far as the record decoder uses it. */
interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
  readInt8(): number;
  readVarInt(): number;
  readVarLong(): { toString(): string };
  readVarIntBytes(): Buffer | null;
  readVarIntString(): string | null;
}

interface LongClass {
  fromValue(v: unknown): { add(v: unknown): { toString(): string } };
}

/** The batch context kafkajs passes to every record decode (its fields as kafkajs names them). */
interface BatchContext {
  firstOffset?: string;
  firstTimestamp?: string;
  magicByte?: number;
  isControlBatch?: boolean;
  timestampType?: number;
  maxTimestamp?: string;
}

export interface SpeedupsState {
  gzip: boolean;
  /** true, or why kafkajs's own record decoder stays */
  records: true | string;
}

let state: SpeedupsState | undefined;

/** What installDecodeSpeedups() did (undefined: not called yet). */
export function speedupsState(): SpeedupsState | undefined {
  return state;
}

const INFLATE_CHUNK = 256 * 1024;

/**
 * The most a gzip record batch may inflate to. A broker takes batches of ~1 MiB by default (message.max.bytes),
 * and our events' JSON compresses some 10–40 times; gzip can reach ~1000 times. Anyone who may write to a topic
 * could otherwise make the consumer allocate a gigabyte per fetched batch, synchronously, and die of it.
 */
export const MAX_INFLATED_BYTES = 128 * 1024 * 1024;

const refused = () => sharedCounter('auditflow_kafka_inflate_refused_total', 'gzip record batches that inflate past the limit, refused (their records are handed out empty)');

/** A gzip record batch that would inflate past the limit. */
export class RefusedBatch extends Error {}

/** Inflates a fetched gzip (or zlib) record batch, refusing one that grows past `max` bytes before it does. */
export function inflateBatch(buffer: Buffer, max = MAX_INFLATED_BYTES): Buffer {
  try {
    // unzip, as kafkajs: gzip or zlib framing, told from the header; maxOutputLength stops at the limit
    return zlib.unzipSync(buffer, { chunkSize: INFLATE_CHUNK, maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw e;
    throw new RefusedBatch(`a gzip record batch of ${buffer.length} bytes inflates past ${max} bytes: refused (no producer of ours writes such a batch)`);
  }
}

/**
 * The stand-ins for refused batches' records, by their memory: an empty buffer over an ArrayBuffer of its own each
 * (kafkajs reads every record as a varint-length slice of the decompressed buffer, here an empty slice of that
 * same memory), and how many of its records were handed out.
 * A fetch whose batch fails to decompress fails whole, and kafkajs fetches it again, then crashes and restarts
 * the consumer on it every ~10 s: the partition stalls for good, and the messages before the batch in the same
 * fetch are not delivered either. With our record decoder in place, a refused batch's records come out instead as
 * empty messages (null key and value, header auditflow-refused) at the batch's offsets: the consumer counts
 * them as malformed and moves on. (With kafkajs's own decoder, a refused batch still stalls its partition.)
 */
const refusedStandIns = new WeakMap<object, { next: number; why: string }>();
let refusedLog: Logger | undefined;

/** Where refused batches are reported (one line per batch, the first 20 and then every 1000th). */
export function logRefusedBatchesTo(log: Logger): void {
  refusedLog = log;
}

let refusedSoFar = 0;

function refuse(e: RefusedBatch): Buffer {
  refused().inc();
  refusedSoFar++;
  if (worthLogging(refusedSoFar, 20)) refusedLog?.warn({ refused: refusedSoFar }, `${e.message}; its records are handed out empty`);
  const memory = new ArrayBuffer(0);
  refusedStandIns.set(memory, { next: 0, why: e.message });
  return Buffer.from(memory);
}

type GzipCodec = () => { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> };

/** kafkajs's gzip codec with its compression as it is, and inflating synchronously, with a limit. */
function syncInflating(kafkajsGzip: GzipCodec): GzipCodec {
  const { compress } = kafkajsGzip();
  return () => ({
    compress,
    decompress: async (buffer) => {
      try {
        return inflateBatch(buffer);
      } catch (e) {
        // without our record decoder nothing could read the stand-in: the fetch fails, as kafkajs's own would
        if (!(e instanceof RefusedBatch) || state?.records !== true) throw e;
        return refuse(e);
      }
    },
  });
}

/** Installs both, once per process; later calls return what the first did. */
export function installDecodeSpeedups(): SpeedupsState {
  if (state) return state;
  const codecs = CompressionCodecs as unknown as Record<number, GzipCodec>;
  codecs[CompressionTypes.GZIP] = syncInflating(codecs[CompressionTypes.GZIP]!);
  state = { gzip: true, records: installRecordDecoder() };
  return state;
}

function installRecordDecoder(): true | string {
  const kafkajs = patchableKafkajs('the replacement record decoder');
  if (typeof kafkajs === 'string') return kafkajs;
  const { root } = kafkajs;
  const target = path.join(root, 'src/protocol/recordBatch/record/v0/decoder.js');
  const batchDecoder = path.join(root, 'src/protocol/recordBatch/v0/decoder.js');
  if (require.cache[batchDecoder] || require.cache[target]) return 'kafkajs had loaded its record decoder already';
  const decode = makeRecordDecoder(root);
  const Module = require('node:module') as new (id: string) => NodeJS.Module;
  const mod = new Module(target);
  mod.filename = target;
  mod.loaded = true;
  mod.exports = decode;
  require.cache[target] = mod;
  return true;
}

/** Our record decoder, bound to kafkajs's Long and timestamp types (exported for the equivalence test). */
export function makeRecordDecoder(root = kafkajsRoot()): (decoder: KafkaDecoder, batchContext?: BatchContext) => unknown {
  const Long = require(path.join(root, 'src/utils/long')) as LongClass;
  const { LOG_APPEND_TIME } = require(path.join(root, 'src/protocol/timestampTypes')) as { LOG_APPEND_TIME: number };

  /** `s` (a decimal Long.toString) plus `d`, as Long would give it. */
  const plus = (s: string, d: number): string => {
    // up to 15 digits, no sign: < 1e15, and |d| < 2^48 here, so the sum is an exact double
    if (s.length > 0 && s.length <= 15 && isDigits(s)) return String(Number(s) + d);
    return Long.fromValue(s).add(d).toString();
  };

  return function decodeRecord(decoder: KafkaDecoder, batchContext: BatchContext = {}): unknown {
    const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
    // (no record of a real batch is empty: the lookup is only made for empty ones)
    const standIn = decoder.buffer.length === 0 ? refusedStandIns.get(decoder.buffer.buffer) : undefined;
    if (standIn !== undefined) {
      // a refused batch's record: empty, at the batch's next offset
      const i = standIn.next++;
      const offset = typeof firstOffset === 'string' ? plus(firstOffset, i) : Long.fromValue(firstOffset).add(i).toString();
      const timestamp = timestampType === LOG_APPEND_TIME && maxTimestamp ? maxTimestamp : String(firstTimestamp ?? '0');
      return { magicByte, attributes: 0, timestamp, offset, key: null, value: null, headers: { 'auditflow-refused': Buffer.from(standIn.why) }, isControlRecord: isControlBatch, batchContext };
    }
    const attributes = decoder.readInt8();
    const delta = readSmallVarLong(decoder);
    let timestamp: string | undefined;
    if (timestampType === LOG_APPEND_TIME && maxTimestamp) {
      if (delta === undefined) decoder.readVarLong();
      timestamp = maxTimestamp;
    } else if (delta === undefined || typeof firstTimestamp !== 'string') {
      const d = delta === undefined ? decoder.readVarLong() : delta;
      timestamp = Long.fromValue(firstTimestamp).add(d).toString();
    } else timestamp = plus(firstTimestamp, delta);
    // (readVarInt's zigzag decoding yields a 32-bit integer: within plus()'s bound)
    const offsetDelta = decoder.readVarInt();
    const offset = typeof firstOffset === 'string' ? plus(firstOffset, offsetDelta) : Long.fromValue(firstOffset).add(offsetDelta).toString();
    const key = decoder.readVarIntBytes();
    const value = decoder.readVarIntBytes();
    const n = decoder.readVarInt();
    const headers: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = String(decoder.readVarIntString());
      const v = decoder.readVarIntBytes();
      // kafkajs's reduce reads headers[k] through the prototype too (a header named toString meets a function)
      // and defines own properties (a header named __proto__ is a property, not the prototype)
      const before = headers[k];
      const next = before === undefined ? v : Array.isArray(before) ? before.concat([v]) : [before, v];
      if (k === '__proto__') Object.defineProperty(headers, k, { value: next, writable: true, enumerable: true, configurable: true });
      else headers[k] = next;
    }
    return { magicByte, attributes, timestamp, offset, key, value, headers, isControlRecord: isControlBatch, batchContext };
  };
}

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * A zigzag varlong of at most 7 bytes (|value| < 2^48) as a number, the decoder moved past it; undefined, the
 * decoder untouched, for a longer one (kafkajs's readVarLong then reads it, and rejects a malformed one as before).
 */
function readSmallVarLong(decoder: KafkaDecoder): number | undefined {
  const b = decoder.buffer;
  let off = decoder.offset;
  let result = 0;
  let mul = 1;
  for (let k = 0; k < 7; k++) {
    const byte = b[off++];
    if (byte === undefined) return undefined;
    result += (byte & 0x7f) * mul;
    mul *= 128;
    if (byte < 0x80) {
      decoder.offset = off;
      return result % 2 === 1 ? -(result + 1) / 2 : result / 2;
    }
  }
  return undefined;
}
