// Temporary until sats-json.ts lands.
import { stringifyJson, toJsonValue } from '../sql/format.ts';
import type { SqlResult } from '../sql/execute.ts';
export function schemaJson(describe: Uint8Array, version: 9 | 10): string {
  return JSON.stringify({ version, bytes: describe.length });
}
export function sqlHttpResponse(results: { result: SqlResult; micros: number }[]): string {
  return stringifyJson(
    results.map(({ result, micros }) => ({
      schema: { elements: result.columns.map((c) => ({ name: { some: c } })) },
      rows: result.rows.map((r) => result.columns.map((c) => toJsonValue(r[c]))),
      total_duration_micros: micros,
      stats: { rows_inserted: 0, rows_deleted: 0, rows_updated: 0 },
    })),
  );
}
