// Reads SATS-JSON, the JSON of SpacetimeDB's HTTP API, back into the package's own values: the
// inverse of the server's writers (src/server/sats-json.ts), for the CLI's `--server` mode. Typed
// (`/schema`): a product is an object keyed by snake_case field name, a sum `{"Variant": payload}`.
// Untyped (`/sql` rows, a procedure's return value): a product is an array of its fields in
// order, a sum `[tag, payload]`. In both, a unit is `[]`, an option a value or undefined, integers
// of 64 bits and more bigints (256-bit ones from "0x…" text), bytes a Uint8Array from hex, and
// Identity, ConnectionId, Timestamp, TimeDuration and Uuid the package's classes, so a value reads
// back exactly as the embedded database hands it over.
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid, type AlgebraicType as Ty } from 'spacetimedb';
import { specialName, typeName } from '../datastore/columns.ts';
import { LightconeError } from '../errors.ts';
import { resolveType, snakeCase } from '../host/module-def.ts';
import { showValue } from '../host/values.ts';

/** The types a value's Refs point into (a module's typespace). */
export interface Typespace {
  types: Ty[];
}

const SPECIAL: Record<string, (b: bigint) => unknown> = {
  Identity: (b) => new Identity(b),
  ConnectionId: (b) => new ConnectionId(b),
  Timestamp: (b) => new Timestamp(b),
  TimeDuration: (b) => new TimeDuration(b),
  Uuid: (b) => new Uuid(b),
};

/**
 * `json` (parsed with `parseExactJson`, so big integers arrive as bigints) of type `ty` as the
 * package's value. Throws LightconeError BAD_RESPONSE when it does not have the type's shape.
 */
export function readSatsJson(json: unknown, ty0: Ty, ts: Typespace, typed: boolean): unknown {
  const ty = resolveType(ty0, ts);
  const bad = (): LightconeError =>
    new LightconeError('BAD_RESPONSE', `the server sent ${showValue(json)} where a ${typeName(ty, ts)} belongs: is it a Lightcone or SpacetimeDB server of this version?`);
  switch (ty.tag) {
    case 'Bool':
    case 'String':
      if (typeof json !== (ty.tag === 'Bool' ? 'boolean' : 'string')) throw bad();
      return json;
    case 'F32':
    case 'F64':
      if (json === null) return Number.NaN; // how the writer sends NaN and the infinities
      if (typeof json !== 'number' && typeof json !== 'bigint') throw bad();
      return ty.tag === 'F32' ? Math.fround(Number(json)) : Number(json); // an f32 is sent with its shortest digits
    case 'I256':
    case 'U256':
      if (typeof json === 'string' && /^-?0x[0-9a-f]+$/i.test(json)) return json.startsWith('-') ? -BigInt(json.slice(1)) : BigInt(json);
      if (typeof json !== 'number' && typeof json !== 'bigint') throw bad();
      return BigInt(json);
    case 'Array': {
      if (resolveType(ty.value, ts).tag === 'U8' && typeof json === 'string') {
        if (!/^([0-9a-f]{2})*$/i.test(json)) throw bad();
        return Uint8Array.from(json.match(/../g) ?? [], (h) => Number.parseInt(h, 16));
      }
      if (!Array.isArray(json)) throw bad();
      return json.map((x) => readSatsJson(x, ty.value, ts, typed));
    }
    case 'Product': {
      const out: Record<string, unknown> = {};
      const els = ty.value.elements;
      if (els.length === 0) return out;
      if (typed ? json === null || typeof json !== 'object' || Array.isArray(json) : !Array.isArray(json) || json.length !== els.length) throw bad();
      els.forEach((e, i) => {
        const name = e.name ?? String(i);
        const o = json as Record<string, unknown>;
        out[name] = readSatsJson(typed ? (snakeCase(name) in o ? o[snakeCase(name)] : o[name]) : (json as unknown[])[i], e.algebraicType, ts, typed);
      });
      const special = SPECIAL[specialName(ty) ?? ''];
      return special ? special(Object.values(out)[0] as bigint) : out;
    }
    case 'Sum': {
      let index: number;
      let payload: unknown;
      if (typed && json !== null && typeof json === 'object' && !Array.isArray(json) && Object.keys(json).length === 1) {
        const name = Object.keys(json)[0]!;
        index = ty.value.variants.findIndex((v) => v.name === name);
        payload = (json as Record<string, unknown>)[name];
      } else if (!typed && Array.isArray(json) && json.length === 2) {
        index = Number(json[0]);
        payload = json[1];
      } else {
        throw bad();
      }
      const variant = ty.value.variants[index];
      if (!variant) throw bad();
      const value = readSatsJson(payload, variant.algebraicType, ts, typed);
      const vs = ty.value.variants;
      if (vs.length === 2 && vs[0]!.name === 'some' && vs[1]!.name === 'none') return index === 0 ? value : undefined;
      return { tag: variant.name, value };
    }
    default:
      if (typeof json !== 'number' && typeof json !== 'bigint') throw bad();
      return /^[IU](8|16|32)$/.test(ty.tag) ? Number(json) : BigInt(json);
  }
}
