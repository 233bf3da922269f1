// Presents decoded values: as JSON-safe values (for `--json` and the wire) and as table cells the
// way `spacetime sql` prints them (strings quoted, identities as hex, timestamps as ISO text).
import { stringify } from 'lossless-json';
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';

/** A JSON-safe rendering: bigints stay exact (see `stringifyJson`), identities hex, times ISO. */
export function toJsonValue(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof Uint8Array) return `0x${hex(v)}`;
  if (Array.isArray(v)) return v.map(toJsonValue);
  const special = specialToString(v);
  if (special !== undefined) return special;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.tag === 'string' && Object.keys(o).length <= 2 && 'value' in o) {
      const inner = o.value;
      const unit = inner && typeof inner === 'object' && !Array.isArray(inner) && Object.keys(inner).length === 0;
      return unit ? o.tag : { [o.tag]: toJsonValue(inner) };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return String(v);
}

function specialToString(v: unknown): string | undefined {
  if (v instanceof Identity) return `0x${v.toHexString()}`;
  if (v instanceof ConnectionId) return `0x${v.toHexString()}`;
  if (v instanceof Timestamp) return timestampText(v.microsSinceUnixEpoch);
  if (v instanceof TimeDuration) return `${v.micros}µs`;
  if (v instanceof Uuid) return v.toString();
  // Values decoded by a module's own copy of the classes: recognise them by shape.
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.__identity__ === 'bigint') return `0x${o.__identity__.toString(16).padStart(64, '0')}`;
    if (typeof o.__connection_id__ === 'bigint') return `0x${o.__connection_id__.toString(16).padStart(32, '0')}`;
    if (typeof o.__timestamp_micros_since_unix_epoch__ === 'bigint') return timestampText(o.__timestamp_micros_since_unix_epoch__);
    if (typeof o.__time_duration_micros__ === 'bigint') return `${o.__time_duration_micros__}µs`;
    if (typeof o.__uuid__ === 'bigint') return new Uuid(o.__uuid__).toString();
  }
  return undefined;
}

/** JSON text of `toJsonValue(v)` with bigints written as exact JSON numbers (lossless-json writes them). */
export function stringifyJson(v: unknown, indent?: number): string {
  return stringify(toJsonValue(v), null, indent) ?? 'null';
}

/** One table cell as `spacetime sql` shows it. */
export function formatCell(v: unknown): string {
  if (v === undefined || v === null) return '(none)';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  const special = specialToString(v);
  if (special !== undefined) return special;
  return stringifyJson(v);
}

/** A query result as `lightcone sql` prints it: the table of rows (if any columns), then the DML message. */
export function formatSqlResult(res: { columns: string[]; rows: Record<string, unknown>[]; message?: string }): string {
  const parts: string[] = [];
  if (res.columns.length > 0)
    parts.push(
      formatTable(
        res.columns,
        res.rows.map((r) => res.columns.map((c) => r[c])),
      ),
    );
  if (res.message) parts.push(res.message);
  return parts.map((p) => `${p}\n`).join('');
}

/** Renders rows as an aligned text table with a header, like `spacetime sql`. */
export function formatTable(columns: string[], rows: unknown[][]): string {
  const cells = rows.map((r) => r.map(formatCell));
  // A loop, not Math.max(...cells): spreading one argument per row overflows the stack at ~125k rows.
  const widths = columns.map((c) => c.length);
  for (const r of cells) {
    for (let i = 0; i < widths.length; i++) {
      const n = (r[i] ?? '').length;
      if (n > widths[i]!) widths[i] = n;
    }
  }
  const line = (parts: string[]) => ` ${parts.map((p, i) => p.padEnd(widths[i]!)).join(' | ')} `;
  const out = [line(columns), widths.map((w) => '-'.repeat(w + 2)).join('+')];
  for (const r of cells) out.push(line(r));
  return out.join('\n').replace(/ +$/gm, '');
}

const MICROS_PER_DAY = 86_400_000_000n;

/**
 * A Timestamp as ISO 8601 text with microseconds (`2025-02-17T10:30:45.123456Z`; years outside
 * 0..9999 as `+YYYYYY`/`-YYYYYY`, as `Date#toISOString` writes them). Computed from the bigint,
 * because i64 microseconds reach years ±290,000 while `Date` (and so the package's
 * `toISOString`) stops at ±275,760 and throws beyond.
 */
export function timestampText(micros: bigint): string {
  let days = micros / MICROS_PER_DAY;
  let inDay = micros % MICROS_PER_DAY;
  if (inDay < 0n) {
    inDay += MICROS_PER_DAY;
    days -= 1n;
  }
  const [y, m, d] = civilDate(Number(days));
  const us = Number(inDay); // < 8.64e10: exact as a double
  const secs = Math.floor(us / 1e6);
  const year = y >= 0 && y <= 9999 ? pad(y, 4) : `${y < 0 ? '-' : '+'}${pad(Math.abs(y), 6)}`;
  return `${year}-${pad(m, 2)}-${pad(d, 2)}T${pad(Math.floor(secs / 3600), 2)}:${pad(Math.floor(secs / 60) % 60, 2)}:${pad(secs % 60, 2)}.${pad(us % 1e6, 6)}Z`;
}

/**
 * Proleptic Gregorian [year, month, day] of a day count from 1970-01-01. Counts from 0000-03-01
 * in 400-year eras (146,097 days each), with years starting in March so that the leap day
 * falls at the end of a year.
 */
function civilDate(daysSinceEpoch: number): [number, number, number] {
  const z = daysSinceEpoch + 719_468; // days from 0000-03-01 to 1970-01-01
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const marchMonth = Math.floor((5 * dayOfYear + 2) / 153); // 0 = March … 11 = February
  const day = dayOfYear - Math.floor((153 * marchMonth + 2) / 5) + 1;
  const month = marchMonth < 10 ? marchMonth + 3 : marchMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return [year, month, day];
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
