// Rows as the wire carries them: the BSATN of each row, concatenated, with its start offsets
// (`BsatnRowList`). Live queries hand rows over as objects keyed by canonical column name; each
// object is encoded once however many connections receive it (the objects are shared within a
// delivery round), and the bytes are canonical, so a row's delete is byte-identical to its insert
// (the SDK keys rows of tables without a primary key by those bytes).
import { AlgebraicType, BinaryWriter, type AlgebraicType as Ty } from 'spacetimedb';
import type { StoreTable } from '../datastore/datastore.ts';
import { InternalError } from '../errors.ts';
import type { Host } from '../host/host.ts';
import type { Row } from '../subscriptions/types.ts';
import type { BsatnRowList } from './client-api.js';

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

  constructor(host: () => Host) {
    this.#host = host;
  }

  /** The table a live query names by its canonical name. */
  table(name: string): StoreTable {
    const table = this.#host().datastore.tableByName(name);
    if (!table) throw new InternalError(`live query rows name table ${name}, which the module does not have`);
    return table;
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
