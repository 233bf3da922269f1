// Zipf-distributed account pairs for W3 (YCSB's constant θ = 0.99 over the accounts), from a
// seeded PRNG so every system gets exactly the same sequence of transfers.

import { prng } from '../../test/helpers/prng.ts';

/**
 * `count` (from, to) pairs of distinct account ids in 1..n, each drawn Zipf(θ) by rank; ranks are
 * scattered over the ids by a fixed permutation so hot accounts are not neighbours.
 */
export function zipfPairs(n: number, count: number, seed: number, theta = 0.99): [number, number][] {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf[k - 1] = sum += 1 / k ** theta;
  for (let k = 0; k < n; k++) cdf[k] = cdf[k]! / sum;
  const rand = prng(seed);
  const draw = (): number => {
    const u = rand();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return ((lo * 2654435761) % n) + 1; // rank → id (2654435761 is coprime with 10^k)
  };
  const pairs: [number, number][] = [];
  while (pairs.length < count) {
    const from = draw();
    const to = draw();
    if (from !== to) pairs.push([from, to]);
  }
  return pairs;
}
