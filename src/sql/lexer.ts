// Tokenizer for SpacetimeDB's SQL dialect: one pass over char codes with a class table (no regex
// per character), producing plain tokens ending in an `eof` token. Also holds the error helpers
// that parser and lexer share, which turn offsets into `line:column` only when an error is thrown.

import { SqlError } from '../errors.ts';

/**
 * Token types. `word` is a bare word (keyword or identifier, decided by the parser); `ident` is a
 * double-quoted identifier, never a keyword.
 */
export type TokenType = 'word' | 'ident' | 'number' | 'string' | 'hex' | 'param' | 'op' | 'eof';

/** One token; `start`/`end` are offsets into the SQL (end exclusive). */
export interface Token {
  readonly type: TokenType;
  readonly start: number;
  readonly end: number;
  /**
   * word: as written; ident: the name with `""` resolved; number: the source text; string: the
   * value with `''` resolved; hex: the digits; param: the name without `:`; op: the operator; eof: ''.
   */
  readonly text: string;
  /** For a word, its upper-cased text (keywords compare against it); '' otherwise. */
  readonly upper: string;
  /** For a number, whether it has a fraction or a negative exponent. */
  readonly float: boolean;
}

/**
 * Splits `sql` into tokens. Comments (`-- ...`, `/* ... *\/`) and whitespace are skipped.
 *
 * @throws SqlError `PARSE_ERROR` for an unterminated string, quoted identifier or comment, a
 *   malformed number, or a character that is not part of the dialect; `UNSUPPORTED` for `B'...'`,
 *   `E'...'` and `N'...'` strings.
 * @example
 * tokenize('SELECT * FROM "t"').map(t => t.type); // ['word', 'op', 'word', 'ident', 'eof']
 */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const cls = classOf(c);
    if (cls & SPACE) {
      i++;
      continue;
    }
    const start = i;
    if (cls & START) {
      i++;
      while (i < n) {
        const d = sql.charCodeAt(i);
        if ((classOf(d) & CONT) === 0) break;
        i++;
      }
      if (i - start === 1 && i < n && sql.charCodeAt(i) === QUOTE) {
        const prefix = c | 0x20;
        if (prefix === 0x78 /* x */) {
          tokens.push(hexString(sql, start));
          i = tokens[tokens.length - 1]!.end;
          continue;
        }
        if (prefix === 0x62 /* b */ || prefix === 0x65 /* e */ || prefix === 0x6e /* n */) {
          const what = prefix === 0x62 ? 'Bit-string' : prefix === 0x65 ? 'Escape string' : 'National string';
          const form = `${sql[start]!.toUpperCase()}'...'`;
          throw unsupported(sql, start, `${what.toLowerCase()} literal`, {
            message: `${what} literals (${form}) are not supported by SpacetimeDB SQL`,
            hint: "use a plain '...' string, or X'...' for bytes",
          });
        }
      }
      const text = sql.slice(start, i);
      tokens.push(token('word', start, i, text, text.toUpperCase(), false));
      continue;
    }
    if (cls & DIGIT || (c === DOT && i + 1 < n && isDigit(sql.charCodeAt(i + 1)))) {
      tokens.push(c === 0x30 && (sql.charCodeAt(i + 1) | 0x20) === 0x78 ? hexNumber(sql, start) : number(sql, start));
      i = tokens[tokens.length - 1]!.end;
      continue;
    }
    switch (c) {
      case QUOTE:
        tokens.push(quoted(sql, start, QUOTE));
        i = tokens[tokens.length - 1]!.end;
        continue;
      case DQUOTE:
        tokens.push(quoted(sql, start, DQUOTE));
        i = tokens[tokens.length - 1]!.end;
        continue;
      case 0x2d /* - */:
        if (sql.charCodeAt(i + 1) === 0x2d) {
          i += 2;
          while (i < n && sql.charCodeAt(i) !== 0x0a) i++;
          continue;
        }
        break;
      case 0x2f /* / */:
        if (sql.charCodeAt(i + 1) === 0x2a) {
          const close = sql.indexOf('*/', i + 2);
          if (close < 0) throw parseError(sql, start, 'unterminated comment', 'add the closing */');
          i = close + 2;
          continue;
        }
        break;
      case 0x3a /* : */:
        {
          const d = sql.charCodeAt(i + 1);
          if (d === 0x3a) {
            tokens.push(token('op', start, i + 2, '::', '', false));
            i += 2;
            continue;
          }
          if (classOf(d) & START) {
            i += 2;
            while (i < n) {
              const e = sql.charCodeAt(i);
              if ((classOf(e) & CONT) === 0) break;
              i++;
            }
            tokens.push(token('param', start, i, sql.slice(start + 1, i), '', false));
            continue;
          }
          throw parseError(sql, start, "unexpected ':'", 'the only parameter is :sender');
        }
      default:
        break;
    }
    const op = operator(sql, i, c);
    if (op === '') throw parseError(sql, start, `unexpected character ${quote(String.fromCodePoint(sql.codePointAt(i) ?? c))}`);
    i += op.length;
    tokens.push(token('op', start, i, op, '', false));
  }
  tokens.push(token('eof', n, n, '', '', false));
  return tokens;
}

/** 1-based line and column (in UTF-16 code units) of `offset` in `sql`. */
export function lineColumn(sql: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = sql.indexOf('\n'); i >= 0 && i < offset; i = sql.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * A `PARSE_ERROR` at `offset`: `"<what> at L:C, found '<token>'"`, plus a hint after a colon.
 * `details` carries `line`, `column`, `offset`, `found` and whatever `extra` adds.
 */
export function parseError(sql: string, offset: number, what: string, hint?: string, extra?: Record<string, unknown>): SqlError {
  const { line, column } = lineColumn(sql, offset);
  const found = foundAt(sql, offset);
  const message = `${what} at ${line}:${column}, found ${found}${hint === undefined ? '' : `: ${hint}`}`;
  return new SqlError('PARSE_ERROR', message, { ...extra, line, column, offset, found });
}

/**
 * An `UNSUPPORTED` error for a construct outside the dialect, at `offset`:
 * `"<construct> is not supported by SpacetimeDB SQL (at L:C): <hint>"` unless `message` replaces
 * the part before the position. `details.construct` names the construct.
 */
export function unsupported(sql: string, offset: number, construct: string, options: { message?: string; hint?: string } = {}): SqlError {
  const { line, column } = lineColumn(sql, offset);
  const text = options.message ?? `${construct.charAt(0).toUpperCase()}${construct.slice(1)} is not supported by SpacetimeDB SQL`;
  const hint = options.hint === undefined ? '' : `: ${options.hint}`;
  return new SqlError('UNSUPPORTED', `${text} (at ${line}:${column})${hint}`, { construct, line, column, offset });
}

/** How an error message shows the text at `offset`: `'FORM'`, `"'abc'"`, or `end of input`. */
export function foundAt(sql: string, offset: number): string {
  if (offset >= sql.length) return 'end of input';
  // Show the word or symbol run that starts here, whatever its token would have been.
  let end = offset + 1;
  const first = sql.charCodeAt(offset);
  const firstCls = classOf(first);
  if (firstCls & CONT) {
    while (end < sql.length) {
      const d = sql.charCodeAt(end);
      if ((classOf(d) & CONT) === 0) break;
      end++;
    }
  } else if (first === QUOTE || first === DQUOTE) {
    const close = sql.indexOf(String.fromCharCode(first), offset + 1);
    end = close < 0 ? sql.length : close + 1;
  } else {
    const op = operator(sql, offset, first);
    if (op.length > 1) end = offset + op.length;
  }
  let text = sql.slice(offset, end);
  if (text.length > 40) text = `${text.slice(0, 37)}...`;
  return quote(text);
}

// ---------------------------------------------------------------------------------------------

const SPACE = 1;
const START = 2; // may start an identifier
const CONT = 4; // may continue an identifier
const DIGIT = 8;
const HEXDIGIT = 16;

const CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (const c of [0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]) t[c] = SPACE;
  for (let c = 0x41; c <= 0x5a; c++) t[c] = START | CONT;
  for (let c = 0x61; c <= 0x7a; c++) t[c] = START | CONT;
  for (let c = 0x30; c <= 0x39; c++) t[c] = CONT | DIGIT | HEXDIGIT;
  for (let c = 0x41; c <= 0x46; c++) t[c]! |= HEXDIGIT;
  for (let c = 0x61; c <= 0x66; c++) t[c]! |= HEXDIGIT;
  t[0x5f] = START | CONT; // _
  t[0x24] = CONT; // $
  return t;
})();

/**
 * The class bits of char code `c` (NaN past the end gives 0). Non-ASCII characters are identifier
 * characters, except Unicode spaces (a pasted no-break space separates tokens, as in sqlparser).
 */
function classOf(c: number): number {
  if (c < 128) return CLASS[c] ?? 0;
  switch (c) {
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000:
    case 0xfeff:
      return SPACE;
    default:
      if (c >= 0x2000 && c <= 0x200a) return SPACE;
  }
  return c >= 128 ? START | CONT : 0;
}

const QUOTE = 0x27;
const DQUOTE = 0x22;
const DOT = 0x2e;

function token(type: TokenType, start: number, end: number, text: string, upper: string, float: boolean): Token {
  return { type, start, end, text, upper, float };
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isHexDigit(c: number): boolean {
  return (classOf(c) & HEXDIGIT) !== 0;
}

function isIdentChar(c: number): boolean {
  return (classOf(c) & CONT) !== 0;
}

/** `'...'` or `"..."` starting at `start`, with the doubled quote as the escape. */
function quoted(sql: string, start: number, q: number): Token {
  const qs = q === QUOTE ? "'" : '"';
  let value = '';
  let from = start + 1;
  for (;;) {
    const close = sql.indexOf(qs, from);
    if (close < 0) {
      throw q === QUOTE
        ? parseError(sql, start, 'unterminated string literal', "add the closing ' (write '' for a quote inside)")
        : parseError(sql, start, 'unterminated quoted identifier', 'add the closing " (write "" for a quote inside)');
    }
    if (sql.charCodeAt(close + 1) === q) {
      value += sql.slice(from, close + 1);
      from = close + 2;
      continue;
    }
    value += sql.slice(from, close);
    if (q === DQUOTE && close === start + 1) throw parseError(sql, start, 'empty quoted identifier');
    return token(q === QUOTE ? 'string' : 'ident', start, close + 1, value, '', false);
  }
}

/** `X'ABCD'` starting at `start` (the X). */
function hexString(sql: string, start: number): Token {
  const close = sql.indexOf("'", start + 2);
  if (close < 0) throw parseError(sql, start, 'unterminated hex literal', "add the closing '");
  for (let i = start + 2; i < close; i++) {
    if (!isHexDigit(sql.charCodeAt(i))) {
      throw parseError(sql, i, 'invalid character in hex literal', "X'...' takes hex digits 0-9 A-F only");
    }
  }
  return token('hex', start, close + 1, sql.slice(start + 2, close), '', false);
}

/** `0xABCD` starting at `start` (the 0). */
function hexNumber(sql: string, start: number): Token {
  let i = start + 2;
  while (i < sql.length && isHexDigit(sql.charCodeAt(i))) i++;
  if (i === start + 2) throw parseError(sql, start, 'expected hex digits after 0x');
  if (i < sql.length && isIdentChar(sql.charCodeAt(i))) {
    throw parseError(sql, i, 'invalid character in hex literal', '0x... takes hex digits 0-9 A-F only');
  }
  return token('hex', start, i, sql.slice(start + 2, i), '', false);
}

/** `12`, `1.5`, `.5`, `1.`, `1e3`, `2.5E-3` starting at `start`. */
function number(sql: string, start: number): Token {
  const n = sql.length;
  let i = start;
  let float = false;
  while (i < n && isDigit(sql.charCodeAt(i))) i++;
  if (i < n && sql.charCodeAt(i) === DOT) {
    float = true;
    i++;
    while (i < n && isDigit(sql.charCodeAt(i))) i++;
  }
  if (i < n && (sql.charCodeAt(i) | 0x20) === 0x65 /* e */) {
    const sign = sql.charCodeAt(i + 1);
    const signed = sign === 0x2b || sign === 0x2d;
    if (isDigit(sql.charCodeAt(i + (signed ? 2 : 1)))) {
      if (sign === 0x2d) float = true;
      i += signed ? 2 : 1;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
    }
  }
  if (i < n && (isIdentChar(sql.charCodeAt(i)) || sql.charCodeAt(i) === DOT)) {
    let end = i;
    while (end < n && (isIdentChar(sql.charCodeAt(end)) || sql.charCodeAt(end) === DOT)) end++;
    throw parseError(sql, start, 'invalid number', undefined, { text: sql.slice(start, end) });
  }
  return token('number', start, i, sql.slice(start, i), '', float);
}

/** The operator at `i` (first char `c`), longest match first; '' if none. */
function operator(sql: string, i: number, c: number): string {
  const d = sql.charCodeAt(i + 1);
  switch (c) {
    case 0x3c /* < */:
      return d === 0x3d ? '<=' : d === 0x3e ? '<>' : '<';
    case 0x3e /* > */:
      return d === 0x3d ? '>=' : '>';
    case 0x21 /* ! */:
      return d === 0x3d ? '!=' : '';
    case 0x7c /* | */:
      return d === 0x7c ? '||' : '|';
    case 0x3a /* : */:
      return d === 0x3a ? '::' : '';
    case 0x3d: // =
    case 0x28: // (
    case 0x29: // )
    case 0x2c: // ,
    case 0x2e: // .
    case 0x2a: // *
    case 0x3b: // ;
    case 0x2b: // +
    case 0x2d: // -
    case 0x2f: // /
    case 0x25: // %
    case 0x5e: // ^
    case 0x26: // &
    case 0x7e: // ~
    case 0x5b: // [
    case 0x5d: // ]
      return String.fromCharCode(c);
    default:
      return '';
  }
}

function quote(text: string): string {
  return text.includes("'") ? `"${text}"` : `'${text}'`;
}
