// Reads one `lightcone call` argument (or an HTTP call's body) as JSON, exactly: strings arrive byte for byte, and an
// integer that a double would round arrives as a bigint. lossless-json hands each number over as
// its source text, so no marker is ever written into (and mistaken for) the user's data.
import { isInteger, isSafeNumber, parse } from 'lossless-json';
import { UsageError } from '../errors.ts';

/** Parses argument number `position` (1-based, for the message). Throws UsageError BAD_ARGUMENT. */
export function parseJsonArg(text: string, position: number): unknown {
  return parseExactJson(text, `argument ${position}`, { position });
}

/**
 * Parses JSON exactly, as `parseJsonArg` does; `what` names the text in messages ("the request
 * body"). Throws UsageError BAD_ARGUMENT with `details`.
 */
export function parseExactJson(text: string, what: string, details: Record<string, unknown> = {}): unknown {
  try {
    return parse(text, null, jsonNumber);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new UsageError('BAD_ARGUMENT', `${what} nests too deeply to read as JSON: flatten it (no type takes that many levels)`, details);
    }
    const why = e instanceof Error ? e.message : String(e);
    throw new UsageError('BAD_ARGUMENT', `${what} is not JSON (${why}): ${preview(text)} (strings need quotes: '"text"')`, details);
  }
}

/** The widest integer a module takes (i256/u256) has 78 digits; wider ones are out of range anyway. */
const MAX_EXACT_DIGITS = 80;

/**
 * A JSON number: a safe integer or any fraction as a double (what JSON.parse gives), an integer a
 * double cannot hold exactly as a bigint — also when written with an exponent (`1.8e19`).
 */
function jsonNumber(text: string): number | bigint {
  if (isInteger(text)) return isSafeNumber(text) ? Number(text) : BigInt(text);
  const n = Number(text);
  if (!Number.isInteger(n) || Number.isSafeInteger(n)) return n;
  return exactInteger(text) ?? n;
}

/** `text` (mantissa and exponent) as an exact bigint when it is a whole number of sane size. */
function exactInteger(text: string): bigint | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(text);
  if (!m) return undefined;
  const fraction = (m[3] ?? '').replace(/0+$/, '');
  const shift = Number(m[4]) - fraction.length;
  const digits = (m[2]! + fraction).replace(/^0+(?=\d)/, '');
  if (shift < 0 || digits.length + shift > MAX_EXACT_DIGITS) return undefined;
  const v = BigInt(digits) * 10n ** BigInt(shift);
  return m[1] === '-' ? -v : v;
}

/** The start of a long argument, for messages. */
function preview(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}… (${text.length} characters)` : text;
}
