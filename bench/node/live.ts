// W6 (live queries) in Node: 1, 100 and 1000 subscriptions — distinct room literals with one
// affected, identical queries, and a :sender join — then one write; the time from the call's start
// to the last callback, against a baseline that re-runs every subscribed query after the write.
import { randomIdentity } from '../../src/engine/engine.ts';
import { openDatabase } from '../../src/node/open-database.ts';
import type { SubscriptionHandle } from '../../src/subscriptions/types.ts';
import { measure, type Result } from './measure.ts';

const ROOMS = 1000;
const COUNTS = [1, 100, 1000];
/** Writes each database takes before the scenarios (to a room no subscription reads). */
const WARM_UP_WRITES = 500;

/** One W6 shape: the query of subscriber `i`, its sender, and which subscribers the write reaches. */
interface Scenario {
  name: string;
  query: (i: number) => string;
  sender: (i: number) => string | undefined;
  affected: (n: number) => number[];
}

/** Runs W6 and returns one row per workload × system (`lightcone` and the re-run baseline). */
export async function runLive(opts: { quick: boolean }): Promise<Result[]> {
  const reps = opts.quick ? 3 : 5;
  /** Writes per sample (the sample is their median, so one slow write does not decide it). */
  const inner = opts.quick ? 3 : 5;
  const messages = opts.quick ? 10_000 : 100_000;
  const module = 'bench/modules/live.ts';
  const users = Array.from({ length: ROOMS }, () => randomIdentity().toHexString());
  const open = async (name: string) => {
    const db = await openDatabase({ name, module });
    await db.call('seed', [ROOMS, messages]);
    await db.call('seed_members', [users]);
    return db;
  };
  // Two equal databases: one with the subscriptions, one without (for the baseline).
  const live = await open('w6-live');
  const plain = await open('w6-plain');
  // Warm-up writes, so that W6 measures a running engine: the per-call code runs only about 30
  // times per scenario below, too few for V8 to optimize it. They go to the last room, the same in
  // both databases (no subscription exists yet; later only the last distinct-literal one reads it).
  for (const db of [live, plain]) for (let i = 0; i < WARM_UP_WRITES; i++) await db.call('send', [ROOMS - 1, `warm-up ${i}`]);

  const scenarios: Scenario[] = [
    { name: 'distinct literals, one affected', query: (i) => `SELECT * FROM message WHERE room_id = ${i}`, sender: () => undefined, affected: () => [0] },
    { name: 'identical queries', query: () => 'SELECT * FROM message WHERE room_id = 0', sender: () => undefined, affected: (n) => Array.from({ length: n }, (_, i) => i) },
    {
      name: 'join on :sender, one affected',
      query: () => 'SELECT m.* FROM message m JOIN member b ON m.room_id = b.room_id WHERE b.who = :sender',
      sender: (i) => users[i],
      affected: () => [0],
    },
  ];

  const results: Result[] = [];
  for (const sc of scenarios) {
    for (const n of COUNTS) {
      const hits = new Array<number>(n).fill(0);
      let got = 0;
      let want = 0;
      let reached: (() => void) | undefined;
      const subs: SubscriptionHandle[] = [];
      for (let i = 0; i < n; i++) {
        const sender = sc.sender(i);
        subs.push(
          live.subscribe(
            [sc.query(i)],
            {
              onUpdate: () => {
                hits[i]!++;
                if (++got === want) reached?.();
              },
              onError: (e) => console.error(`W6 subscription ${i} failed:`, e),
            },
            { confirmedReads: false, ...(sender !== undefined ? { sender } : {}) },
          ),
        );
      }
      await Promise.all(subs.map((s) => s.applied));
      const affected = sc.affected(n);
      let text = 0;

      /** One write to room 0; ms from the call's start to the last expected callback. */
      const liveWrite = async (): Promise<number> => {
        hits.fill(0);
        got = 0;
        want = affected.length;
        const done = new Promise<void>((r) => (reached = r));
        const t0 = performance.now();
        const call = live.call('send', [0, `w6 ${text++}`]);
        await done;
        const dt = performance.now() - t0;
        await call;
        await new Promise((r) => setTimeout(r, 0));
        // Every affected subscriber exactly once, nobody else.
        const wrong = hits.flatMap((h, i) => (h !== (affected.includes(i) ? 1 : 0) ? [i] : []));
        if (wrong.length) throw new Error(`W6 ${sc.name} at ${n}: wrong callbacks for subscriptions ${wrong.slice(0, 5).join(', ')}`);
        return dt;
      };
      const baselineWrite = async (): Promise<number> => {
        const t0 = performance.now();
        await plain.call('send', [0, `w6 ${text++}`]);
        await Promise.all(
          Array.from({ length: n }, (_, i) => {
            const sender = sc.sender(i);
            return plain.sql(sc.query(i), sender !== undefined ? { sender } : {});
          }),
        );
        return performance.now() - t0;
      };
      const medianOf = async (f: () => Promise<number>) => {
        const xs: number[] = [];
        for (let k = 0; k < inner; k++) xs.push(await f());
        xs.sort((a, b) => a - b);
        return xs[xs.length >> 1]!;
      };
      results.push(
        ...(await measure(`W6 live, ${n} subscription${n === 1 ? '' : 's'}: ${sc.name}`, 'ms', reps, {
          'baseline: re-run every query (db.sql)': () => medianOf(baselineWrite),
          lightcone: () => medianOf(liveWrite),
        })),
      );
      for (const s of subs) s.unsubscribe();
    }
  }
  await live.close();
  await plain.close();
  return results;
}
