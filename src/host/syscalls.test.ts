// Every syscall of spacetime:sys@2.0/@2.1 called directly, as the runtime calls them: return
// types (number vs bigint), buffer layouts, write-back, and the errno each failure raises.
import { BinaryReader } from 'spacetimedb';
import { beforeEach, describe, expect, it } from 'vitest';
import { openDatastore, type Datastore } from '../datastore/datastore.ts';
import { encodeOne, encodeRow, testTable } from '../datastore/test-tables.ts';
import type { ModuleHooks } from './load-module.ts';
import { moduleHooks, Syscalls, type SyscallHost } from './syscalls.ts';

/** Stand-in for the runtime's error classes: one class per errno, recognisable by `code`. */
class HostErr extends Error {
  code = 0;
}
const classes = new Map<number, new (m: string) => HostErr>();
function errClass(code: number): new (m: string) => HostErr {
  let C = classes.get(code);
  if (!C) {
    C = class extends HostErr {
      override code = code;
    };
    classes.set(code, C);
  }
  return C;
}
const hooks = { __get_error_constructor__: errClass, __sender_error_class__: Error } as unknown as ModuleHooks;

const person = testTable(
  'person',
  [
    ['id', { tag: 'U64' }],
    ['name', { tag: 'String' }],
    ['age', { tag: 'U32' }],
  ],
  {
    primaryKey: 'id',
    indexes: [{ columns: ['name'], unique: true }, { columns: ['age'] }, { columns: ['age', 'name'] }, { columns: ['name'], algorithm: 'hash' }],
    autoInc: ['id'],
  },
);

type Sys = Record<string, (...a: never[]) => unknown>;

describe('syscalls', () => {
  let ds: Datastore;
  let sc: Syscalls;
  let sys: Sys;
  let logs: [number, string][];
  let anon = false;

  beforeEach(async () => {
    ds = await openDatastore();
    ds.addTable(person, { types: [] });
    logs = [];
    const host: SyscallHost = {
      datastore: ds,
      hooks,
      databaseIdentity: 77n,
      log: (l, m) => logs.push([l, m]),
      jwtPayload: () => '',
      startAnonTx: () => {
        ds.begin();
        anon = true;
        return 123n;
      },
      commitAnonTx: () => {
        anon = false;
        ds.commit();
      },
      abortAnonTx: () => {
        anon = false;
        ds.rollback();
      },
      get anonTxOpen() {
        return anon;
      },
      httpRequest: () => {
        throw new Error('offline');
      },
    };
    sc = new Syscalls(host);
    sys = { ...sc.sys20, ...sc.sys21 } as unknown as Sys;
  });

  const call = (name: string, ...args: unknown[]) => (sys[name] as (...a: unknown[]) => unknown)(...args);
  const errno = (f: () => unknown): number => {
    try {
      f();
    } catch (e) {
      if (e instanceof HostErr) return e.code;
      throw e;
    }
    throw new Error('expected a host error');
  };
  const buf = (bytes: Uint8Array, size = 65536) => {
    const b = new ArrayBuffer(size);
    new Uint8Array(b).set(bytes);
    return b;
  };
  const insert = (row: Record<string, unknown>) => {
    const bytes = encodeRow(person, row);
    const b = buf(bytes);
    const n = call('datastore_insert_bsatn', call('table_id_from_name', 'person'), b, bytes.length) as number;
    return { n, written: new Uint8Array(b, 0, n).slice() };
  };
  const drain = (iter: number, size = 65536): { rows: Uint8Array; steps: number[] } => {
    const steps: number[] = [];
    const chunks: number[] = [];
    let b = new ArrayBuffer(size);
    for (;;) {
      let r: number;
      try {
        r = call('row_iter_bsatn_advance', iter, b) as number;
      } catch (e) {
        if (e && typeof e === 'object' && '__buffer_too_small__' in e) {
          steps.push(-1);
          b = new ArrayBuffer((e as { __buffer_too_small__: number }).__buffer_too_small__);
          continue;
        }
        throw e;
      }
      steps.push(r);
      chunks.push(...new Uint8Array(b, 0, Math.abs(r)));
      if (r <= 0) return { rows: new Uint8Array(chunks), steps };
    }
  };

  it('exports moduleHooks and resolves names to ids; unknown names are errno 4 / 5', () => {
    expect(sc.sys20.moduleHooks).toBe(moduleHooks);
    expect(call('table_id_from_name', 'person')).toBeTypeOf('number');
    expect(call('index_id_from_name', 'person_age_name_idx_btree')).toBeTypeOf('number');
    expect(errno(() => call('table_id_from_name', 'nope'))).toBe(4);
    expect(errno(() => call('index_id_from_name', 'nope'))).toBe(5);
  });

  it('datastore calls outside a transaction are errno 2', () => {
    expect(errno(() => call('datastore_table_row_count', call('table_id_from_name', 'person')))).toBe(2);
    expect(errno(() => insert({ id: 1n, name: 'a', age: 1 }))).toBe(2);
  });

  it('insert writes generated auto-inc values back at offset 0; row count is a bigint', () => {
    ds.begin();
    const a = insert({ id: 0n, name: 'a', age: 30 });
    expect(a.n).toBe(8);
    expect(new BinaryReader(a.written).readU64()).toBe(1n);
    const b = insert({ id: 5n, name: 'b', age: 30 });
    expect(b.n).toBe(0);
    expect(call('datastore_table_row_count', call('table_id_from_name', 'person'))).toBe(2n);
    expect(errno(() => insert({ id: 6n, name: 'a', age: 1 }))).toBe(12);
    ds.commit();
  });

  it('scans: table scan, point scan, advance sign convention, buffer too small, close', () => {
    ds.begin();
    for (let i = 0; i < 3; i++) insert({ id: 0n, name: 'x'.repeat(40000) + i, age: i });
    const t = call('table_id_from_name', 'person');
    const it1 = call('datastore_table_scan_bsatn', t) as number;
    const { steps } = drain(it1);
    // 3 rows of ~40 KB in a 64 KiB buffer: one per call, the last negative (exhausted).
    expect(steps).toHaveLength(3);
    expect(steps[0]).toBeGreaterThan(0);
    expect(steps[2]).toBeLessThan(0);
    // A buffer smaller than one row: the plain { __buffer_too_small__ } object, then a retry.
    const it2 = call('datastore_table_scan_bsatn', t) as number;
    expect(drain(it2, 100).steps[0]).toBe(-1);
    // An empty point scan returns 0 at once and frees the iterator.
    const ix = call('index_id_from_name', 'person_name_idx_btree');
    const key = encodeOne({ tag: 'String' }, 'missing');
    const it3 = call('datastore_index_scan_point_bsatn', ix, buf(key), key.length) as number;
    expect(call('row_iter_bsatn_advance', it3, new ArrayBuffer(64))).toBe(0);
    expect(errno(() => call('row_iter_bsatn_advance', it3, new ArrayBuffer(64)))).toBe(6);
    // Closing an open iterator works once; closing again is errno 6.
    const it4 = call('datastore_table_scan_bsatn', t) as number;
    call('row_iter_bsatn_close', it4);
    expect(errno(() => call('row_iter_bsatn_close', it4))).toBe(6);
    ds.commit();
  });

  it('advance hands out as many whole rows as the buffer holds, byte for byte, and never splits one', () => {
    ds.begin();
    for (let i = 0; i < 60; i++) insert({ id: 0n, name: `${'n'.repeat(i % 17)}${i}`, age: i });
    const table = ds.table(call('table_id_from_name', 'person') as number);
    const stored = ds.scanAll(table);
    const ends: number[] = [];
    stored.reduce((at, row) => (ends.push(at + row.length), at + row.length), 0);
    for (const size of [40, 200, 4096]) {
      const { rows, steps } = drain(call('datastore_table_scan_bsatn', table.id) as number, size);
      expect(rows).toEqual(new Uint8Array(stored.flatMap((r) => [...r])));
      // Every chunk ends where a row ends, and fills the buffer as far as whole rows allow.
      let at = 0;
      for (const step of steps) {
        at += Math.abs(step);
        expect(ends).toContain(at);
        const next = ends.find((e) => e > at);
        if (step > 0 && next !== undefined) expect(next - (at - step)).toBeGreaterThan(size);
      }
      expect(steps.length).toBeGreaterThan(size === 4096 ? 0 : 1);
    }
    // A range scan through an index: the same rows, in the index's order.
    const age = call('index_id_from_name', 'person_age_idx_btree');
    const all = new Uint8Array([2]);
    const { rows } = drain(call('datastore_index_scan_range_bsatn', age, buf(all), 0, 0, 1, 0) as number, 100);
    expect(rows).toEqual(new Uint8Array(stored.flatMap((r) => [...r])));
    ds.commit();
  });

  it('iterators keep the rows of their scan: interleaved with other scans and with writes, small and large', () => {
    ds.begin();
    for (let i = 0; i < 2000; i++) insert({ id: 0n, name: `row ${i} ${'w'.repeat(i % 80)}`, age: i % 50 });
    const table = ds.table(call('table_id_from_name', 'person') as number);
    const age = call('index_id_from_name', 'person_age_idx_btree');
    const u32 = (v: number) => encodeOne({ tag: 'U32' }, v);
    const whole = (rows: Uint8Array[]) => new Uint8Array(rows.flatMap((r) => [...r]));
    // A scan of every row (over 64 KiB: its buffer is handed over) and a small range scan.
    const bigRows = whole(ds.scanAll(table));
    expect(bigRows.length).toBeGreaterThan(64 * 1024);
    const big = call('datastore_table_scan_bsatn', table.id) as number;
    const range = new Uint8Array([0, ...u32(7), 0, ...u32(7)]);
    const small = call('datastore_index_scan_range_bsatn', age, buf(range), 0, 0, 5, 5) as number;
    const smallRows = whole(ds.scanRange(ds.index(age as number), range, 0, 0, 5, 5));
    // Part of the big scan, then other scans (through the same reader) and writes, then the rest.
    const head = new ArrayBuffer(4096);
    const n = call('row_iter_bsatn_advance', big, head) as number;
    expect(n).toBeGreaterThan(0);
    const other = drain(call('datastore_table_scan_bsatn', table.id) as number);
    expect(other.rows).toEqual(bigRows);
    insert({ id: 0n, name: 'written while the scans are open', age: 7 });
    expect(drain(call('datastore_table_scan_bsatn', table.id) as number).rows.length).toBeGreaterThan(bigRows.length);
    const rest = drain(big);
    expect(new Uint8Array([...new Uint8Array(head, 0, n), ...rest.rows])).toEqual(bigRows);
    expect(drain(small).rows).toEqual(smallRows);
    ds.commit();
  });

  it('range scans use prefix ‖ rstart ‖ rend with rend_len 0 meaning rend = rstart', () => {
    ds.begin();
    insert({ id: 0n, name: 'alice', age: 30 });
    insert({ id: 0n, name: 'bob', age: 30 });
    insert({ id: 0n, name: 'carol', age: 41 });
    const age = call('index_id_from_name', 'person_age_idx_btree');
    const two = call('index_id_from_name', 'person_age_name_idx_btree');
    const u32 = (v: number) => encodeOne({ tag: 'U32' }, v);
    const names = (iter: number) => {
      const { rows } = drain(iter);
      const r = new BinaryReader(rows);
      const out: string[] = [];
      while (r.remaining > 0) {
        r.readU64();
        out.push(r.readString());
        r.readU32();
      }
      return out;
    };
    // age in [18, 40)
    const b1 = new Uint8Array([0, ...u32(18), 1, ...u32(40)]);
    expect(names(call('datastore_index_scan_range_bsatn', age, buf(b1), 0, 0, 5, 5) as number)).toEqual(['alice', 'bob']);
    // filter(30) on the two-column index: Included(30) with rend_len 0
    const b2 = new Uint8Array([0, ...u32(30)]);
    expect(names(call('datastore_index_scan_range_bsatn', two, buf(b2), 0, 0, 5, 0) as number)).toEqual(['alice', 'bob']);
    // prefix age=30, name >= 'b' unbounded above
    const b3 = new Uint8Array([...u32(30), 0, ...encodeOne({ tag: 'String' }, 'b'), 2]);
    expect(names(call('datastore_index_scan_range_bsatn', two, buf(b3), 4, 1, 6, 1) as number)).toEqual(['bob']);
    // lengths beyond the buffer are a RangeError; a range on a hash index is errno 10
    expect(() => call('datastore_index_scan_range_bsatn', age, new ArrayBuffer(4), 0, 0, 5, 5)).toThrow(RangeError);
    const hash = call('index_id_from_name', 'person_name_idx_hash');
    expect(errno(() => call('datastore_index_scan_range_bsatn', hash, buf(new Uint8Array([2])), 0, 0, 1, 0))).toBe(10);
    // deletes by range and by point return counts (numbers)
    const b4 = new Uint8Array([0, ...u32(100), 2]);
    expect(call('datastore_delete_by_index_scan_range_bsatn', age, buf(b4), 0, 0, 5, 1)).toBe(0);
    const bob = encodeOne({ tag: 'String' }, 'bob');
    expect(call('datastore_delete_by_index_scan_point_bsatn', call('index_id_from_name', 'person_name_idx_btree'), buf(bob), bob.length)).toBe(1);
    ds.commit();
  });

  it('update by primary key, delete by full-row equality, clear', () => {
    ds.begin();
    insert({ id: 0n, name: 'a', age: 1 });
    const t = call('table_id_from_name', 'person');
    const pk = call('index_id_from_name', 'person_id_idx_btree');
    const row = encodeRow(person, { id: 1n, name: 'a', age: 2 });
    expect(call('datastore_update_bsatn', t, pk, buf(row), row.length)).toBe(0);
    const missing = encodeRow(person, { id: 9n, name: 'z', age: 2 });
    expect(errno(() => call('datastore_update_bsatn', t, pk, buf(missing), missing.length))).toBe(15);
    const age = call('index_id_from_name', 'person_age_idx_btree');
    expect(errno(() => call('datastore_update_bsatn', t, age, buf(row), row.length))).toBe(14);
    const rel = new Uint8Array([1, 0, 0, 0, ...row]);
    expect(call('datastore_delete_all_by_eq_bsatn', t, buf(rel), rel.length)).toBe(1);
    expect(call('datastore_delete_all_by_eq_bsatn', t, buf(rel), rel.length)).toBe(0);
    insert({ id: 0n, name: 'b', age: 1 });
    expect(call('datastore_clear', t)).toBe(1n);
    ds.commit();
  });

  it('console, timers, identity, jwt and procedure transactions', () => {
    call('console_log', 2, 'hello');
    expect(logs).toContainEqual([2, 'hello']);
    const span = call('console_timer_start', 'work');
    call('console_timer_end', span);
    expect(logs.at(-1)![1]).toMatch(/^Timing span "work": /);
    expect(errno(() => call('console_timer_end', span))).toBe(7);
    expect(call('identity')).toBe(77n);
    expect(errno(() => call('get_jwt_payload', 5n))).toBe(2);
    expect(call('procedure_start_mut_tx')).toBe(123n);
    expect(errno(() => call('procedure_start_mut_tx'))).toBe(17);
    expect((call('get_jwt_payload', 5n) as Uint8Array).length).toBe(0);
    expect(errno(() => call('procedure_http_request', new Uint8Array(), ''))).toBe(17);
    call('procedure_commit_mut_tx');
    expect(errno(() => call('procedure_commit_mut_tx'))).toBe(18);
    expect(errno(() => call('procedure_abort_mut_tx'))).toBe(18);
    expect(errno(() => call('procedure_http_request', new Uint8Array(), ''))).toBe(21);
  });

  it('open iterators are found by id whatever order they close in; closeItersFrom and endCall count the newest too', () => {
    ds.begin();
    for (let i = 0; i < 3; i++) insert({ id: 0n, name: `p${i}`, age: i });
    const t = call('table_id_from_name', 'person');
    const scan = () => call('datastore_table_scan_bsatn', t) as number;
    const gone = (id: number) => errno(() => call('row_iter_bsatn_advance', id, new ArrayBuffer(64)));
    const all = drain(scan()).rows;
    // Three open at once: the oldest closed first, the newest drained, then the middle one.
    const [a, b, c] = [scan(), scan(), scan()];
    call('row_iter_bsatn_close', a);
    expect(drain(c).rows).toEqual(all);
    expect(gone(c)).toBe(6);
    expect(errno(() => call('row_iter_bsatn_close', a))).toBe(6);
    expect(drain(b).rows).toEqual(all);
    // Ids are never reused.
    const d = scan();
    expect(new Set([a, b, c, d]).size).toBe(4);
    // A view's iterators (from a mark) are closed, the newest among them; the one before stays.
    const mark = sc.iterMark();
    const [e, f] = [scan(), scan()];
    expect(sc.closeItersFrom(mark)).toBe(2);
    expect([gone(e), gone(f)]).toEqual([6, 6]);
    expect(drain(d).rows).toEqual(all);
    scan();
    scan();
    expect(sc.endCall()).toBe(2);
    ds.commit();
    // A finalizer closing an iterator of an earlier call, outside any transaction, is ignored.
    expect(() => call('row_iter_bsatn_close', a)).not.toThrow();
  });

  it('endCall closes leftover iterators and timers', () => {
    ds.begin();
    call('datastore_table_scan_bsatn', call('table_id_from_name', 'person'));
    call('console_timer_start', 't');
    expect(sc.endCall()).toBe(2);
    expect(sc.endCall()).toBe(0);
    ds.commit();
  });
});
