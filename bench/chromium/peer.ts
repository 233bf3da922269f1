// The methods every peer worker serves over the RPC (rpc.ts), so the page drives raw sqlite-wasm,
// Dexie and PGlite the same way. Each worker holds one database with the `item`, `account` and
// `audit` tables of rows.ts, written the way that peer's documentation recommends.

/** Time spent in each step of a cold open, in ms (names are per peer). */
export type Breakdown = Record<string, number>;

export interface PeerApi {
  /**
   * Opens database `name` (creating its tables when new) at `durability` (peer-specific: 'memory',
   * 'opfs', 'idb-default', 'idb-strict', 'idb'). Resolves with a label for the results.
   */
  open(name: string, durability: string): Promise<string>;
  /** One row in its own transaction, resolved once durable at the open durability. */
  insertOne(id: number): Promise<void>;
  /** `n` rows from id `from` with the peer's bulk API (one transaction where it has one). */
  insertMany(from: number, n: number): Promise<void>;
  /** Accounts 1..n with balance 1000 (bulk). */
  seedAccounts(n: number): Promise<void>;
  /** The bank's transfer: read both accounts, check, update both, add an audit row; one transaction. */
  transfer(from: number, to: number, amount: number): Promise<void>;
  /** Rows of `item`. */
  count(): Promise<number>;
  /** W7: open an existing database and run the first query (`item` by id), timing each step. */
  coldOpen(name: string, durability: string): Promise<Breakdown>;
  /** Extra figures the peer can report (raw sqlite-wasm: page bytes). */
  stats(): Promise<Record<string, number>>;
  close(): Promise<void>;
}
