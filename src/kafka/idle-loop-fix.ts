// kafkajs 2.2.4 spins on every idle broker connection. RequestQueue.scheduleCheckPendingRequests arms its next
// check at `throttledUntil - now`, which is negative when nothing is throttled (throttledUntil starts at -1),
// and every check arms the next: a 1 ms timer loop per connection from its first request on, ~60 ms of CPU a
// second on this VM for a producer that sends nothing (kafkajs issues #1556, #1604, #1704, unfixed upstream).
// A node agent paid it from its first message on, more than reading 5,000 audit records a second costs.
//
// The replacement arms a check only while a request waits, at the end of a client-side throttle or after
// kafkajs's own 10 ms, as kafkajs does then. With nothing waiting there is nothing to check: push() queues a
// request it cannot send at once and arms the check itself, and a fulfilled request checks the queue.
// Patched on kafkajs's own RequestQueue class (the module kafkajs loads), for the version it was written
// against only; with another, kafkajs's stays and idleLoopFixState() says why.

import * as path from 'node:path';
import { patchableKafkajs } from './kafkajs-internals';

/** kafkajs's CHECK_PENDING_REQUESTS_INTERVAL */
const CHECK_PENDING_MS = 10;

interface RequestQueueLike {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

let state: true | string | undefined;

/** true once patched, or why kafkajs's own stays (undefined: not asked yet). */
export function idleLoopFixState(): true | string | undefined {
  return state;
}

export function installIdleLoopFix(): true | string {
  if (state !== undefined) return state;
  state = install();
  return state;
}

function install(): true | string {
  const kafkajs = patchableKafkajs('the fix of its request queue');
  if (typeof kafkajs === 'string') return kafkajs;
  const RequestQueue = require(path.join(kafkajs.root, 'src/network/requestQueue/index.js')) as { prototype: RequestQueueLike };
  RequestQueue.prototype.scheduleCheckPendingRequests = function (this: RequestQueueLike): void {
    if (this.throttleCheckTimeoutId || this.pending.length === 0) return;
    const wait = this.throttledUntil - Date.now();
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      wait > 0 ? wait : CHECK_PENDING_MS,
    );
  };
  return true;
}
