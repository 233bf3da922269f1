// The wire format of SpacetimeDB's client protocol (v2 and v3): subprotocol negotiation, client
// frames decoded into the package's own `ClientMessage` values (checked: the package's decoder
// returns `undefined` for an unknown variant tag instead of failing), and server messages
// encoded with its `ServerMessage` serializer, except the one case its result serializer gets wrong.
import { UsageError } from '../errors.ts';
import { BinaryReader, BinaryWriter, ClientMessage, ServerMessage, type QueryRows } from './client-api.js';

export type { ClientMessage, ServerMessage };

/**
 * A server message as the encoder takes it. The package types `OneOffQueryResult.result` as the
 * bare union of its two sides; at run time it is `{ ok } | { err }`, which this says.
 */
export type OutgoingMessage = Exclude<ServerMessage, { tag: 'OneOffQueryResult' }> | { tag: 'OneOffQueryResult'; value: { requestId: number; result: { ok: QueryRows } | { err: string } } };

/** v3: several messages back to back in one frame (preferred). */
export const V3_PROTOCOL = 'v3.bsatn.spacetimedb';
/** v2: one message per frame. */
export const V2_PROTOCOL = 'v2.bsatn.spacetimedb';
export type WireProtocol = typeof V3_PROTOCOL | typeof V2_PROTOCOL;

/** Compression tags, the first byte of a server frame on a tagged (WebSocket) transport. */
export const COMPRESSION_TAG = { none: 0, brotli: 1, gzip: 2 } as const;

/** The subprotocol to speak given the client's offer (v3 when offered, else v2), or undefined. */
export function negotiateProtocol(offered: readonly string[]): WireProtocol | undefined {
  if (offered.includes(V3_PROTOCOL)) return V3_PROTOCOL;
  if (offered.includes(V2_PROTOCOL)) return V2_PROTOCOL;
  return undefined;
}

const VARIANTS = new Set(['Subscribe', 'Unsubscribe', 'OneOffQuery', 'CallReducer', 'CallProcedure']);

/**
 * Decodes one client frame: exactly one message (v2) or one or more back to back (v3). Throws
 * UsageError MALFORMED_MESSAGE, naming the offset, for anything else; nothing of a malformed
 * frame is to be acted on.
 */
export function decodeClientFrame(protocol: WireProtocol, frame: Uint8Array): ClientMessage[] {
  if (frame.length === 0) throw malformed('the frame is empty');
  const reader = new BinaryReader(frame);
  const out: ClientMessage[] = [];
  while (reader.remaining > 0) {
    if (protocol === V2_PROTOCOL && out.length === 1) throw malformed(`${reader.remaining} byte(s) follow the message (v2 carries one message per frame)`);
    const at = reader.offset;
    let m: ClientMessage | undefined;
    try {
      m = ClientMessage.deserialize(reader) as ClientMessage | undefined;
    } catch (e) {
      // The package's decoders throw RangeError, or a bare string for a bad option tag.
      throw malformed(`the message at byte ${at} does not decode: ${e instanceof Error ? e.message : String(e)}`);
    }
    const problem = checkMessage(m, frame[at]!);
    if (problem) throw malformed(`the message at byte ${at} ${problem}`);
    out.push(m!);
  }
  return out;
}

/** Why a decoded value is not a well-formed client message, or undefined when it is. */
function checkMessage(m: ClientMessage | undefined, tag: number): string | undefined {
  if (!m || typeof m !== 'object' || !VARIANTS.has(m.tag)) return `has the unknown message tag ${tag} (known: 0-4)`;
  if (m.tag === 'Unsubscribe' && (m.value.flags === undefined || (m.value.flags.tag !== 'Default' && m.value.flags.tag !== 'SendDroppedRows'))) {
    return 'has an unknown unsubscribe flag (known: 0 Default, 1 SendDroppedRows)';
  }
  return undefined;
}

function malformed(why: string): UsageError {
  return new UsageError('MALFORMED_MESSAGE', `malformed client message: ${why}`);
}

const writer = new BinaryWriter(1024);

/** The BSATN of one server message (a fresh copy). */
export function encodeServerMessage(msg: OutgoingMessage): Uint8Array {
  writer.clear();
  if (msg.tag === 'OneOffQueryResult' && 'err' in msg.value.result) {
    // The package's result serializer writes the `err` payload with the `ok` type: hand-encode it.
    writer.writeU8(MESSAGE_TAG.OneOffQueryResult);
    writer.writeU32(msg.value.requestId);
    writer.writeU8(1);
    writer.writeString(msg.value.result.err);
  } else {
    ServerMessage.serialize(writer, msg as ServerMessage);
  }
  return writer.getBuffer().slice();
}

const MESSAGE_TAG = { OneOffQueryResult: 5 } as const;

/** `bsatn(String)`: how a reducer's SenderError message travels in `ReducerOutcome.Err`. */
export function encodeString(s: string): Uint8Array {
  writer.clear();
  writer.writeString(s);
  return writer.getBuffer().slice();
}

/**
 * Frames server messages for the transport: one frame per message (v2) or all in one (v3),
 * each frame starting with the compression tag when `tagged`. `compress` (tagged only) is applied
 * to payloads over 1 KiB, as SpacetimeDB does.
 */
export function frameServerMessages(protocol: WireProtocol, messages: readonly Uint8Array[], tagged: boolean, compress?: { tag: 1 | 2; compress: (payload: Uint8Array) => Uint8Array }): Uint8Array[] {
  const payloads = protocol === V3_PROTOCOL && messages.length > 1 ? [concat(messages)] : messages;
  if (!tagged) return [...payloads];
  return payloads.map((p) => {
    if (compress && p.length > COMPRESS_ABOVE) return prefixed(compress.tag, compress.compress(p));
    return prefixed(COMPRESSION_TAG.none, p);
  });
}

const COMPRESS_ABOVE = 1024;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function prefixed(tag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = tag;
  out.set(payload, 1);
  return out;
}
