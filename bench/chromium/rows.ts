// The rows every system stores, so that each holds the same data: `item` (W1, W2, W7, W8; the
// columns of bench/modules/items.ts) and the bank's `account`/`audit` (W3; examples/bank).

/** An item row as plain JS values. */
export interface Item {
  id: number;
  seq: number;
  grp: number;
  name: string;
  score: number;
}

export function item(id: number): Item {
  return { id, seq: id, grp: id % 1000, name: `item-${id}`, score: id * 7 };
}

/** An account of the bank example: balance 1000, owner `owner_<id % 100>` (its `seed` reducer). */
export interface Account {
  id: number;
  owner: string;
  balance: number;
}

export function account(id: number): Account {
  return { id, owner: `owner_${id % 100}`, balance: 1000 };
}

/** The audit row a transfer writes (the bank's `audit` table: autoInc id, sender identity, timestamp). */
export interface Audit {
  id?: number;
  from_id: number;
  to_id: number;
  amount: number;
  sender: Uint8Array;
  at: number;
}

/** The caller identity the peers record in `audit.sender` (32 bytes, like a SpacetimeDB Identity). */
export const SENDER = new Uint8Array(32).fill(0xc2);

/** Microseconds since the epoch, like a SpacetimeDB Timestamp. */
export const nowMicros = (): number => Date.now() * 1000;
