// Canonical names follow SpacetimeDB's snake_case conversion (convert_case's word boundaries);
// an auto-increment column's sequence spans its integer type.
import { describe, expect, it } from 'vitest';
import { readModuleDef, snakeCase } from './module-def.ts';

describe('snakeCase', () => {
  it.each([
    ['fruitName', 'fruit_name'],
    ['deliveryRecord', 'delivery_record'],
    ['oneU8', 'one_u_8'],
    ['u8', 'u_8'],
    ['i128', 'i_128'],
    ['f32', 'f_32'],
    ['HTTPServer', 'http_server'],
    ['already_snake', 'already_snake'],
    ['player2Score', 'player_2_score'],
    ['message', 'message'],
  ])('%s → %s', (input, want) => {
    expect(snakeCase(input)).toBe(want);
  });
});

describe('auto-increment sequences', () => {
  /** One table whose only column, of integer type `tag`, auto-increments by `increment`. */
  const sequenceOf = (tag: string, increment: bigint) =>
    readModuleDef({
      sections: [
        { tag: 'Typespace', value: { types: [{ tag: 'Product', value: { elements: [{ name: 'n', algebraicType: { tag } }] } }] } },
        {
          tag: 'Tables',
          value: [
            {
              sourceName: 't',
              productTypeRef: 0,
              primaryKey: [],
              indexes: [],
              constraints: [],
              sequences: [{ sourceName: undefined, column: 0, start: undefined, minValue: undefined, maxValue: undefined, increment }],
              tableAccess: { tag: 'Public' },
              defaultValues: [],
              isEvent: false,
            },
          ],
        },
      ],
    }).tables[0]!.sequences[0]!;

  it.each([
    ['I8', -128n, 127n],
    ['U8', 0n, 255n],
    ['I16', -32768n, 32767n],
    ['U16', 0n, 65535n],
    ['I32', -2147483648n, 2147483647n],
    ['U32', 0n, 4294967295n],
    ['I64', -9223372036854775808n, 9223372036854775807n],
    ['U64', 0n, 18446744073709551615n],
    ['I128', -(1n << 127n), (1n << 127n) - 1n],
    ['U128', 0n, (1n << 128n) - 1n],
    ['I256', -(1n << 255n), (1n << 255n) - 1n],
    ['U256', 0n, (1n << 256n) - 1n],
  ])('%s: counts up from 1 to its maximum, down from its maximum to its minimum', (tag, min, max) => {
    expect(sequenceOf(tag, 1n)).toEqual({ column: 0, start: 1n, min: 1n, max, increment: 1n });
    expect(sequenceOf(tag, -1n)).toEqual({ column: 0, start: max, min, max, increment: -1n });
  });

  it('refuses a column that is not an integer', () => {
    expect(() => sequenceOf('String', 1n)).toThrow(/autoInc is only allowed on integer columns \(column 0 is String\)/);
  });
});
