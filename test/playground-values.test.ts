// The playground's pure parts (demo/playground/): reading a module's tables for completion, and
// form fields read by their SpacetimeDB type before a call, and cells formatted by type.
import { Identity, Timestamp } from 'spacetimedb';
import { describe, expect, test } from 'vitest';
import { indexAccessors, tablesOf } from '../demo/playground/completion.ts';
import { fieldKind, formatValue, parseField } from '../demo/playground/values.ts';

const MODULE = `
import { schema, table, t } from 'spacetimedb/server';
const user = table({ public: true }, {
  identity: t.identity().primaryKey(),
  name: t.string().optional(), // a comment, with a comma
  email: t.string().unique(),
});
const messageTable = table(
  { name: 'message', indexes: [{ accessor: 'by_room', algorithm: 'btree', columns: ['room'] }] },
  { id: t.u64().primaryKey().autoInc(), room: t.u32(), text: t.string(), sender: t.identity().index('btree') },
);
const spacetimedb = schema({ user, message: messageTable });
export default spacetimedb;
`;

describe('completion reads the module', () => {
  test('tables by accessor, with columns and indexes', () => {
    const tables = tablesOf(MODULE);
    expect(tables.map((t) => t.accessor)).toEqual(['user', 'message']);
    const [user, message] = tables;
    expect(user!.columns.map((c) => [c.name, c.type, c.primaryKey, c.unique, c.indexed])).toEqual([
      ['identity', 'identity', true, false, false],
      ['name', 'string', false, false, false],
      ['email', 'string', false, true, false],
    ]);
    expect(indexAccessors(user!, undefined)).toEqual([
      { accessor: 'identity', unique: true },
      { accessor: 'email', unique: true },
    ]);
    expect(indexAccessors(message!, undefined)).toEqual([
      { accessor: 'id', unique: true },
      { accessor: 'sender', unique: false },
      { accessor: 'by_room', unique: false },
    ]);
  });

  test('a module without schema({ … }) has no tables; an unfinished one does not throw', () => {
    expect(tablesOf('const x = 1;')).toEqual([]);
    expect(tablesOf('const spacetimedb = schema({ user, ')).toEqual([]);
  });
});

describe('form fields by type', () => {
  test('integers are checked against their width; 64 bits and more are bigints', () => {
    expect(parseField(fieldKind('u8'), '255')).toEqual({ ok: true, value: 255 });
    expect(parseField(fieldKind('u8'), '256')).toEqual({ ok: false, error: 'out of range 0..255' });
    expect(parseField(fieldKind('i32'), '-2147483648')).toEqual({ ok: true, value: -2147483648 });
    expect(parseField(fieldKind('u64'), '18446744073709551615')).toEqual({ ok: true, value: 18446744073709551615n });
    expect(parseField(fieldKind('u64'), '-1')).toEqual({ ok: false, error: 'out of range 0..18446744073709551615' });
    expect(parseField(fieldKind('u32'), '1.5')).toEqual({ ok: false, error: 'expected a whole number (u32)' });
  });

  test('identities, timestamps, options, enums and JSON', () => {
    expect(parseField(fieldKind('Identity'), `0x${'AB'.repeat(32)}`)).toEqual({ ok: true, value: 'ab'.repeat(32) });
    expect(parseField(fieldKind('Identity'), 'abc').ok).toBe(false);
    expect(parseField(fieldKind('Timestamp'), '2025-01-31T12:00:00Z')).toEqual({ ok: true, value: '2025-01-31T12:00:00.000Z' });
    expect(parseField(fieldKind('Timestamp'), 'yesterday').ok).toBe(false);
    expect(parseField(fieldKind('Option<u32>'), '')).toEqual({ ok: true, value: undefined });
    expect(parseField(fieldKind('Option<u32>'), 'x')).toEqual({ ok: false, error: 'expected a whole number (u32)' });
    expect(parseField(fieldKind('enum { Low | High }'), 'High')).toEqual({ ok: true, value: 'High' });
    expect(parseField(fieldKind('enum { Low | High }'), 'Medium').ok).toBe(false);
    expect(parseField(fieldKind('Array<u64>'), '["12345678901234567890n", 2]')).toEqual({ ok: true, value: [12345678901234567890n, 2] });
    const bad = parseField(fieldKind('{ x: u32 }'), '{x: 1}');
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.error).toMatch(/^expected JSON for \{ x: u32 \}: /);
  });
});

describe('cells by type', () => {
  test('identities by name, timestamps as dates, enums by tag, options as none', () => {
    const alice = new Identity(`c200${'a1'.repeat(30)}`);
    expect(formatValue(alice, (hex) => (hex === alice.toHexString() ? 'alice' : undefined))).toMatchObject({ text: 'alice (c200a1a1…)', kind: 'identity' });
    expect(formatValue(new Timestamp(1_738_324_800_000_000n))).toMatchObject({ text: '2025-01-31T12:00:00.000Z', kind: 'timestamp' });
    expect(formatValue({ tag: 'High', value: {} }).text).toBe('High');
    expect(formatValue({ tag: 'Circle', value: 2.5 }).text).toBe('Circle(2.5)');
    expect(formatValue(undefined)).toMatchObject({ text: 'none', kind: 'none' });
    expect(formatValue({ ok: 5n }).text).toBe('ok(5)');
    expect(formatValue(new Uint8Array([1, 255])).text).toBe('0x01ff');
  });
});
