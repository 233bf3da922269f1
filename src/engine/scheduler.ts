// Scheduled tables: rows with a ScheduleAt column call their reducer or procedure when due.
// Timers are armed from committed deltas (never from uncommitted writes) and re-armed from the
// tables when a database opens: an overdue one-shot runs once, an interval that missed ticks runs
// once and resumes its period — never a burst of catch-up calls.
import type { TxDelta } from '../datastore/datastore.ts';
import type { TableDef } from '../datastore/schema.ts';
import type { Host } from '../host/host.ts';
import { nowMicros } from '../host/host.ts';
import { decodeValue } from '../host/values.ts';
import type { AlgebraicType as Ty } from 'spacetimedb';

/**
 * Time as the engine sees it: the clock that stamps calls and the timers that fire schedule rows.
 * Tests pass a manual clock so that "due" is decided by the test, never by how busy the machine is.
 */
export interface Clock {
  /** Microseconds since the Unix epoch. */
  nowMicros(): bigint;
  /** Runs `fn` after `ms` milliseconds. A manual clock may await what `fn` returns (a fired row's call). */
  setTimer(fn: () => unknown, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The real clock: wall time (never going backwards in-process) and `setTimeout`. */
export const systemClock: Clock = {
  nowMicros,
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** What a schedule row says. */
export interface ScheduleEntry {
  table: TableDef;
  id: bigint;
  /** Microseconds since the epoch when it is next due. */
  dueMicros: bigint;
  /** Repeat period in µs (interval rows), or undefined for one-shots. */
  periodMicros: bigint | undefined;
}

/** The longest delay SpacetimeDB accepts: 2^36 − 1 ms. */
export const MAX_SCHEDULE_DELAY_MICROS = ((1n << 36n) - 1n) * 1000n;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Reads the schedule id (the u64 primary key) and ScheduleAt of a row. */
export function readScheduleRow(host: Host, table: TableDef, row: Uint8Array, nowMicros: bigint): ScheduleEntry {
  const obj = decodeValue({ tag: 'Product', value: table.rowType } as Ty, row, host.schema.typespace) as Record<string, unknown>;
  const at = obj[table.columns[table.schedule!.scheduleAtCol]!.name] as { tag: 'Interval' | 'Time'; value: Record<string, bigint> };
  const id = obj[table.columns[table.primaryKey!]!.name] as bigint;
  if (at.tag === 'Interval') {
    const period = at.value.__time_duration_micros__!;
    return { table, id, dueMicros: nowMicros + period, periodMicros: period };
  }
  return { table, id, dueMicros: at.value.__timestamp_micros_since_unix_epoch__!, periodMicros: undefined };
}

/** Runs due schedule rows through `fire`, one at a time, in due order. */
export class Scheduler {
  readonly #host: () => Host;
  readonly #fire: (e: ScheduleEntry) => Promise<void>;
  readonly #clock: Clock;
  readonly #timers = new Map<string, { entry: ScheduleEntry; timer: unknown }>();
  #closed = false;

  constructor(host: () => Host, fire: (e: ScheduleEntry) => Promise<void>, clock: Clock = systemClock) {
    this.#host = host;
    this.#fire = fire;
    this.#clock = clock;
  }

  /** Arms every row of every schedule table (on open). Returns the entries already due. */
  armAll(nowMicros: bigint): ScheduleEntry[] {
    const host = this.#host();
    const due: ScheduleEntry[] = [];
    for (const t of host.schema.tables) {
      if (!t.schedule) continue;
      const store = host.datastore.tableByName(t.name)!;
      const runs = host.datastore.scheduleRuns(t.name);
      for (const row of host.datastore.scanAll(store)) {
        const e = readScheduleRow(host, t, row, nowMicros);
        // An interval row resumes one period after its last run (recorded durably with that run);
        // if that moment has passed, it runs once now. A row that never ran starts a fresh period.
        const last = runs.get(e.id);
        if (e.periodMicros !== undefined && last !== undefined) e.dueMicros = last + e.periodMicros;
        if (e.dueMicros <= nowMicros) due.push(e);
        else this.#arm(e, nowMicros);
      }
    }
    return due.sort((a, b) => (a.dueMicros < b.dueMicros ? -1 : a.dueMicros > b.dueMicros ? 1 : 0));
  }

  /** Follows a committed delta: inserted rows are armed, deleted rows cancelled. */
  onCommit(delta: TxDelta, nowMicros: bigint): void {
    const host = this.#host();
    for (const td of delta.tables) {
      const t = host.datastore.tableByName(td.table)?.def;
      if (!t?.schedule) continue;
      for (const row of td.deletes) {
        const e = readScheduleRow(host, t, row, nowMicros);
        this.cancel(t.name, e.id);
      }
      for (const row of td.inserts) this.#arm(readScheduleRow(host, t, row, nowMicros), nowMicros);
    }
  }

  /** Arms an interval row again, one period after the tick it just ran for. */
  rearm(e: ScheduleEntry, nowMicros: bigint): void {
    if (e.periodMicros === undefined) return;
    let next = e.dueMicros + e.periodMicros;
    // Missed ticks (a long call, a sleeping laptop): run once now-ish and resume the period.
    if (next <= nowMicros) next = nowMicros + e.periodMicros - ((nowMicros - e.dueMicros) % e.periodMicros);
    this.#arm({ ...e, dueMicros: next }, nowMicros);
  }

  /** True when a timer is armed for the row. */
  has(table: string, id: bigint): boolean {
    return this.#timers.has(`${table}:${id}`);
  }

  cancel(table: string, id: bigint): void {
    const key = `${table}:${id}`;
    const t = this.#timers.get(key);
    if (t?.timer !== undefined) this.#clock.clearTimer(t.timer);
    this.#timers.delete(key);
  }

  #arm(e: ScheduleEntry, nowMicros: bigint): void {
    if (this.#closed) return;
    this.cancel(e.table.name, e.id);
    const key = `${e.table.name}:${e.id}`;
    const slot: { entry: ScheduleEntry; timer: unknown } = { entry: e, timer: undefined };
    this.#timers.set(key, slot);
    const wait = () => {
      // Rounded up: a timer must not fire before the row is due by the clock the call is stamped with.
      const us = slot.entry.dueMicros - this.#clock.nowMicros();
      const ms = us <= 0n ? 0 : Number((us + 999n) / 1000n);
      if (ms > MAX_TIMER_MS) {
        slot.timer = this.#clock.setTimer(wait, MAX_TIMER_MS);
        return;
      }
      slot.timer = this.#clock.setTimer(() => {
        if (this.#timers.get(key) !== slot) return undefined;
        this.#timers.delete(key);
        return this.#fire(slot.entry);
      }, ms);
    };
    void nowMicros;
    wait();
  }

  /** How many rows are armed (for tests and describe). */
  get armed(): number {
    return this.#timers.size;
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers.values()) if (t.timer !== undefined) this.#clock.clearTimer(t.timer);
    this.#timers.clear();
  }
}
