// Share links: the session document in the URL's hash, compressed (CompressionStream
// 'deflate-raw') and written in base64url, as `#session=<data>`. The hash never reaches a server,
// so a link carries the module and its calls to whoever opens it, and the playground there
// replays them. Reading a link checks everything before anything changes (SessionError BAD_LINK,
// TOO_LARGE, or the document's own errors).
import { MAX_DOCUMENT_CHARS, readDocument, writeDocument, type SessionDocument } from './document.ts';
import { SessionError } from './errors.ts';

/** The hash parameter that carries a session. */
export const SHARE_PARAM = 'session';

/** `#session=<data>` for `doc`. */
export async function shareHash(doc: SessionDocument): Promise<string> {
  const packed = await deflate(new TextEncoder().encode(JSON.stringify(doc)));
  return `#${SHARE_PARAM}=${toBase64Url(packed)}`;
}

/** The share link: `base` (the playground's address, any hash dropped) with the session in its hash. */
export async function shareUrl(base: string, doc: SessionDocument): Promise<string> {
  const url = new URL(base);
  url.hash = '';
  return `${url.toString().replace(/#$/, '')}${await shareHash(doc)}`;
}

/** Whether `hash` (location.hash) carries a session. */
export function hasSharedSession(hash: string): boolean {
  return sessionParam(hash) !== undefined;
}

/**
 * The session a hash carries (undefined when it carries none). Throws SessionError BAD_LINK when
 * the data cannot be read, TOO_LARGE, or what `readDocument` throws.
 */
export async function readShareHash(hash: string): Promise<SessionDocument | undefined> {
  const data = sessionParam(hash);
  if (data === undefined) return undefined;
  const packed = fromBase64Url(data);
  const bytes = await inflate(packed);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw badLink('its data is not text once unpacked');
  }
  return readDocument(text, 'the share link');
}

/** The document as the file `Export session` saves (pretty JSON). */
export { writeDocument };

function sessionParam(hash: string): string | undefined {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  for (const part of h.split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq) === SHARE_PARAM) return part.slice(eq + 1);
  }
  return undefined;
}

function badLink(why: string): SessionError {
  return new SessionError('BAD_LINK', `the share link is damaged (${why}): it was probably cut short when copied. Ask for the link again, or for the exported session file. Nothing was changed here.`);
}

async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('deflate-raw'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Inflates, stopping (TOO_LARGE) once the output passes what a session may hold. */
async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const limit = MAX_DOCUMENT_CHARS * 3; // UTF-8 bytes of at most that many characters
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('deflate-raw')).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new SessionError('TOO_LARGE', `the share link unpacks to more than ${limit} bytes, more than a session may hold`);
      }
      chunks.push(value);
    }
  } catch (e) {
    if (e instanceof SessionError) throw e;
    throw badLink('its data does not unpack');
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function toBase64Url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = i + 2 < bytes.length ? 4 : i + 1 < bytes.length ? 3 : 2;
    for (let j = 0; j < chars; j++) out += ALPHABET[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

function fromBase64Url(text: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(clean) || clean.length % 4 === 1) throw badLink('it holds characters or a length that base64url does not');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of clean) {
    value = (value << 6) | ALPHABET.indexOf(c);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (value >> bits) & 255;
    }
  }
  return out;
}
