// What every reliability test shares: its size (cheap in `npm test`, long in `npm run test:crash`),
// its seed (fixed by default, replayable from LIGHTCONE_SEED), and the figures it prints (crash
// points tried, inputs fuzzed, rows lost) that `scripts/crash.mjs` collects into one table.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** True under `npm run test:crash` (LIGHTCONE_RELIABILITY=long): every case, every byte, many seeds. */
export const LONG = process.env.LIGHTCONE_RELIABILITY === 'long';

/** `cheap` in `npm test`, `long` under `npm run test:crash`. */
export function size<T>(cheap: T, long: T): T {
  return LONG ? long : cheap;
}

/**
 * The seed of a randomized suite: LIGHTCONE_SEED when set (to replay a failure: every failure
 * message prints the seed), else the suite's fixed default so that runs are repeatable.
 */
export function suiteSeed(fallback: number): number {
  const given = process.env.LIGHTCONE_SEED;
  if (given === undefined || given === '') return fallback;
  const n = Number(given);
  if (!Number.isSafeInteger(n)) throw new Error(`LIGHTCONE_SEED must be an integer, got ${JSON.stringify(given)}`);
  return n >>> 0;
}

/** Counters of one suite, printed once (and written for the crash script's summary). */
export class Figures {
  readonly #suite: string;
  readonly #seed: number;
  readonly #counts = new Map<string, number>();
  readonly #started = Date.now();

  constructor(suite: string, seed: number) {
    this.#suite = suite;
    this.#seed = seed;
  }

  add(key: string, n = 1): void {
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + n);
  }

  /** Makes sure `key` is printed even when nothing was added to it (e.g. `rows lost: 0`). */
  zero(key: string): void {
    if (!this.#counts.has(key)) this.#counts.set(key, 0);
  }

  get(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  /** Prints one line; with LIGHTCONE_FIGURES_DIR set, also writes `<suite>.json` there. */
  report(): void {
    const seconds = (Date.now() - this.#started) / 1000;
    const parts = [...this.#counts].map(([k, v]) => `${k}: ${v}`);
    console.log(`[reliability] ${this.#suite} (seed ${this.#seed}, ${LONG ? 'long' : 'cheap'}, ${seconds.toFixed(1)} s): ${parts.join(', ')}`);
    const dir = process.env.LIGHTCONE_FIGURES_DIR;
    if (dir) {
      mkdirSync(dir, { recursive: true });
      const out = { suite: this.#suite, seed: this.#seed, mode: LONG ? 'long' : 'cheap', seconds, figures: Object.fromEntries(this.#counts) };
      writeFileSync(join(dir, `${this.#suite}.json`), `${JSON.stringify(out, null, 2)}\n`);
    }
  }
}
