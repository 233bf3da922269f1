// A small deterministic PRNG (mulberry32) for randomized tests and benchmarks: a failure can be
// replayed from the seed its message prints.

/** Returns a generator of floats in [0, 1) determined by `seed`. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws from a seeded generator: integers below `n` and picks from a list. */
export class Rng {
  readonly rand: () => number;
  constructor(rand: () => number) {
    this.rand = rand;
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}
