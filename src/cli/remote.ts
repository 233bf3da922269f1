// `--server <url>`: the CLI's data commands over SpacetimeDB's HTTP API (as `lightcone start`
// serves it) and `subscribe` over its WebSocket protocol (v2/v3 BSATN). The CLI keeps one identity
// per server: fetched from `POST /v1/identity` on first use and saved with its token in
// `<config dir>/credentials.json` (mode 0600; the config dir is $LIGHTCONE_CONFIG_DIR or
// ~/.config/lightcone). Values come back as the package's own (SATS-JSON read by the schema's
// types, rows decoded from BSATN), so main.ts prints them as it prints the embedded database's.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { Identity, type AlgebraicType as Ty } from 'spacetimedb';
import { WebSocket } from 'ws';
import type { InitialRows, LogEntry, Row, SchemaDescription, SqlResult, TableUpdate } from '../api/database.ts';
import type { TableDef } from '../datastore/schema.ts';
import { describeSchema } from '../engine/describe.ts';
import type { Engine, PublishResult } from '../engine/engine.ts';
import { errorFromJSON, LightconeError, ModuleError, SenderError, UsageError } from '../errors.ts';
import { readModuleDef, viewTableDef, type RawModuleDefV10Like } from '../host/module-def.ts';
import { ProductType as ProductTypeDef, RawModuleDefV10 } from '../host/module-def-types.js';
import { decodeValue } from '../host/values.ts';
import { BinaryReader, BinaryWriter, ClientMessage, ServerMessage, type BsatnRowList } from '../protocol/client-api.js';
import { V2_PROTOCOL, V3_PROTOCOL } from '../protocol/messages.ts';
import { splitStatements } from '../server/routes.ts';
import type { ModuleSchema } from '../datastore/schema.ts';
import { parseExactJson, parseJsonArg } from './json-arg.ts';
import { readSatsJson, type Typespace } from './sats-read.ts';
import type { ListedDatabase, PublishPlan, SubscribeHandlers, Target } from './target.ts';

/** A server's answer the CLI reports as it is (unreachable, refused, not understood). */
export class ServerError extends LightconeError<'SERVER_UNREACHABLE' | 'PERMISSION_DENIED' | 'BAD_CREDENTIALS' | 'BAD_RESPONSE' | 'HTTP_ERROR' | 'DISCONNECTED' | 'SUBSCRIPTION_REFUSED'> {
  override get name(): string {
    return 'ServerError';
  }
}

/** An identity the server issued, and its token. */
export interface Credentials {
  identity: string;
  token: string;
}

/** Where the CLI keeps its credentials: $LIGHTCONE_CONFIG_DIR, else ~/.config/lightcone. */
export function configDir(): string {
  return process.env.LIGHTCONE_CONFIG_DIR || join(homedir(), '.config', 'lightcone');
}

/** `--server` as the key of its credentials: `http(s)://host[:port][/path]`, no trailing slash (`host:port` alone means http). */
export function serverUrl(server: string): string {
  const text = /^[a-z][a-z\d+.-]*:\/\//i.test(server) ? server : `http://${server}`;
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash) {
    throw new UsageError('BAD_OPTION', `--server ${JSON.stringify(server)} is not a server address: give its URL, e.g. --server http://127.0.0.1:3000`, { option: 'server', value: server });
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/** The server at `server`, as the identity this CLI keeps for it. */
export function remoteTarget(server: string): Target {
  const client = new RemoteClient(serverUrl(server), join(configDir(), 'credentials.json'));
  return {
    publish: (name, code, clear) => client.publish(name, code, clear),
    prePublish: (name, code) => client.prePublish(name, code),
    exists: (name) => client.exists(name),
    session: async (name) => {
      await client.exists(name).then((there) => {
        if (!there) throw new UsageError('UNKNOWN_DATABASE', `database ${name} does not exist on ${client.url}`, { database: name });
      });
      return {
        query: async (q) => (await client.sql(name, q))[0] ?? { columns: [], rows: [] },
        describe: () => client.describe(name),
        close: async () => {},
      };
    },
    call: (name, fn, args) => client.call(name, fn, args),
    sql: (name, query) => client.sql(name, query),
    logs: (name, limit) => client.logs(name, limit),
    followLogs: (name, limit, onEntry, signal) => client.followLogs(name, limit, onEntry, signal),
    describe: (name) => client.describe(name),
    list: () => client.list(),
    get emptyList() {
      return `no databases owned by ${client.known?.identity ?? 'this identity'} on ${client.url}`;
    },
    delete: (name) => client.delete(name),
    subscribe: (name, queries, on, signal) => client.subscribe(name, queries, on, signal),
  };
}

interface Request {
  method?: string;
  body?: string;
  contentType?: string;
  /** Statuses answered to the caller instead of thrown. */
  accept?: number[];
  signal?: AbortSignal;
}

/** A module's schema as `/schema?version=10` gives it, read for decoding rows and values. */
interface RemoteSchema {
  schema: ModuleSchema;
  /** Tables and views by canonical name (how the protocol names them). */
  tables: Map<string, TableDef>;
}

const NO_TYPES: Typespace = { types: [] };
const LEVELS = new Set(['error', 'warn', 'info', 'debug', 'trace', 'panic']);

/** HTTP (and WebSocket) client of one server. */
export class RemoteClient {
  readonly url: string;
  readonly #file: string;
  #credentials: Credentials | undefined;

  constructor(url: string, credentialsFile: string) {
    this.url = url;
    this.#file = credentialsFile;
  }

  /** The saved identity for this server, if there is one yet. */
  get known(): Credentials | undefined {
    return (this.#credentials ??= this.#saved()[this.url]);
  }

  async publish(name: string, code: string, clear: boolean): Promise<{ op: PublishResult; identity: string }> {
    const res = await this.#request(`/v1/database/${encodeURIComponent(name)}?host_type=Js${clear ? '&clear=true' : ''}`, { method: 'PUT', body: code, accept: [400, 403] });
    const text = await res.text();
    if (res.status === 403) {
      throw new ServerError(
        'PERMISSION_DENIED',
        `database ${name} on ${this.url} belongs to another identity; you are ${this.known!.identity} (saved in ${this.#file}): publish under another name, or with the owner's credentials`,
        { database: name },
      );
    }
    if (res.status === 400) {
      // "Database update rejected: <Class> <CODE>: <message>": the module's error, as the embedded publish reports it.
      const inner = /^Database update rejected: (.*)$/s.exec(text);
      throw errorFromText(inner ? inner[1]! : text, res.status);
    }
    const ok = (parseJson(text, 'the publish answer') as { Success?: { database_identity?: string; op?: PublishResult } }).Success;
    if (!ok?.database_identity || !ok.op) throw new ServerError('BAD_RESPONSE', `the server answered the publish with ${text.slice(0, 200)}, not {"Success": …}`);
    return { op: ok.op, identity: ok.database_identity };
  }

  /** `pre_publish`: what publishing `code` over `name` would change; a refusal throws ModuleError MIGRATION_REFUSED with the server's reasons. */
  async prePublish(name: string, code: string): Promise<PublishPlan> {
    const res = await this.#request(`${dbPath(name)}/pre_publish?host_type=Js`, { method: 'POST', body: code, accept: [400, 403, 404] });
    const text = await res.text();
    if (res.status === 404) return { kind: 'new' };
    if (res.status === 403) throw new ServerError('PERMISSION_DENIED', `database ${name} on ${this.url} belongs to another identity; you are ${this.known!.identity}`, { database: name });
    if (res.status === 400) throw errorFromText(text, res.status);
    const answer = parseJson(text, 'the pre-publish answer') as { AutoMigrate?: { migrate_plan?: string }; ManualMigrate?: { reason?: string } };
    if (answer.ManualMigrate) {
      const reason = String(answer.ManualMigrate.reason ?? '');
      const refused = reason
        .split('\n')
        .filter((l) => /^\s+- /.test(l))
        .map((l) => l.replace(/^\s+- /, ''));
      throw new ModuleError('MIGRATION_REFUSED', reason, { database: name, refused: refused.length > 0 ? refused : [reason] });
    }
    const changes = String(answer.AutoMigrate?.migrate_plan ?? '')
      .split('\n')
      .map((l) => l.replace(/^- /, '').trim())
      .filter((l) => l !== '' && l !== 'no changes');
    return changes.length === 0 ? { kind: 'unchanged' } : { kind: 'changes', changes };
  }

  /** Whether the server has a database `name`. */
  async exists(name: string): Promise<boolean> {
    return (await this.#request(dbPath(name), { accept: [404] })).ok;
  }

  async call(name: string, fn: string, args: string[]): Promise<unknown> {
    for (const [i, a] of args.entries()) parseJsonArg(a, i + 1); // a bad argument is named here, as in the embedded mode
    const res = await this.#request(`${dbPath(name)}/call/${encodeURIComponent(fn)}`, { method: 'POST', body: `[${args.join(',')}]`, contentType: 'application/json' });
    const text = await res.text();
    if (text.trim() === '') return undefined; // a reducer
    const json = parseJson(text, `the result of ${fn}`);
    // A procedure's value is untyped SATS-JSON: read it by its return type to print it as the embedded mode does.
    const { schema } = await this.#schema(name);
    const proc = schema.procedures.find((p) => p.canonicalName === fn || p.name === fn);
    return proc ? readSatsJson(json, proc.returnType, schema.typespace, false) : json;
  }

  async sql(name: string, query: string): Promise<SqlResult[]> {
    const res = await this.#request(`${dbPath(name)}/sql`, { method: 'POST', body: query, contentType: 'text/plain' });
    const results = parseJson(await res.text(), 'the SQL result') as { schema: unknown; rows: unknown[]; stats?: Record<string, number> }[];
    const statements = splitStatements(query);
    return results.map((r, i) => {
      const schema = readSatsJson(r.schema, ProductTypeDef.algebraicType as Ty, NO_TYPES, true) as { elements: { name: string | undefined; algebraicType: Ty }[] };
      const columns = schema.elements.map((e, n) => e.name ?? `col${n}`);
      if (columns.length === 0) return { columns, rows: [], message: dmlMessage(statements[i] ?? '', r.stats ?? {}) };
      const rowType = { tag: 'Product', value: { elements: schema.elements.map((e, n) => ({ name: columns[n], algebraicType: e.algebraicType })) } } as Ty;
      return { columns, rows: r.rows.map((row) => readSatsJson(row, rowType, NO_TYPES, false) as Row) };
    });
  }

  async logs(name: string, limit: number | undefined): Promise<LogEntry[]> {
    const res = await this.#request(`${dbPath(name)}/logs${limit !== undefined ? `?num_lines=${limit}` : ''}`);
    return (await res.text()).split('\n').filter(Boolean).map(logEntry);
  }

  async followLogs(name: string, limit: number | undefined, onEntry: (e: LogEntry) => void, signal: AbortSignal): Promise<void> {
    // Without -n the server sends its last 10 first; the embedded mode sends all: ask for as many as it keeps.
    const res = await this.#request(`${dbPath(name)}/logs?follow=true&num_lines=${limit ?? 1000}`, { signal });
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body!) {
        buffered += decoder.decode(chunk as Uint8Array, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim()) onEntry(logEntry(line));
        }
      }
    } catch (e) {
      if (!signal.aborted) throw e;
    }
  }

  async describe(name: string): Promise<SchemaDescription> {
    const info = parseJson(await (await this.#request(dbPath(name))).text(), 'the database information') as {
      database_identity: { __identity__: string };
      owner_identity: { __identity__: string };
    };
    const { schema } = await this.#schema(name);
    const owner = info.owner_identity.__identity__.replace(/^0x/, '') === this.known?.identity;
    // Row counts of what this identity may read (private tables: the owner only); NaN shows as "?".
    const counted = schema.tables.filter((t) => !t.isEvent && (t.isPublic || owner));
    const counts = new Map<string, number>();
    if (counted.length > 0) {
      const results = await this.sql(name, counted.map((t) => `SELECT COUNT(*) AS n FROM ${t.canonicalName}`).join('; '));
      for (const [i, t] of counted.entries()) counts.set(t.name, Number(results[i]?.rows[0]?.n));
    }
    // describeSchema reads these four things of an engine: the same summary as the embedded describe.
    const engine = {
      name,
      identity: Identity.fromString(info.database_identity.__identity__.replace(/^0x/, '')),
      host: { schema, datastore: { tableByName: (t: string) => ({ count: counts.get(t) ?? (schema.tables.find((x) => x.name === t)?.isEvent ? 0 : Number.NaN) }) } },
    };
    return describeSchema(engine as unknown as Engine);
  }

  async list(): Promise<ListedDatabase[]> {
    const me = await this.#identity();
    const res = await this.#request(`/v1/identity/${me.identity}/databases`);
    const { identities } = parseJson(await res.text(), 'the list of databases') as { identities: string[] };
    return Promise.all(
      identities.map(async (identity) => {
        const names = await this.#request(`${dbPath(identity)}/names`, { accept: [404] });
        const name = names.ok ? (parseJson(await names.text(), 'the names of a database') as { names?: string[] }).names?.[0] : undefined;
        return { name, identity };
      }),
    );
  }

  async delete(name: string): Promise<void> {
    await this.#request(dbPath(name)); // an unknown database is an error, as in the embedded mode
    await this.#request(dbPath(name), { method: 'DELETE' });
  }

  /** Runs a subscription over the WebSocket protocol until `signal` aborts. */
  async subscribe(name: string, queries: string[], on: SubscribeHandlers, signal: AbortSignal): Promise<void> {
    const schema = await this.#schema(name);
    const { token } = await this.#identity();
    const url = new URL(`${this.url}${dbPath(name)}/subscribe?compression=None`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url, [V3_PROTOCOL, V2_PROTOCOL], { headers: { authorization: `Bearer ${token}` } });
    const decode = rowDecoder(schema);
    await new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (e?: Error) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', stop);
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
        if (e) reject(e);
        else resolve();
      };
      const stop = () => finish();
      signal.addEventListener('abort', stop, { once: true });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => finish(errorFromText(body, res.statusCode ?? 0)));
      });
      ws.on('error', (e) => finish(this.#unreachable(e)));
      ws.on('open', () => {
        const w = new BinaryWriter(256);
        ClientMessage.serialize(w, { tag: 'Subscribe', value: { requestId: 1, querySetId: { id: 1 }, queryStrings: queries } });
        ws.send(w.getBuffer().slice());
      });
      ws.on('close', (code, reason) => {
        const why = reason.toString();
        finish(new ServerError('DISCONNECTED', `the server closed the subscription (${code}${why ? `: ${why}` : ''})`, { code }));
      });
      ws.on('message', (data: Buffer) => {
        if (done) return;
        try {
          for (const m of serverMessages(new Uint8Array(data))) {
            if (m.tag === 'SubscribeApplied') {
              const initial: InitialRows = {};
              for (const t of m.value.rows.tables) (initial[t.table] ??= []).push(...decode(t.table, t.rows));
              on.onApplied(initial);
            } else if (m.tag === 'TransactionUpdate') {
              const updates = new Map<string, TableUpdate>();
              for (const set of m.value.querySets) {
                for (const t of set.tables) {
                  const u = updates.get(t.tableName) ?? { table: t.tableName, inserts: [], deletes: [] };
                  updates.set(t.tableName, u);
                  for (const r of t.rows) {
                    if (r.tag === 'PersistentTable') {
                      u.inserts.push(...decode(t.tableName, r.value.inserts));
                      u.deletes.push(...decode(t.tableName, r.value.deletes));
                    } else {
                      u.inserts.push(...decode(t.tableName, r.value.events));
                    }
                  }
                }
              }
              if (updates.size > 0) on.onUpdate([...updates.values()]);
            } else if (m.tag === 'SubscriptionError') {
              // The query's own error (as the embedded subscribe reports it), or Lightcone's `<Class> <CODE>: …`.
              const e = errorFromText(m.value.error, 0);
              finish(e instanceof ServerError ? new ServerError('SUBSCRIPTION_REFUSED', m.value.error) : e);
            }
            if (done) return;
          }
        } catch (e) {
          finish(e as Error);
        }
      });
    });
  }

  /** The module's schema from `/schema?version=10`, read into the host's own form. */
  async #schema(name: string): Promise<RemoteSchema> {
    const res = await this.#request(`${dbPath(name)}/schema?version=10`);
    const def = readSatsJson(parseJson(await res.text(), 'the schema'), RawModuleDefV10.algebraicType as Ty, NO_TYPES, true) as RawModuleDefV10Like;
    const schema = readModuleDef(def);
    const tables = new Map<string, TableDef>();
    for (const t of schema.tables) tables.set(t.canonicalName, t);
    for (const v of schema.views) tables.set(v.canonicalName, viewTableDef(v));
    return { schema, tables };
  }

  /** The saved identity for this server, or a new one from the server (then saved). */
  async #identity(): Promise<Credentials> {
    if (this.known) return this.known;
    const res = await this.#fetch('/v1/identity', { method: 'POST' });
    if (!res.ok) throw errorFromText(await res.text(), res.status);
    const got = parseJson(await res.text(), 'the new identity') as Partial<Credentials>;
    if (typeof got.identity !== 'string' || typeof got.token !== 'string') throw new ServerError('BAD_RESPONSE', `POST ${this.url}/v1/identity answered without an identity and token`);
    // Saved unless another run saved one for this server meanwhile: then that one is used.
    const all = this.#saved();
    this.#credentials = all[this.url] ??= { identity: got.identity, token: got.token };
    mkdirSync(dirname(this.#file), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.#file);
    return this.#credentials;
  }

  #saved(): Record<string, Credentials> {
    if (!existsSync(this.#file)) return {};
    try {
      const all = JSON.parse(readFileSync(this.#file, 'utf8')) as unknown;
      if (all && typeof all === 'object' && !Array.isArray(all)) return all as Record<string, Credentials>;
    } catch {
      // reported below
    }
    throw new ServerError('BAD_CREDENTIALS', `${this.#file} is not a JSON object of server URL → {identity, token}: fix it, or delete it to get new identities`);
  }

  /** A request with this CLI's credentials; a status other than 2xx (and `accept`) becomes the server's error. */
  async #request(path: string, r: Request = {}): Promise<Response> {
    const { identity, token } = await this.#identity();
    const res = await this.#fetch(path, r, token);
    if (res.ok || r.accept?.includes(res.status)) return res;
    const text = await res.text();
    if (res.status === 401) {
      throw new ServerError(
        'BAD_CREDENTIALS',
        `${this.url} refused the token saved for identity ${identity} (${text.replace(/^\w+ [A-Z_]+: /, '')}); if the server was reset, delete its entry from ${this.#file} to get a new identity`,
      );
    }
    throw errorFromText(text, res.status);
  }

  async #fetch(path: string, r: Request, token?: string): Promise<Response> {
    const headers: Record<string, string> = {};
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (r.contentType) headers['content-type'] = r.contentType;
    try {
      return await fetch(`${this.url}${path}`, { method: r.method ?? 'GET', headers, ...(r.body !== undefined ? { body: r.body } : {}), ...(r.signal ? { signal: r.signal } : {}) });
    } catch (e) {
      throw this.#unreachable(e);
    }
  }

  /** A failed connection as a message that names the server and how to start one. */
  #unreachable(e: unknown): Error {
    if (e instanceof Error && e.name === 'AbortError') return e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause ?? (e as { code?: string; message?: string });
    const why = cause.code === 'ECONNREFUSED' ? 'connection refused' : (cause.code ?? cause.message ?? String(e));
    return new ServerError('SERVER_UNREACHABLE', `could not reach the server at ${this.url} (${why}): is it running? \`lightcone start\` starts one`, { server: this.url });
  }
}

function dbPath(name: string): string {
  return `/v1/database/${encodeURIComponent(name)}`;
}

function parseJson(text: string, what: string): unknown {
  try {
    return parseExactJson(text, what);
  } catch {
    throw new ServerError('BAD_RESPONSE', `the server sent ${what} as something other than JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * A server's error text as the CLI's error: `<Class> <CODE>: <message>` (Lightcone's form) becomes
 * that class; 530 is the module's own message (a SenderError, printed as it is); anything else is
 * shown with its status.
 */
export function errorFromText(text: string, status: number): LightconeError {
  if (status === 530) return new SenderError(text);
  const m = /^(\w+) ([A-Z][A-Z\d_]*): (.*)$/s.exec(text.trim());
  if (m) return errorFromJSON({ name: m[1]!, code: m[2]!, message: m[3]!, details: { status } });
  return new ServerError('HTTP_ERROR', `the server answered ${status}${text.trim() ? `: ${text.trim()}` : ''}`, { status });
}

/** `N rows inserted` (as the embedded SQL says it) from a DML statement's stats. */
function dmlMessage(statement: string, stats: Record<string, number>): string {
  const verb =
    ['inserted', 'deleted', 'updated'].find((v) => Number(stats[`rows_${v}`]) > 0) ?? { insert: 'inserted', delete: 'deleted', update: 'updated' }[statement.trim().split(/\s/)[0]!.toLowerCase()];
  if (!verb) return '';
  const n = Number(stats[`rows_${verb}`] ?? 0);
  return `${n} row${n === 1 ? '' : 's'} ${verb}`;
}

/** One line of `/logs` (`{"level":"Info","ts":<µs>,"message":…}`) as the embedded log's entry. */
function logEntry(line: string): LogEntry {
  const e = parseJson(line, 'a log line') as { level?: string; ts?: number | bigint; message?: string };
  const level = String(e.level ?? 'info').toLowerCase();
  return { ts: Number(e.ts ?? 0) / 1000, level: (LEVELS.has(level) ? level : 'info') as LogEntry['level'], message: String(e.message ?? '') };
}

/** The messages of one server frame (its first byte the compression tag; v3 frames hold several). */
function serverMessages(frame: Uint8Array): ServerMessage[] {
  const tag = frame[0];
  const body = frame.subarray(1);
  const payload = tag === 0 ? body : tag === 1 ? brotliDecompressSync(body) : tag === 2 ? gunzipSync(body) : undefined;
  if (!payload) throw new ServerError('BAD_RESPONSE', `the server sent a frame with the unknown compression tag ${tag}`);
  const r = new BinaryReader(new Uint8Array(payload));
  const out: ServerMessage[] = [];
  while (r.remaining > 0) out.push(ServerMessage.deserialize(r) as ServerMessage);
  return out;
}

/** Decodes a table's `BsatnRowList` into rows keyed by column canonical name. */
function rowDecoder({ schema, tables }: RemoteSchema): (table: string, list: BsatnRowList) => Row[] {
  const types = new Map<string, Ty>();
  return (table, list) => {
    const def = tables.get(table);
    if (!def) throw new ServerError('BAD_RESPONSE', `the server sent rows of ${table}, which the module's schema does not have`);
    let ty = types.get(table);
    if (!ty) types.set(table, (ty = { tag: 'Product', value: def.rowType } as Ty));
    return rowBytes(list).map((bytes) => {
      const v = decodeValue(ty, bytes, schema.typespace) as Row;
      const row: Row = {};
      for (const c of def.columns) row[c.canonicalName] = v[c.name];
      return row;
    });
  };
}

/** The BSATN of each row of a `BsatnRowList`. */
function rowBytes(list: BsatnRowList): Uint8Array[] {
  const data = list.rowsData;
  const hint = list.sizeHint;
  const out: Uint8Array[] = [];
  if (hint.tag === 'FixedSize') {
    if (hint.value > 0) for (let at = 0; at < data.length; at += hint.value) out.push(data.subarray(at, at + hint.value));
    return out;
  }
  const offsets = hint.value.map(Number);
  for (const [i, start] of offsets.entries()) out.push(data.subarray(start, offsets[i + 1] ?? data.length));
  return out;
}
