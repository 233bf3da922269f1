// Canonical names follow SpacetimeDB's snake_case conversion (convert_case's word boundaries).
import { describe, expect, it } from 'vitest';
import { snakeCase } from './module-def.ts';

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
