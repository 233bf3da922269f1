// Turns row BSATN into the objects subscribers receive (keyed by column canonical name, values
// as the package's deserializer makes them, as `db.sql` returns rows), decoding each row once per
// delivery round however many subscribers receive it.
import type { AlgebraicType } from 'spacetimedb';
import type { StoreTable } from '../datastore/datastore.ts';
import { decodeValue } from '../host/values.ts';
import type { Row } from './types.ts';

type Typespace = { types: AlgebraicType[] };

interface TableCodec {
  ty: AlgebraicType;
  /** `[jsName, canonicalName]` pairs when they differ anywhere, else undefined (objects are used as decoded). */
  rename: [string, string][] | undefined;
}

/** Decodes rows with a cache that lives for one delivery round (`reset` between rounds). */
export class RowDecoding {
  readonly #typespace: Typespace;
  readonly #codecs = new WeakMap<StoreTable, TableCodec>();
  readonly #cache = new Map<StoreTable, Map<string, Row>>();

  constructor(typespace: Typespace) {
    this.#typespace = typespace;
  }

  /** The row object for `bytes` (whose key is `key`), shared within the round. */
  row(table: StoreTable, key: string, bytes: Uint8Array): Row {
    let byKey = this.#cache.get(table);
    if (!byKey) {
      byKey = new Map();
      this.#cache.set(table, byKey);
    }
    let row = byKey.get(key);
    if (!row) {
      row = this.decode(table, bytes);
      byKey.set(key, row);
    }
    return row;
  }

  /** Decodes one row (uncached). */
  decode(table: StoreTable, bytes: Uint8Array): Row {
    const c = this.#codec(table);
    const obj = decodeValue(c.ty, bytes, this.#typespace) as Row;
    if (!c.rename) return obj;
    const out: Row = {};
    for (const [js, canonical] of c.rename) out[canonical] = obj[js];
    return out;
  }

  /** Forgets the round's rows. */
  reset(): void {
    this.#cache.clear();
  }

  #codec(table: StoreTable): TableCodec {
    let c = this.#codecs.get(table);
    if (!c) {
      const cols = table.def.columns;
      c = {
        ty: { tag: 'Product', value: table.def.rowType } as AlgebraicType,
        rename: cols.some((x) => x.name !== x.canonicalName) ? cols.map((x) => [x.name, x.canonicalName]) : undefined,
      };
      this.#codecs.set(table, c);
    }
    return c;
  }
}
