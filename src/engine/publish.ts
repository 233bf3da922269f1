// Publishing: how a database comes to exist and how its module changes. This builds everything in
// memory (a new database's host and creation image, the stored description and module brought back
// at open, the checked and migrated copy of a republish, an imported image) and reads storage, but
// never writes it: Engine decides when each piece becomes durable and in which order.
import { Identity } from 'spacetimedb';
import type { Durability } from '../durability/durability.ts';
import { bytesEqual } from '../datastore/bytes.ts';
import { openDatastore, setCopyMeta, type Datastore } from '../datastore/datastore.ts';
import type { ModuleSchema } from '../datastore/schema.ts';
import { InternalError, ModuleError, StorageError, type SqlError } from '../errors.ts';
import { Host, type LogEntry } from '../host/host.ts';
import type { SyncHttp } from '../host/http-wire.ts';
import { validateRules } from '../sql/rls.ts';
import { decodeImage, encodeImage } from './image.ts';
import { LogBuffer } from './log-buffer.ts';
import { applyMigration, planMigration } from './migrate.ts';
import type { Clock } from './scheduler.ts';

/** Meta key of the database description; its presence is what makes a database exist. */
export const META_DB = 'database';
/** Meta key of the module bundle, beside the image (older builds read it from here only). */
export const META_MODULE = 'module.js';
/** The module's code also lives inside the SQLite image, so a snapshot carries data and module together. */
export const META_MODULE_IN_IMAGE = 'module.js';
/** Meta key of the saved module log. */
export const META_LOGS = 'logs';
/** Where builds before the image carried the ids kept them (read once, never written). */
const META_CALLS = 'calls';
/** The committed call ids inside the image, dropped with the log prefix they cover. */
export const META_CALLS_IN_IMAGE = 'calls';
/** A copy of the `database` meta inside the image, so a damaged meta file can be rebuilt. */
const META_DB_IN_IMAGE = 'database';

/** Persisted description of a database (meta key `database`). */
interface DatabaseMeta {
  format: 1;
  name: string;
  identity: string;
  owner: string;
  createdAt: number;
}

/**
 * A database made in memory and not yet stored. Engine stores the module, then the image as
 * snapshot 0, then the description last, so a crash in between leaves no database behind.
 */
export interface NewDatabase {
  module: Uint8Array;
  image: Uint8Array;
  description: Uint8Array;
}

/** What the host of a database needs besides its datastore and code. */
interface HostEnv {
  log: (entry: LogEntry) => void;
  http: SyncHttp | undefined;
}

/**
 * Builds a new database: its tables, then `init` as the owner. Throws ModuleError INIT_FAILED when
 * `init` fails and INVALID_RLS_RULE for a bad row-level-security rule; nothing is stored either way.
 */
export async function createDatabase(o: HostEnv & { name: string; code: string; identity: Identity; owner: Identity; clock: Clock }): Promise<NewDatabase & { host: Host }> {
  const datastore = await openDatastore();
  const host = new Host({ datastore, code: o.code, databaseIdentity: o.identity.__identity__, log: o.log, http: o.http });
  checkRules(host, o.owner);
  const init = host.schema.lifecycle.init ? host.reducer(host.schema.lifecycle.init) : undefined;
  if (init) {
    const out = host.callReducer(init, new Uint8Array(0), { sender: o.owner.__identity__, connectionId: 0n, timestamp: o.clock.nowMicros() });
    if (out.status === 'failed') {
      throw new ModuleError('INIT_FAILED', `init failed, so database ${o.name} was not created: ${out.message}`, { database: o.name });
    }
  }
  // The creation (tables + init) is one image that also carries the module and the description.
  const description = encodeDescription({ format: 1, name: o.name, identity: o.identity.toHexString(), owner: o.owner.toHexString(), createdAt: Date.now() });
  const module = new TextEncoder().encode(o.code);
  datastore.setMeta(META_MODULE_IN_IMAGE, module);
  datastore.setMeta(META_DB_IN_IMAGE, description);
  return { host, module, image: datastore.export(), description };
}

/** The module log saved at the last close; damaged, it starts empty with a warning (the data is intact). */
export async function loadModuleLog(d: Durability): Promise<LogBuffer> {
  const logs = new LogBuffer(1000);
  // The module log and the call-id ledger are conveniences: damaged, they are rebuilt (empty) with
  // a warning instead of keeping the intact data behind them from opening.
  const saved = await readOptionalMeta(d, META_LOGS, 'the saved module log', logs);
  if (saved) {
    try {
      logs.load(saved);
    } catch (e) {
      logs.push({ ts: Date.now(), level: 'warn', message: `the saved module log could not be read and was reset (the data is intact): ${(e as Error).message}` });
    }
  }
  return logs;
}

/**
 * The stored description: its bytes, undefined when the database does not exist, or the damage
 * when the meta file is unreadable but a snapshot exists whose copy can replace it.
 */
export async function readDescription(d: Durability, hasSnapshot: boolean): Promise<{ bytes: Uint8Array } | { damaged: unknown } | undefined> {
  try {
    const bytes = await d.getMeta(META_DB);
    return bytes && { bytes };
  } catch (e) {
    if (!isDamagedMeta(e) || !hasSnapshot) throw e;
    return { damaged: e };
  }
}

/** The image's copy of a damaged description; without one, the damage is thrown (and the datastore closed). */
export function descriptionFromImage(datastore: Datastore, damage: unknown): Uint8Array {
  const copy = datastore.getMeta(META_DB_IN_IMAGE);
  if (!copy) {
    datastore.close();
    throw damage;
  }
  return copy;
}

/**
 * Loads a stored database's module over its recovered datastore, as the identity its description
 * names. Throws ModuleError UNKNOWN_FORMAT for a description this build does not read, and
 * MODULE_MISSING when no module is stored.
 */
export async function recoverHost(o: HostEnv & { name: string; durability: Durability; datastore: Datastore; description: Uint8Array }): Promise<{ host: Host; identity: Identity }> {
  const meta = JSON.parse(new TextDecoder().decode(o.description)) as DatabaseMeta;
  if (meta.format !== 1) throw new ModuleError('UNKNOWN_FORMAT', `database ${o.name} has metadata format ${String(meta.format)}, which this Lightcone does not read`);
  const identity = new Identity(meta.identity);
  const code = await readModule(o.datastore, o.durability);
  if (!code) throw new ModuleError('MODULE_MISSING', `database ${o.name} has no stored module: publish it again with --delete-data`);
  const host = new Host({ datastore: o.datastore, code: new TextDecoder().decode(code), databaseIdentity: identity.__identity__, log: o.log, http: o.http });
  return { host, identity };
}

/** The saved committed call ids: inside the image, or where builds before the image kept them. */
export async function readSavedCalls(datastore: Datastore, d: Durability, logs: LogBuffer): Promise<Uint8Array | undefined> {
  return datastore.getMeta(META_CALLS_IN_IMAGE) ?? (await readOptionalMeta(d, META_CALLS, 'the saved call-id ledger', logs));
}

/** A module checked against the database it would replace: its schema and what publishing it changes. */
export interface Republish {
  schema: ModuleSchema;
  sameSchema: boolean;
  changes: string[];
}

/**
 * Checks `code` against the running module: undefined when it is the stored module already, else
 * the plan. Throws ModuleError MIGRATION_REFUSED listing every change SpacetimeDB refuses, or the
 * error of a module that does not load; nothing is changed either way.
 */
export async function planRepublish(o: { name: string; durability: Durability; current: Host; identity: Identity; code: string }): Promise<Republish | undefined> {
  const stored = await readModule(o.current.datastore, o.durability);
  if (stored && new TextDecoder().decode(stored) === o.code) return undefined;
  // A throwaway host on an empty datastore yields the new schema without touching the data.
  const probeStore = await openDatastore();
  const probe = new Host({ datastore: probeStore, code: o.code, databaseIdentity: o.identity.__identity__, log: () => {} });
  probeStore.close();
  const sameSchema = bytesEqual(probe.describe, o.current.describe);
  const plan = sameSchema ? { refused: [], changes: ['update reducers'] } : planMigration(o.current.schema, probe.schema);
  if (plan.refused.length > 0) {
    throw new ModuleError(
      'MIGRATION_REFUSED',
      `the new module cannot be published over database ${o.name}; SpacetimeDB refuses these changes:\n${plan.refused.map((r) => `  - ${r}`).join('\n')}\nThe database and its module are unchanged. Change the module, or publish with --delete-data to start over (this deletes the data).`,
      { database: o.name, refused: plan.refused },
    );
  }
  return { schema: probe.schema, sameSchema, changes: plan.changes };
}

/**
 * Builds the republished database on a copy of the current one: migrated rows, the new module
 * inside the image, and its host. The current database is untouched, so a failure here (ModuleError
 * MIGRATION_FAILED, or the module's own ModuleError) changes nothing; the copy is closed.
 */
export async function buildRepublished(
  o: HostEnv & { name: string; current: Host; plan: Republish; code: string; identity: Identity; owner: Identity; calls: Uint8Array },
): Promise<{ host: Host; image: Uint8Array }> {
  const copy = await openDatastore(o.current.datastore.export());
  try {
    if (!o.plan.sameSchema) applyMigration(copy.sqlite.db, o.current.schema, o.plan.schema);
    copy.setMeta(META_MODULE_IN_IMAGE, new TextEncoder().encode(o.code));
    // The image covers the whole log, so it carries the call ids the log held (else a retry of
    // one of those calls would run again after the next open).
    copy.setMeta(META_CALLS_IN_IMAGE, o.calls);
    const host = new Host({ datastore: copy, code: o.code, databaseIdentity: o.identity.__identity__, log: o.log, http: o.http });
    checkRules(host, o.owner);
    return { host, image: copy.export() };
  } catch (e) {
    copy.close();
    throw republishFailure(o.name, e);
  }
}

/** The error a failed republish reports: a module's own ModuleError as it is, anything else as MIGRATION_FAILED. */
export function republishFailure(name: string, e: unknown): ModuleError {
  if (e instanceof ModuleError) return e;
  return new ModuleError('MIGRATION_FAILED', `publishing the new module over ${name} failed, nothing was changed: ${(e as Error).message}`, { database: name }, { cause: e });
}

/**
 * Turns an exported image into a new database named `name`, checking that its SQLite image opens
 * and its module loads before anything is stored. Throws UsageError BAD_IMAGE for bytes that are
 * not an image, ModuleError when its module does not load.
 */
export async function importDatabase(name: string, bytes: Uint8Array): Promise<NewDatabase> {
  const { header, sqlite } = decodeImage(bytes);
  const description = encodeDescription({ format: 1, name, identity: header.identity, owner: header.owner, createdAt: header.createdAt });
  const datastore = await openDatastore(sqlite);
  try {
    new Host({ datastore, code: header.module, databaseIdentity: new Identity(header.identity).__identity__, log: () => {} });
    datastore.setMeta(META_DB_IN_IMAGE, description);
    return { module: new TextEncoder().encode(header.module), image: datastore.export(), description };
  } finally {
    datastore.close();
  }
}

/** The whole database as one image (identity, owner, module, SQLite image) for `importDatabase`. */
export async function exportDatabase(o: { name: string; identity: Identity; owner: Identity; datastore: Datastore; durability: Durability; calls: Uint8Array }): Promise<Uint8Array> {
  const metaBytes = o.datastore.getMeta(META_DB_IN_IMAGE) ?? (await o.durability.getMeta(META_DB)) ?? new TextEncoder().encode('{}');
  const meta = JSON.parse(new TextDecoder().decode(metaBytes)) as Partial<DatabaseMeta>;
  const code = (await readModule(o.datastore, o.durability)) ?? new Uint8Array();
  const header = { name: o.name, identity: o.identity.toHexString(), owner: o.owner.toHexString(), createdAt: meta.createdAt ?? Date.now(), module: new TextDecoder().decode(code) };
  // The image carries the call ids committed so far (the live database holds those of the
  // snapshot it was opened from): a call retried with its id against the imported copy is
  // recognised there as it would be here.
  const copy = o.datastore.copy();
  try {
    // Every page in one step (the engine runs nothing else meanwhile); never a spin on a busy source.
    if (!copy.step(-1)) throw new InternalError('the database could not be copied for export (its source was busy): try again');
    setCopyMeta(copy, META_CALLS_IN_IMAGE, o.calls);
    return encodeImage(header, copy.read(0, copy.size));
  } finally {
    copy.close();
  }
}

function encodeDescription(meta: DatabaseMeta): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(meta));
}

/** The stored module: inside the image, or beside it for databases whose image does not carry it. */
async function readModule(datastore: Datastore, d: Durability): Promise<Uint8Array | undefined> {
  return datastore.getMeta(META_MODULE_IN_IMAGE) ?? (await d.getMeta(META_MODULE));
}

/** An invalid row-level-security rule fails the publish, quoting the rule. */
function checkRules(host: Host, owner: Identity): void {
  try {
    validateRules(host, owner.__identity__);
  } catch (e) {
    throw new ModuleError('INVALID_RLS_RULE', (e as Error).message, { ...(e as SqlError).details });
  }
}

/** A meta file that exists but cannot be read as one (checksum, header or version damaged). */
function isDamagedMeta(e: unknown): boolean {
  return e instanceof StorageError && (e.code === 'CORRUPT_META' || e.code === 'UNKNOWN_FORMAT');
}

/** Reads a meta blob the database can do without: damaged, it is reported in the log and treated as absent. */
async function readOptionalMeta(d: Durability, key: string, what: string, logs: LogBuffer): Promise<Uint8Array | undefined> {
  try {
    return await d.getMeta(key);
  } catch (e) {
    if (!isDamagedMeta(e)) throw e;
    logs.push({ ts: Date.now(), level: 'warn', message: `${what} was damaged and is rebuilt (the data is intact): ${(e as Error).message}` });
    return undefined;
  }
}
