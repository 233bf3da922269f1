// The HTTP routes of `lightcone start`, with SpacetimeDB's paths, status codes and JSON shapes:
// identities, publish and pre-publish, calls, SQL, schema, logs, delete, and the module's own HTTP
// handlers. Errors answer as text `<Class> <CODE>: <what to do>` with the status SpacetimeDB uses;
// a call a module refused answers 530 with the module's message, as SpacetimeDB does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Identity } from 'spacetimedb';
import { LightconeError, UsageError } from '../errors.ts';
import type { ThreadDatabase } from '../node/engine-thread.ts';
import { AuthError, type Caller } from './auth.ts';
import { PermissionError } from './databases.ts';
import { errorResponse, sendText, withoutSignature, type ServerContext } from './server.ts';
import { schemaJson, sqlHttpResponse } from './sats-json.ts';

const CORS: Record<string, string> = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'spacetime-identity, spacetime-identity-token, spacetime-execution-duration-micros, spacetime-energy-used',
};

const PREFLIGHT: Record<string, string> = {
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
  'access-control-allow-headers': 'authorization, accept, content-type',
  'access-control-max-age': '86400',
};

/** Too large a request body (413). */
class BodyTooLarge extends Error {}

type Handler = (ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, params: string[]) => Promise<void>;

const ROUTES: [method: string, path: RegExp, handler: Handler][] = [
  ['GET', /^\/v1\/ping$/, async (_c, _q, res) => send(res, 200, '')],
  ['GET', /^\/v1\/lightcone$/, features],
  ['POST', /^\/v1\/identity$/, newIdentity],
  ['POST', /^\/v1\/identity\/websocket-token$/, websocketToken],
  ['GET', /^\/v1\/identity\/public-key$/, async (c, _q, res) => send(res, 200, await c.auth.publicKeyPem(), { 'content-type': 'application/pem-certificate-chain' })],
  ['GET', /^\/v1\/identity\/([^/]+)\/verify$/, verifyIdentity],
  ['GET', /^\/v1\/identity\/([^/]+)\/databases$/, identityDatabases],
  ['POST', /^\/v1\/database$/, publish],
  ['PUT', /^\/v1\/database\/([^/]+)$/, publish],
  ['POST', /^\/v1\/database\/([^/]+)\/pre_publish$/, prePublish],
  ['GET', /^\/v1\/database\/([^/]+)$/, databaseInfo],
  ['DELETE', /^\/v1\/database\/([^/]+)$/, deleteDatabase],
  ['GET', /^\/v1\/database\/([^/]+)\/identity$/, databaseIdentity],
  ['GET', /^\/v1\/database\/([^/]+)\/names$/, databaseNames],
  ['POST', /^\/v1\/database\/([^/]+)\/call\/([^/]+)$/, call],
  ['POST', /^\/v1\/database\/([^/]+)\/sql$/, sql],
  ['GET', /^\/v1\/database\/([^/]+)\/schema$/, schema],
  ['GET', /^\/v1\/database\/([^/]+)\/logs$/, logs],
  ['*', /^\/v1\/database\/([^/]+)\/route(\/.*)?$/, moduleRoute],
];

/** Answers one request. */
export async function routeHttp(ctx: ServerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  if (method === 'OPTIONS') return send(res, 200, '', PREFLIGHT);
  let allowed: string[] = [];
  for (const [m, path, handler] of ROUTES) {
    const match = path.exec(url.pathname);
    if (!match) continue;
    if (m !== method && m !== '*') {
      allowed.push(m);
      continue;
    }
    try {
      const params = match.slice(1).map((p) => (p === undefined ? '' : decodeURIComponent(p)));
      // A database is named by its name or its identity, as SpacetimeDB allows.
      if (url.pathname.startsWith('/v1/database/') && params[0]) params[0] = await ctx.databases.nameOf(params[0]);
      return await handler(ctx, req, res, url, params);
    } catch (e) {
      if (res.headersSent) throw e;
      if (e instanceof BodyTooLarge) return sendText(res, 413, `UsageError BODY_TOO_LARGE: ${e.message}`, { connection: 'close' });
      const { status, text } = errorResponse(e);
      return sendText(res, status, text);
    }
  }
  if (/^\/v1\/database\/[^/]+\/subscribe\/?$/.test(url.pathname))
    return sendText(res, 426, 'UsageError UPGRADE_REQUIRED: /subscribe is a WebSocket: connect with a WebSocket client (the SpacetimeDB SDK)');
  if (allowed.length > 0) {
    allowed = [...new Set(allowed)];
    return sendText(res, 405, `UsageError METHOD_NOT_ALLOWED: ${method} ${url.pathname} is not served; use ${allowed.join(' or ')}`, { allow: allowed.join(', ') });
  }
  return sendText(res, 404, `UsageError NOT_FOUND: ${method} ${url.pathname} is not a route of this server (SpacetimeDB's API lives under /v1)`);
}

function send(res: ServerResponse, status: number, body: string | Uint8Array, headers: Record<string, string> = {}): void {
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
  send(res, status, json, { 'content-type': 'application/json', ...headers });
}

/** The request's body, refused past the server's limit. */
async function readBody(ctx: ServerContext, req: IncomingMessage): Promise<Buffer> {
  const max = ctx.maxBodyBytes;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new BodyTooLarge(`the body has ${declared} bytes, more than this server takes (${max}; \`lightcone start --max-body <bytes>\`)`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new BodyTooLarge(`the body has more than ${max} bytes, more than this server takes (\`lightcone start --max-body <bytes>\`)`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The caller, minted when the request has no credentials; the identity headers go on the response. */
async function callerOf(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<Caller> {
  const caller = (await ctx.auth.caller(req, url, true))!;
  res.setHeader('spacetime-identity', caller.identity.toHexString());
  res.setHeader('spacetime-identity-token', caller.token);
  return caller;
}

async function existing(ctx: ServerContext, name: string): Promise<ThreadDatabase> {
  const db = await ctx.databases.get(name);
  if (!db)
    throw new UsageError('UNKNOWN_DATABASE', `no database named ${name} on this server: publish it first (\`lightcone publish --server <url> --module-path <module> ${name}\`)`, { database: name });
  return db;
}

function mustOwn(ctx: ServerContext, name: string, caller: Caller, what: string): void {
  const owner = ctx.databases.owner(name);
  if (owner === undefined) throw new UsageError('UNKNOWN_DATABASE', `no database named ${name} on this server`, { database: name });
  if (owner !== caller.identity.toHexString()) throw new PermissionError(`only the owner of database ${name} may ${what}: send the owner's token (Authorization: Bearer <token>)`);
}

/**
 * What this server offers Lightcone clients beyond SpacetimeDB's API (SpacetimeDB answers 404):
 * `callIds`, reducer calls with ids committed once (CallReducer flags 0x80, see connection.ts).
 */
async function features(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!ctx.callIds) return sendText(res, 404, 'UsageError NOT_FOUND: GET /v1/lightcone is not a route of this server');
  sendJson(res, 200, JSON.stringify({ server: 'lightcone', callIds: true }));
}

// ── identities ──────────────────────────────────────────────────────────────

async function newIdentity(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const c = await ctx.auth.mint();
  sendJson(res, 200, JSON.stringify({ identity: c.identity.toHexString(), token: c.token }));
}

async function websocketToken(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const caller = await ctx.auth.caller(req, url, false);
  if (!caller) return sendText(res, 401, 'Authorization required');
  sendJson(res, 200, JSON.stringify({ token: await ctx.auth.websocketToken(caller.identity) }));
}

async function verifyIdentity(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [id]: string[]): Promise<void> {
  const caller = await ctx.auth.caller(req, url, false);
  if (!caller) return sendText(res, 401, 'Authorization required');
  let claimed: Identity | undefined;
  try {
    claimed = Identity.fromString(id!.replace(/^0x/i, ''));
  } catch {
    claimed = undefined;
  }
  send(res, claimed?.isEqual(caller.identity) ? 204 : 400, '');
}

async function identityDatabases(ctx: ServerContext, _req: IncomingMessage, res: ServerResponse, _url: URL, [id]: string[]): Promise<void> {
  const hex = id!.toLowerCase().replace(/^0x/, '');
  const owned = (await ctx.databases.list()).filter((d) => d.owner === hex && d.identity !== undefined).map((d) => d.identity!);
  sendJson(res, 200, JSON.stringify({ identities: owned }));
}

// ── publish ─────────────────────────────────────────────────────────────────

function checkHostType(url: URL): void {
  const t = url.searchParams.get('host_type');
  if (t !== null && t !== 'Js') {
    throw new UsageError('UNSUPPORTED_OPTION', `host_type=${t} is not served: this server runs JavaScript modules only (host_type=Js)`, { option: 'host_type', value: t });
  }
}

async function publish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, params: string[]): Promise<void> {
  checkHostType(url);
  const caller = await callerOf(ctx, req, res, url);
  const name = params[0] ?? `db-${randomBytes(6).toString('hex')}`;
  const code = await ctx.prepareBundle((await readBody(ctx, req)).toString('utf8'));
  try {
    const { op, db } = await ctx.databases.publish(name, code, caller.identity.toHexString(), url.searchParams.get('clear') === 'true');
    ctx.log(`${op === 'created' ? 'created' : op === 'updated' ? 'updated' : 'republished unchanged'} database ${name}`);
    sendJson(res, 200, JSON.stringify({ Success: { domain: params[0] ?? null, database_identity: db.identity.toHexString(), op } }));
  } catch (e) {
    if (e instanceof PermissionError) return sendJson(res, 403, JSON.stringify({ PermissionDenied: { name } }));
    if (e instanceof LightconeError && e.name === 'ModuleError') return sendText(res, 400, `Database update rejected: ModuleError ${e.code}: ${e.message}`);
    throw e;
  }
}

async function prePublish(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  checkHostType(url);
  const caller = await callerOf(ctx, req, res, url);
  // Checking a module runs its top-level code in the database's thread: only its owner may.
  if (ctx.databases.owner(name!) !== undefined) mustOwn(ctx, name!, caller, 'check a module against it (pre_publish)');
  const code = await ctx.prepareBundle((await readBody(ctx, req)).toString('utf8'));
  const plan = await ctx.databases.prePublish(name!, code);
  if (plan.kind === 'new') return sendText(res, 404, `UsageError UNKNOWN_DATABASE: no database named ${name}: publishing creates it`);
  if (plan.kind === 'manual') return sendJson(res, 200, JSON.stringify({ ManualMigrate: { reason: plan.reason, major_version_upgrade: false } }));
  const text = plan.changes.length > 0 ? plan.changes.map((c) => `- ${c}`).join('\n') : '- no changes';
  sendJson(res, 200, JSON.stringify({ AutoMigrate: { migrate_plan: text, break_clients: plan.breakClients, token: randomBytes(16).toString('hex'), major_version_upgrade: false } }));
}

// ── database information ────────────────────────────────────────────────────

async function databaseInfo(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  await callerOf(ctx, req, res, url);
  const db = await existing(ctx, name!);
  const body = { database_identity: { __identity__: `0x${db.identity.toHexString()}` }, owner_identity: { __identity__: `0x${db.owner.toHexString()}` }, host_type: { Js: [] }, initial_program: '' };
  sendJson(res, 200, JSON.stringify(body));
}

async function databaseIdentity(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  await callerOf(ctx, req, res, url);
  send(res, 200, (await existing(ctx, name!)).identity.toHexString());
}

async function databaseNames(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  await callerOf(ctx, req, res, url);
  await existing(ctx, name!);
  sendJson(res, 200, JSON.stringify({ names: [name] }));
}

async function deleteDatabase(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  const caller = await callerOf(ctx, req, res, url);
  if (await ctx.databases.delete(name!, caller.identity.toHexString())) ctx.log(`deleted database ${name}`);
  send(res, 200, '');
}

// ── calls and SQL ───────────────────────────────────────────────────────────

async function call(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name, fn]: string[]): Promise<void> {
  const caller = await callerOf(ctx, req, res, url);
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return sendText(res, 400, 'Expected request with `Content-Type: application/json`');
  const body = (await readBody(ctx, req)).toString('utf8');
  const db = await existing(ctx, name!);
  const started = performance.now();
  let out: { kind: 'reducer' | 'procedure'; json?: string };
  try {
    // The claims only: a module must never see a credential it could use against other databases.
    out = await db.server.clientCall(fn!, body.trim() === '' ? '[]' : body, caller.identity.toHexString(), withoutSignature(caller.token));
  } catch (e) {
    const timing = durationHeaders(started);
    if (e instanceof LightconeError && (e.name === 'SenderError' || e.name === 'InternalError')) return sendText(res, 530, e.message, timing);
    throw e;
  }
  const timing = durationHeaders(started);
  if (out.kind === 'procedure') return sendJson(res, 200, out.json ?? 'null', timing);
  send(res, 200, '', timing);
}

function durationHeaders(started: number): Record<string, string> {
  return { 'spacetime-execution-duration-micros': String(Math.round((performance.now() - started) * 1000)), 'spacetime-energy-used': '0' };
}

async function sql(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  const caller = await callerOf(ctx, req, res, url);
  const text = (await readBody(ctx, req)).toString('utf8');
  const db = await existing(ctx, name!);
  const statements = splitStatements(text);
  if (statements.length === 0) throw new UsageError('BAD_USAGE', 'the body holds no SQL statement: send the query as the request body');
  const started = performance.now();
  const results = [];
  for (const statement of statements) results.push(await db.query(statement, { sender: caller.identity.toHexString() }));
  const timing = durationHeaders(started);
  sendJson(res, 200, sqlHttpResponse(results, Number(timing['spacetime-execution-duration-micros'])), timing);
}

/** Statements separated by `;` (outside quotes). */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
    } else if (ch === ';') {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim()).filter((s) => s.length > 0);
}

async function schema(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  await callerOf(ctx, req, res, url);
  const version = url.searchParams.get('version') ?? '9';
  if (version !== '9' && version !== '10') throw new UsageError('BAD_OPTION', `schema version ${version} is not served: ask for version=9 or version=10`, { option: 'version', value: version });
  const db = await existing(ctx, name!);
  sendJson(res, 200, schemaJson(await db.server.moduleDef(), Number(version) as 9 | 10));
}

// ── logs ────────────────────────────────────────────────────────────────────

const LEVEL: Record<string, string> = { error: 'Error', warn: 'Warn', info: 'Info', debug: 'Debug', trace: 'Trace', panic: 'Panic' };

async function logs(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  const caller = await callerOf(ctx, req, res, url);
  mustOwn(ctx, name!, caller, 'read its logs');
  const db = await existing(ctx, name!);
  const follow = url.searchParams.get('follow') === 'true';
  const numLines = url.searchParams.get('num_lines');
  const limit = numLines !== null ? Number(numLines) : follow ? 10 : undefined;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 0)) throw new UsageError('BAD_OPTION', `num_lines must be a whole number, got ${numLines}`, { option: 'num_lines' });
  const line = (e: { ts: number; level: string; message: string }) => `${JSON.stringify({ level: LEVEL[e.level] ?? e.level, ts: e.ts * 1000, target: name, message: e.message })}\n`;
  const first = await db.logs(limit !== undefined ? { limit } : {});
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  for (const e of first) res.write(line(e));
  if (!follow) return void res.end();
  // Follow: new entries are polled (the log lives in the database's thread), until the client goes.
  let last = first.at(-1);
  let seenAtLast = last ? first.filter((e) => e.ts === last!.ts).length : 0;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    clearTimeout(timer);
    ctx.followers.delete(stop);
    res.end();
  };
  ctx.followers.add(stop);
  res.on('close', stop);
  const poll = async () => {
    if (stopped) return;
    try {
      const now = await (await existing(ctx, name!)).logs({ limit: 1000 });
      const fresh = last ? now.filter((e) => e.ts > last!.ts) : now;
      const sameTs = last ? now.filter((e) => e.ts === last!.ts) : [];
      const again = sameTs.slice(seenAtLast);
      for (const e of [...again, ...fresh]) res.write(line(e));
      if (fresh.length > 0) {
        last = fresh.at(-1);
        seenAtLast = fresh.filter((e) => e.ts === last!.ts).length;
      } else {
        seenAtLast += again.length;
      }
    } catch {
      // The database went away (deleted, the server closing): the stream ends.
      return stop();
    }
    if (!stopped) timer = setTimeout(poll, 250);
  };
  timer = setTimeout(poll, 250);
}

// ── the module's HTTP handlers ───────────────────────────────────────────────

/**
 * `ANY /v1/database/:name/route/*`: the module's router (`spacetimedb.httpHandler`), as SpacetimeDB
 * serves it: no auth middleware (a handler reads what it needs from the request), the path after
 * `/route` with the query string, the handler's status, headers and body as they are.
 */
async function moduleRoute(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, url: URL, [name]: string[]): Promise<void> {
  const db = await existing(ctx, name!);
  // The path as sent (not decoded): the module's router matches it.
  const rest = /^\/v1\/database\/[^/]+\/route(\/.*)?$/.exec(url.pathname)?.[1] ?? '';
  const body = await readBody(ctx, req);
  const headers: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
  const out = await db.fetchRoute({
    method: req.method ?? 'GET',
    path: `${rest}${url.search}`,
    uri: `http://${req.headers.host ?? 'localhost'}${req.url ?? ''}`,
    headers,
    body: new Uint8Array(body),
  });
  // Node takes raw headers flat (name, value, name, value…), which keeps repeated names.
  res.writeHead(out.status, out.headers.filter(([k]) => !/^(content-length|transfer-encoding|connection)$/i.test(k)).flat());
  res.end(out.body);
}

export { AuthError };
