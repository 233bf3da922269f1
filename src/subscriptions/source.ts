// A relation whose rows come from evaluating something whole rather than from transaction deltas:
// a view (docs/subscriptions.md §6), or a query re-run for row-level security. It keeps the rows of its
// last evaluation and the tables that evaluation read; after a commit that changed one of those
// tables it is evaluated again, and only the difference (rows gone, rows new) reaches its plans,
// exactly like a table's delta. One Source is shared by every plan that reads the same evaluation.
import { bytesKey } from '../datastore/bytes.ts';
import type { StoreTable } from '../datastore/datastore.ts';
import type { Group } from './query-group.ts';
import type { TableChanges } from './tx-eval.ts';

/** One evaluation: its rows (BSATN of `table`'s row type; duplicates count once) and what it read. */
export interface Evaluation {
  readonly rows: readonly Uint8Array[];
  /** Source names of the tables read: a commit touching none of them cannot change the rows. */
  readonly reads: ReadonlySet<string>;
}

/** The current result of one shared evaluation, and the groups of plans it feeds. */
export class Source {
  /** `SourceSpec.key`: one Source per key. */
  readonly key: string;
  /** The relation the rows belong to (a view's table, or the table a re-run query returns). */
  readonly table: StoreTable;
  /** Groups whose plans filter these rows. */
  readonly groups = new Set<Group>();
  readonly #evaluate: () => Evaluation;
  readonly #dispose: (() => void) | undefined;
  #rows = new Map<string, Uint8Array>();
  /** An empty map, the next evaluation's (the two maps swap roles). */
  #spare = new Map<string, Uint8Array>();
  #reads: ReadonlySet<string> = new Set();

  /** `evaluate` runs between transactions and may throw (a view that fails); `dispose` frees what it holds. */
  constructor(key: string, table: StoreTable, evaluate: () => Evaluation, dispose?: () => void) {
    this.key = key;
    this.table = table;
    this.#evaluate = evaluate;
    this.#dispose = dispose;
  }

  /** The current rows. */
  rows(): IterableIterator<Uint8Array> {
    return this.#rows.values();
  }

  /** Whether a commit that changed the tables `changed` (source names) may change the rows. */
  readsAny(changed: ReadonlySet<string>): boolean {
    for (const t of this.#reads) if (changed.has(t)) return true;
    return false;
  }

  /**
   * Evaluates again and returns how the rows changed (deletes −1, inserts +1), or undefined when
   * they did not. Throws what the evaluation throws, keeping the previous rows and read set.
   */
  refresh(): TableChanges | undefined {
    const ev = this.#evaluate();
    const old = this.#rows;
    const next = this.#spare;
    const rows: Uint8Array[] = [];
    const signs: number[] = [];
    const keys: string[] = [];
    for (const row of ev.rows) {
      const k = bytesKey(row);
      if (next.has(k)) continue;
      next.set(k, row);
      if (old.has(k)) continue;
      rows.push(row);
      signs.push(1);
      keys.push(k);
    }
    for (const [k, row] of old) {
      if (next.has(k)) continue;
      rows.push(row);
      signs.push(-1);
      keys.push(k);
    }
    old.clear();
    this.#rows = next;
    this.#spare = old;
    this.#reads = ev.reads;
    if (rows.length === 0) return undefined;
    return { table: this.table, rows, signs, values: new Array(rows.length), keys };
  }

  /** Frees what the evaluation holds (a prepared statement). */
  dispose(): void {
    this.#dispose?.();
  }
}
