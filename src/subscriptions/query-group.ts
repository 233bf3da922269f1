// Incremental evaluation of live queries. A Plan is one distinct query (identical queries share
// it and fan out to all their subscribers); a Group holds the plans that differ only in the
// literal of one equality, so a changed row reaches, through one Map lookup, only the plan whose
// literal it matches. Single-table groups test the delta's rows; join groups apply the delta
// rules with index lookups on the other side; groups over a Source (a view, a re-run query) test
// the difference between its last two evaluations.
import type { SqlValue } from '../datastore/columns.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import type { SqliteStmt } from '../datastore/sqlite.ts';
import type { CompiledQuery } from './compile.ts';
import { and, conjuncts } from '../sql/bind.ts';
import type { Side } from '../sql/relation.ts';
import { evaluator, sidesOf, type Evaluator, type Pred } from './predicate.ts';
import { keyOf, type KeyValue } from './stored-values.ts';
import type { Source } from './source.ts';
import type { Subscriber } from './subscriber.ts';
import type { PendingRow, PlanSink, TableChanges, TxEval } from './tx-eval.ts';

const NONE: readonly SqlValue[] = [];
/** Map key of the one plan of a group that has no grouping equality. */
const KEYLESS = '';

/** One distinct query: its subscribers and, during a transaction, its signed row changes. */
export class Plan implements PlanSink {
  readonly key: string;
  readonly query: CompiledQuery;
  readonly group: Group;
  /** Subscribers and how many of their query sets' queries are this plan. */
  readonly refs = new Map<Subscriber, number>();
  mark = -1;
  readonly pending = new Map<string, PendingRow>();
  /** Prepared initial-rows statement, made on first subscribe. */
  initial: { stmt: SqliteStmt; bind: SqlValue[] } | undefined;
  /** The whole WHERE, compiled when a Source's rows are filtered for initial rows. */
  filter: Evaluator | undefined;

  constructor(query: CompiledQuery, group: Group) {
    this.key = query.planKey;
    this.query = query;
    this.group = group;
  }
}

/** Plans of one query shape, keyed by the literal of their grouping equality. */
export class Group {
  readonly shapeKey: string;
  readonly tables: readonly StoreTable[];
  /** The table whose rows the plans return. */
  readonly returned: StoreTable;
  readonly transient: boolean;
  /** Where the rows come from when not from table deltas (see `evaluateChanges`). */
  readonly source: Source | undefined;
  /** A join: a row's count in the result may exceed one. */
  readonly join: boolean;
  readonly #joinCols: readonly [number, number] | undefined;
  readonly #returns: Side;
  readonly #keySide: Side | -1;
  readonly #keyCol: number;
  readonly #plans = new Map<KeyValue, Plan>();
  /** Conjuncts of the rest of the WHERE reading only the FROM row, only the JOIN row, or both (null: always true). */
  readonly #restA: Evaluator | null;
  readonly #restB: Evaluator | null;
  readonly #restAB: Evaluator | null;
  /** Whether rows found by lookup must be decoded (their values are tested). */
  readonly #decodeA: boolean;
  readonly #decodeB: boolean;
  readonly #scratch: SqlValue[] = [];
  /** Transaction id of the last `evaluate`, so a group reading two changed tables runs once. */
  mark = -1;

  constructor(q: CompiledQuery, source?: Source) {
    this.shapeKey = q.shapeKey;
    this.source = source;
    this.tables = q.tables;
    this.returned = q.tables[q.returns]!;
    this.transient = q.transient;
    this.join = q.joinCols !== undefined;
    this.#joinCols = q.joinCols;
    this.#returns = q.returns;
    this.#keySide = q.key ? q.key.side : -1;
    this.#keyCol = q.key ? q.key.col : -1;
    const parts: Pred[][] = [[], [], []];
    for (const c of conjuncts(q.rest)) {
      const m = sidesOf(c);
      parts[m === 3 ? 2 : m === 2 ? 1 : 0]!.push(c);
    }
    const ev = (ps: Pred[]) => (ps.length ? evaluator(and(ps)) : null);
    this.#restA = ev(parts[0]!);
    this.#restB = ev(parts[1]!);
    this.#restAB = ev(parts[2]!);
    this.#decodeA = this.#keySide === 0 || parts[0]!.length > 0 || parts[2]!.length > 0;
    this.#decodeB = this.#keySide === 1 || parts[1]!.length > 0 || parts[2]!.length > 0;
  }

  get size(): number {
    return this.#plans.size;
  }

  plan(q: CompiledQuery): Plan | undefined {
    return this.#plans.get(q.key ? q.key.mapKey : KEYLESS);
  }

  add(plan: Plan): void {
    const q = plan.query;
    this.#plans.set(q.key ? q.key.mapKey : KEYLESS, plan);
  }

  remove(plan: Plan): void {
    const q = plan.query;
    this.#plans.delete(q.key ? q.key.mapKey : KEYLESS);
  }

  /** The group's plans. */
  plans(): IterableIterator<Plan> {
    return this.#plans.values();
  }

  /** The plan a row pair reaches, given the values of the side carrying the grouping column. */
  #target(values: readonly SqlValue[]): Plan | undefined {
    const k = keyOf(values[this.#keyCol]!);
    return k === undefined ? undefined : this.#plans.get(k);
  }

  /** Collects, into the plans' pending changes, what transaction `tx` changed in their results. */
  evaluate(tx: TxEval): void {
    if (this.mark === tx.id || this.source) return;
    this.mark = tx.id;
    if (this.#joinCols) this.#evaluateJoin(tx, this.#joinCols);
    else {
      const ch = tx.changes(this.tables[0]!);
      if (ch) this.#evaluateSingle(tx, ch);
    }
  }

  /** Like `evaluate`, for a group over a Source: `ch` is how its rows changed in transaction `tx`. */
  evaluateChanges(tx: TxEval, ch: TableChanges): void {
    if (this.mark === tx.id) return;
    this.mark = tx.id;
    this.#evaluateSingle(tx, ch);
  }

  #evaluateSingle(tx: TxEval, ch: TableChanges): void {
    const keyed = this.#keySide === 0;
    const only = keyed ? undefined : this.#plans.get(KEYLESS);
    const rest = this.#restA;
    for (let i = 0; i < ch.rows.length; i++) {
      const sign = ch.signs[i]!;
      if (this.transient && sign < 0) continue;
      const v = tx.values(ch, i);
      const plan = keyed ? this.#target(v) : only;
      if (!plan) continue;
      if (rest && rest(v, NONE) !== 1) continue;
      tx.emit(plan, ch.rows[i]!, tx.key(ch, i), sign);
    }
  }

  /**
   * The change of `A ⋈ B` (restricted to the WHERE) from the deltas ΔA, ΔB and the new state
   * A', B' that SQLite holds: Δ = ΔA ⋈ B' + A' ⋈ ΔB − ΔA ⋈ ΔB, with signed row counts (the old
   * state never needs reading). An event FROM table is empty after commit and its rows are
   * delivered as inserts only: its queries take ΔA ⋈ B' alone.
   */
  #evaluateJoin(tx: TxEval, [ca, cb]: readonly [number, number]): void {
    const [A, B] = this.tables as [StoreTable, StoreTable];
    const chA = tx.changes(A);
    const chB = tx.changes(B);
    const only = this.#keySide < 0 ? this.#plans.get(KEYLESS) : undefined;
    const retA = this.#returns === 0;
    const restA = this.#restA;
    const restB = this.#restB;
    const restAB = this.#restAB;
    const scratch = this.#scratch;

    // ΔA ⋈ B'
    if (chA) {
      for (let i = 0; i < chA.rows.length; i++) {
        const sign = chA.signs[i]!;
        if (this.transient && sign < 0) continue;
        const va = tx.values(chA, i);
        if (restA && restA(va, NONE) !== 1) continue;
        let plan = only;
        if (this.#keySide === 0) {
          plan = this.#target(va);
          if (!plan) continue;
        }
        const found = tx.lookups.rows(B, cb, va[ca]!);
        for (let j = 0; j < found.length; j++) {
          const rb = found[j]!;
          const vb = this.#decodeB ? tx.decoder.decode(B, rb, scratch) : NONE;
          if (restB && restB(NONE, vb) !== 1) continue;
          if (restAB && restAB(va, vb) !== 1) continue;
          const p = this.#keySide === 1 ? this.#target(vb) : plan;
          if (!p) continue;
          if (retA) tx.emit(p, chA.rows[i]!, tx.key(chA, i), sign);
          else tx.emit(p, rb, undefined, sign);
        }
      }
    }
    if (this.transient || !chB) return;

    // A' ⋈ ΔB
    for (let j = 0; j < chB.rows.length; j++) {
      const sign = chB.signs[j]!;
      const vb = tx.values(chB, j);
      if (restB && restB(NONE, vb) !== 1) continue;
      let plan = only;
      if (this.#keySide === 1) {
        plan = this.#target(vb);
        if (!plan) continue;
      }
      const found = tx.lookups.rows(A, ca, vb[cb]!);
      for (let i = 0; i < found.length; i++) {
        const ra = found[i]!;
        const va = this.#decodeA ? tx.decoder.decode(A, ra, scratch) : NONE;
        if (restA && restA(va, NONE) !== 1) continue;
        if (restAB && restAB(va, vb) !== 1) continue;
        const p = this.#keySide === 0 ? this.#target(va) : plan;
        if (!p) continue;
        if (retA) tx.emit(p, ra, undefined, sign);
        else tx.emit(p, chB.rows[j]!, tx.key(chB, j), sign);
      }
    }

    // − ΔA ⋈ ΔB (both deltas are small and decoded already: join them in memory)
    if (!chA) return;
    const byKey = new Map<KeyValue, number[]>();
    for (let j = 0; j < chB.rows.length; j++) {
      const vb = tx.values(chB, j);
      if (restB && restB(NONE, vb) !== 1) continue;
      const k = keyOf(vb[cb]!);
      if (k === undefined) continue;
      const list = byKey.get(k);
      if (list) list.push(j);
      else byKey.set(k, [j]);
    }
    if (byKey.size === 0) return;
    for (let i = 0; i < chA.rows.length; i++) {
      const va = tx.values(chA, i);
      const k = keyOf(va[ca]!);
      const list = k === undefined ? undefined : byKey.get(k);
      if (!list) continue;
      if (restA && restA(va, NONE) !== 1) continue;
      for (const j of list) {
        const vb = tx.values(chB, j);
        if (restAB && restAB(va, vb) !== 1) continue;
        const p = this.#keySide < 0 ? only : this.#target(this.#keySide === 0 ? va : vb);
        if (!p) continue;
        const sign = -(chA.signs[i]! * chB.signs[j]!);
        if (retA) tx.emit(p, chA.rows[i]!, tx.key(chA, i), sign);
        else tx.emit(p, chB.rows[j]!, tx.key(chB, j), sign);
      }
    }
  }
}
