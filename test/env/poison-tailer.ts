// A tailer that holds the consumer to the reuseBuffers contract (src/tail/types.ts): once the consumer asks
// for the next batch, the previous one's line bytes are overwritten with 'Z' and its ranges zeroed, as a later
// read into the same buffer would. A consumer that kept a line past that point writes Zs (or empty lines).
import type { Logger } from '../../src/log';
import { openTailer } from '../../src/tail';
import type { TailBatch, Tailer, TailerOptions } from '../../src/tail/types';

export async function openPoisonedTailer(opts: TailerOptions, log: Logger): Promise<Tailer> {
  const t = await openTailer({ ...opts, reuseBuffers: true }, log);
  const iterate = t[Symbol.asyncIterator].bind(t);
  t[Symbol.asyncIterator] = () => {
    const it = iterate();
    let last: TailBatch | null = null;
    return {
      next: async () => {
        if (last !== null) poison(last);
        last = null;
        const r = await it.next();
        if (!r.done) last = r.value;
        return r;
      },
      return: async (v?: unknown) => {
        if (last !== null) poison(last);
        last = null;
        return it.return ? it.return(v) : { done: true, value: undefined };
      },
    };
  };
  return t;
}

function poison(b: TailBatch): void {
  const bytes = b.bytes;
  if (bytes === undefined) throw new Error('the tailer handed over no bytes: nothing to hold to the contract');
  for (let i = 0; i < bytes.length; i++) bytes.bufAt(i).fill(0x5a, bytes.starts[i], bytes.ends[i]);
  bytes.starts.fill(0);
  bytes.ends.fill(0);
}
