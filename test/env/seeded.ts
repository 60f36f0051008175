// Deterministic randomness for property tests (xorshift32): a failing seed reproduces the failing input.
import * as path from 'node:path';

/** A generator of floats in [0, 1) from `seed`. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

/** fixtures/real of the repository, from a compiled test in dist/test/<group>/. */
export const REAL_FIXTURES = path.resolve(__dirname, '../../../fixtures/real');
