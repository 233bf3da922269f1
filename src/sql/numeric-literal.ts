// Exact values of numeric literals. The parser keeps numbers as source text because a u256 or
// i128 column needs more than a double; this turns `1e40`, `-7`, `1.5e3` into a bigint, exactly.

import type { FloatLiteral, IntLiteral } from './ast.ts';

/** Exponents beyond this are refused: no SpacetimeDB type holds 10^MAX_EXPONENT (u256 < 10^78). */
const MAX_EXPONENT = 1000;

/**
 * The exact integer a numeric literal denotes, or null if it has a fractional part (or an
 * exponent above 1000, which no column type can hold). Both kinds are accepted because
 * SpacetimeDB reads `1.5e3` into an integer column as 1500.
 *
 * @example
 * integerValue({ kind: 'int', text: '1e40', span: { start: 0, end: 4 } }); // 10n ** 40n
 * integerValue({ kind: 'float', text: '0.5', span: { start: 0, end: 3 } }); // null
 */
export function integerValue(literal: IntLiteral | FloatLiteral): bigint | null {
  const text = literal.text;
  let i = 0;
  let negative = false;
  const sign = text.charCodeAt(0);
  if (sign === 0x2d || sign === 0x2b) {
    negative = sign === 0x2d;
    i = 1;
  }
  let e = i;
  while (e < text.length && (text.charCodeAt(e) | 0x20) !== 0x65) e++;
  const mantissa = text.slice(i, e);
  const exponent = e < text.length ? Number(text.slice(e + 1)) : 0;
  const dot = mantissa.indexOf('.');
  let digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  let scale = exponent - (dot < 0 ? 0 : mantissa.length - dot - 1);
  let end = digits.length;
  while (scale < 0 && end > 0 && digits.charCodeAt(end - 1) === 0x30) {
    end--;
    scale++;
  }
  digits = digits.slice(0, end);
  if (digits === '' || /^0+$/.test(digits)) return 0n;
  if (!Number.isInteger(scale) || scale < 0 || scale > MAX_EXPONENT) return null;
  const value = BigInt(digits) * 10n ** BigInt(scale);
  return negative ? -value : value;
}
