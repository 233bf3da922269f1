// What crosses the worker boundary besides plain structured clone: errors keep their class
// (Comlink's 'throw' transfer handler, replaced in both realms), and the module library's value
// classes (Identity, Timestamp, …), which structured clone turns into plain objects, are rebuilt.
import * as Comlink from 'comlink';
import { ConnectionId, Identity, TimeDuration, Timestamp, Uuid } from 'spacetimedb';
import { errorFromJSON, LightconeError, type SerializedError } from '../errors.ts';

type Thrown = { value: unknown };
export type WireError = { lightcone: SerializedError } | { error: { name: string; message: string; stack: string | undefined } } | { raw: unknown };

/**
 * Replaces Comlink's 'throw' handler so that a `LightconeError` thrown in the worker is rethrown
 * in the client as the same class with the same code and details; other errors keep name and
 * message. Call it in both realms, before the first call. Idempotent.
 */
export function installTransferHandlers(): void {
  const handler: Comlink.TransferHandler<Thrown, WireError> = {
    canHandle: (value): value is Thrown => stockThrow.canHandle(value),
    serialize({ value }) {
      return [serializeError(value), []];
    },
    deserialize(wire) {
      throw deserializeError(wire);
    },
  };
  Comlink.transferHandlers.set('throw', handler);
}

// Comlink marks thrown values with a private symbol; its stock handler is the one that knows it
// (captured when this file loads, before any replacement).
const stockThrow: Comlink.TransferHandler<unknown, unknown> = Comlink.transferHandlers.get('throw')!;

/** The wire form of any thrown value. */
export function serializeError(value: unknown): WireError {
  if (value instanceof LightconeError) return { lightcone: cloneable(value.toJSON()) };
  if (value instanceof Error) return { error: { name: value.name, message: value.message, stack: value.stack } };
  try {
    return { raw: structuredClone(value) };
  } catch {
    return { error: { name: 'Error', message: String(value), stack: undefined } };
  }
}

/** Any error as the plain form `errorFromJSON` rebuilds (what a subscription sink's `error` takes). */
export function toSerialized(error: unknown): SerializedError {
  const wire = serializeError(error);
  if ('lightcone' in wire) return wire.lightcone;
  if ('error' in wire) return { name: wire.error.name, code: 'ERROR', message: wire.error.message, details: {} };
  return { name: 'Error', code: 'ERROR', message: String(wire.raw), details: {} };
}

/** Rebuilds a thrown value from its wire form. */
export function deserializeError(wire: WireError): unknown {
  if ('lightcone' in wire) return errorFromJSON(wire.lightcone);
  if ('error' in wire) {
    const e = new Error(wire.error.message);
    Object.defineProperty(e, 'name', { value: wire.error.name, configurable: true });
    if (wire.error.stack !== undefined) e.stack = wire.error.stack;
    return e;
  }
  return wire.raw;
}

/** Details may hold anything; keep what structured clone can carry, stringify the rest. */
function cloneable(e: SerializedError): SerializedError {
  try {
    structuredClone(e.details);
    return e;
  } catch {
    const details: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e.details)) {
      try {
        details[k] = structuredClone(v);
      } catch {
        details[k] = String(v);
      }
    }
    return { ...e, details };
  }
}

/**
 * Rebuilds the module library's value classes in a value that crossed a structured clone: a plain
 * object whose only key is `__identity__` becomes an `Identity`, and so on for `ConnectionId`,
 * `Timestamp`, `TimeDuration` and `Uuid`. Arrays and plain objects are walked; returns `value`
 * itself (mutated in place) so rows are not copied.
 */
export function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = revive(value[i]);
    return value;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value; // already a class instance
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const key = keys[0]!;
    const v = obj[key];
    if (typeof v === 'bigint') {
      switch (key) {
        case '__identity__':
          return new Identity(v);
        case '__connection_id__':
          return new ConnectionId(v);
        case '__timestamp_micros_since_unix_epoch__':
          return new Timestamp(v);
        case '__time_duration_micros__':
          return new TimeDuration(v);
        case '__uuid__':
          return new Uuid(v);
      }
    }
  }
  for (const key of keys) obj[key] = revive(obj[key]);
  return obj;
}
