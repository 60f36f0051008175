// Where kafkajs is installed, and whether it is the release whose internals auditflow patches (the record
// decoder of decode-speedups.ts, the request queue of idle-loop-fix.ts): each patch is written against that
// release's source, and any other keeps kafkajs's own code.
import * as path from 'node:path';

/** The kafkajs release the patches of its internals are written against. */
export const KAFKAJS_VERSION = '2.2.4';

export function kafkajsRoot(): string {
  return path.dirname(require.resolve('kafkajs/package.json'));
}

/** kafkajs's directory when it is KAFKAJS_VERSION; else why `patch` leaves it alone. */
export function patchableKafkajs(patch: string): { root: string } | string {
  try {
    const root = kafkajsRoot();
    const { version } = require(path.join(root, 'package.json')) as { version: string };
    if (version !== KAFKAJS_VERSION) return `kafkajs ${version} is not ${KAFKAJS_VERSION}, the version ${patch} is written for`;
    return { root };
  } catch (e) {
    return `kafkajs's package.json is not readable: ${(e as Error).message}`;
  }
}
