// Rows as the wire carries them: the BSATN of each row, concatenated, with its start offsets
// (`BsatnRowList`). Live queries hand rows over as objects keyed by canonical column name; each
// object is encoded once however many connections receive it (the objects are shared within a
// delivery round), and the bytes are canonical, so a row's delete is byte-identical to its insert
// (the SDK keys rows of tables without a primary key by those bytes).
import { AlgebraicType, BinaryWriter, type AlgebraicType as Ty } from 'spacetimedb';
import type { StoreTable } from '../datastore/datastore.ts';
import { InternalError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { Row, TableUpdate } from '../subscriptions/types.ts';
import type { BsatnRowList, QuerySetUpdate, TableUpdate as WireTableUpdate } from './client-api.js';
import { encodeServerMessage } from './messages.ts';

interface Codec {
  serialize: (w: BinaryWriter, v: unknown) => void;
  /** `[jsName, canonicalName]` per column when they differ anywhere (rows arrive keyed by canonical name). */
  rename: [string, string][] | undefined;
}

/** Encodes row objects of one database's tables. */
export class RowEncoder {
  readonly #host: () => Host;
  readonly #codecs = new WeakMap<StoreTable, Codec>();
  readonly #encoded = new WeakMap<Row, Uint8Array>();
  readonly #writer = new BinaryWriter(1024);
  readonly #list = new BinaryWriter(1024);
  /**
   * The wire updates made in the commit being delivered, by their first row object. Connections
   * whose subscriptions see the same rows get the same row objects (each in arrays of its own),
   * so all but the first take the one already made. Cleared after each commit (`commitDone`).
   */
  #updates = new Map<Row, { table: StoreTable; inserts: readonly Row[]; deletes: readonly Row[]; wire: WireTableUpdate }>();
  /** The TransactionUpdates encoded in the commit being delivered, by their first wire update. */
  #messages = new Map<WireTableUpdate, { querySets: readonly QuerySetUpdate[]; bytes: Uint8Array }>();

  constructor(host: () => Host) {
    this.#host = host;
  }

  /** The table a live query names by its canonical name. */
  table(name: string): StoreTable {
    const table = this.#host().datastore.tableByName(name);
    if (!table) throw new InternalError(`live query rows name table ${name}, which the module does not have`);
    return table;
  }

  /** A table's update as the wire carries it (shared by connections handed the same rows). */
  tableUpdate(table: StoreTable, t: TableUpdate): WireTableUpdate {
    const first = t.inserts[0] ?? t.deletes[0];
    if (first !== undefined) {
      const known = this.#updates.get(first);
      if (known && known.table === table && sameRows(known.inserts, t.inserts) && sameRows(known.deletes, t.deletes)) return known.wire;
    }
    const wire: WireTableUpdate = table.def.isEvent
      ? { tableName: t.table, rows: [{ tag: 'EventTable', value: { events: this.rowList(table, t.inserts) } }] }
      : { tableName: t.table, rows: [{ tag: 'PersistentTable', value: { inserts: this.rowList(table, t.inserts), deletes: this.rowList(table, t.deletes) } }] };
    // The first kept: connections of another shape in between do not evict it.
    if (first !== undefined && !this.#updates.has(first)) this.#updates.set(first, { table, inserts: t.inserts, deletes: t.deletes, wire });
    return wire;
  }

  /**
   * The BSATN of `TransactionUpdate { querySets }` (a fresh copy: frames may be transferred):
   * encoded once in a commit for connections whose query sets carry the same ids and wire updates.
   */
  transactionUpdate(querySets: readonly QuerySetUpdate[]): Uint8Array {
    const first = querySets[0]?.tables[0];
    const known = first && this.#messages.get(first);
    if (known && sameSets(known.querySets, querySets)) return known.bytes.slice();
    const bytes = encodeServerMessage({ tag: 'TransactionUpdate', value: { querySets: querySets as QuerySetUpdate[] } });
    if (first && !this.#messages.has(first)) this.#messages.set(first, { querySets, bytes });
    return bytes.slice();
  }

  /** A commit was delivered to every connection: what they shared is let go. */
  commitDone(): void {
    if (this.#updates.size > 0) this.#updates = new Map();
    if (this.#messages.size > 0) this.#messages = new Map();
  }

  /** The rows as one `BsatnRowList` (row offsets as size hint). */
  rowList(table: StoreTable, rows: readonly Row[]): BsatnRowList {
    const w = this.#list;
    w.clear();
    const offsets: bigint[] = new Array<bigint>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      offsets[i] = BigInt(w.offset);
      w.writeBytes(this.encode(table, rows[i]!));
    }
    return { sizeHint: { tag: 'RowOffsets', value: offsets }, rowsData: w.getBuffer().slice() };
  }

  /** One row's BSATN (cached per row object). */
  encode(table: StoreTable, row: Row): Uint8Array {
    const known = this.#encoded.get(row);
    if (known) return known;
    const c = this.#codec(table);
    let value: Row = row;
    if (c.rename) {
      value = {};
      for (const [js, canonical] of c.rename) value[js] = row[canonical];
    }
    const w = this.#writer;
    w.clear();
    c.serialize(w, value);
    const bytes = w.getBuffer().slice();
    this.#encoded.set(row, bytes);
    return bytes;
  }

  #codec(table: StoreTable): Codec {
    let c = this.#codecs.get(table);
    if (!c) {
      const ty = { tag: 'Product', value: table.def.rowType } as Ty;
      const cols = table.def.columns;
      c = {
        serialize: AlgebraicType.makeSerializer(ty, this.#host().schema.typespace) as Codec['serialize'],
        rename: cols.some((x) => x.name !== x.canonicalName) ? cols.map((x) => [x.name, x.canonicalName]) : undefined,
      };
      this.#codecs.set(table, c);
    }
    return c;
  }
}

function sameRows(a: readonly Row[], b: readonly Row[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameSets(a: readonly QuerySetUpdate[], b: readonly QuerySetUpdate[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.querySetId.id !== y.querySetId.id || x.tables.length !== y.tables.length) return false;
    for (let j = 0; j < x.tables.length; j++) if (x.tables[j] !== y.tables[j]) return false;
  }
  return true;
}
