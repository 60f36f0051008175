// The one retry loop and backoff of the code base: capped exponential backoff (optionally jittered), a wait
// that a shutdown can cut short, and a loop whose caller decides per failure whether to go on (count and
// log it, then return) or stop (throw).

export interface BackoffPolicy {
  /** The first delay, ms; each further one doubles. */
  initialMs: number;
  maxMs: number;
  /** Wait a random 50–100 % of the delay, so that many clients failing together do not retry together. */
  jitter?: boolean;
}

/** 100, 200, 400, … 5000 ms: local I/O (disk full, EIO) and sink writes. */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 100, maxMs: 5000 };

/** The delay before retry number `attempt` (0: the first retry). */
export function backoffMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  // the exponent is bounded so that a long outage never reaches Infinity
  const d = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return policy.jitter ? d * (0.5 + Math.random() / 2) : d;
}

/** Sleeps `ms`, or less when `signal` aborts (then throws its reason). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `op` until it resolves. After each failure `onFailure(err, attempt)` runs once: it counts and logs
 * the error and returns to retry after backoffMs(attempt), or throws to stop (what it throws is what
 * retry() rejects with). An abort of `signal` during a wait rejects with the signal's reason.
 */
export async function retry<T>(
  op: (attempt: number) => Promise<T>,
  onFailure: (err: unknown, attempt: number) => void,
  opts: { signal: AbortSignal; backoff?: BackoffPolicy },
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (err) {
      onFailure(err, attempt);
      await sleepUnlessAborted(backoffMs(attempt, opts.backoff), opts.signal);
    }
  }
}
