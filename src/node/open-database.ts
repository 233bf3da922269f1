// `openDatabase` for Node: bundles the module with esbuild, keeps the database under
// `<dataDir>/databases/<name>` with file durability (memory when no dataDir), and the owner
// identity of the data directory in `<dataDir>/identity`.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Identity } from 'spacetimedb';
import { fileDurability } from '../durability/files.ts';
import { memoryDurability } from '../durability/memory.ts';
import type { Durability } from '../durability/durability.ts';
import { databaseFacade, type Database } from '../engine/database.ts';
import { Engine, randomIdentity, toIdentity, type PublishResult } from '../engine/engine.ts';
import { UsageError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { nodeSyncHttp } from './sync-http.ts';

export interface OpenDatabaseOptions {
  /** Data directory; omitted = in memory (gone on close). */
  dataDir?: string;
  /** Database name: letters, digits, `-` and `_`. */
  name: string;
  /** Module entry file or folder: published if the database is new, compared if it exists. */
  module?: string;
  /** An already bundled module (from `bundleModule`), instead of `module`. */
  code?: string;
  /** Delete the database's data first, then publish again (runs `init`). */
  deleteData?: boolean;
  /** Owner identity (hex); defaults to the data directory's own. */
  owner?: string;
  /** Snapshot after this many commits (default 10,000; also when the log outgrows the snapshot). */
  snapshotEvery?: number;
}

/** A database opened from Node, plus what publishing did. */
export interface NodeDatabase extends Database {
  /** 'created', 'updated' (same schema, new code) or 'unchanged'. */
  readonly published: PublishResult;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Opens (publishing or recovering) a database.
 *
 * @example
 * ```ts
 * const db = await openDatabase({ name: 'chat', module: 'examples/chat/index.ts' });
 * await db.call('set_name', { name: 'Ada' });
 * ```
 */
export async function openDatabase(opts: OpenDatabaseOptions): Promise<NodeDatabase> {
  if (!NAME.test(opts.name)) {
    throw new UsageError('BAD_NAME', `database name ${JSON.stringify(opts.name)} is not valid: use letters, digits, - and _ (at most 64)`, { name: opts.name });
  }
  const code = opts.code ?? (opts.module !== undefined ? (await bundleModule(opts.module)).code : undefined);
  const owner = opts.owner !== undefined ? toIdentity(opts.owner, 'owner') : opts.dataDir !== undefined ? dataDirOwner(opts.dataDir) : randomIdentity();
  let durability: Durability;
  if (opts.dataDir !== undefined) {
    const dir = databaseDir(opts.dataDir, opts.name);
    if (code === undefined && !existsSync(dir)) {
      // Do not create a folder (which `list` would show) for a name that was never published.
      throw new UsageError('UNKNOWN_DATABASE', `database ${opts.name} does not exist in ${resolve(opts.dataDir)}: publish it first with \`lightcone publish --module-path <module> ${opts.name}\``, {
        database: opts.name,
      });
    }
    if (opts.deleteData) await fileDurability(dir).destroy();
    durability = fileDurability(dir);
  } else {
    durability = memoryDurability();
  }
  const engine = await Engine.open({
    name: opts.name,
    durability,
    owner,
    http: nodeSyncHttp,
    ...(code !== undefined ? { code } : {}),
    ...(opts.snapshotEvery !== undefined ? { snapshotEvery: opts.snapshotEvery } : {}),
  });
  return Object.assign(databaseFacade(engine), { published: engine.publishResult });
}

/** Where a database lives inside a data directory. */
export function databaseDir(dataDir: string, name: string): string {
  return join(resolve(dataDir), 'databases', name);
}

/** The data directory's owner identity, created on first use and kept. */
export function dataDirOwner(dataDir: string): Identity {
  const file = join(resolve(dataDir), 'identity');
  if (existsSync(file)) return toIdentity(readFileSync(file, 'utf8').trim(), `identity in ${file}`);
  mkdirSync(resolve(dataDir), { recursive: true });
  const id = randomIdentity();
  try {
    writeFileSync(file, id.toHexString() + '\n', { flag: 'wx' });
  } catch (e) {
    // Another process created it first: use theirs, so the directory has one owner.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return toIdentity(readFileSync(file, 'utf8').trim(), `identity in ${file}`);
    throw e;
  }
  return id;
}

/** A database found in a data directory. */
export interface DatabaseInfo {
  name: string;
  identity: string | undefined;
  createdAt: number | undefined;
}

/** Lists the databases of a data directory (each with its own data, log and identity). */
export async function listDatabases(dataDir: string): Promise<DatabaseInfo[]> {
  const root = join(resolve(dataDir), 'databases');
  if (!existsSync(root)) return [];
  const out: DatabaseInfo[] = [];
  for (const name of readdirSync(root).sort()) {
    if (!NAME.test(name)) continue;
    const meta = readDatabaseMeta(join(root, name));
    if (meta) out.push({ name, identity: meta.identity, createdAt: meta.createdAt });
  }
  return out;
}

function readDatabaseMeta(dir: string): { identity?: string; createdAt?: number } | undefined {
  // Meta files are written atomically by the file durability as meta/<key>.
  for (const file of [join(dir, 'meta', 'database.meta')]) {
    if (existsSync(file)) {
      try {
        const text = readFileSync(file, 'utf8');
        const start = text.indexOf('{');
        return JSON.parse(text.slice(start, text.lastIndexOf('}') + 1)) as { identity?: string; createdAt?: number };
      } catch {
        return {};
      }
    }
  }
  return undefined;
}

/** Deletes a database and all its data. Fails with DATABASE_IN_USE while another process has it open. */
export async function deleteDatabase(dataDir: string, name: string): Promise<void> {
  const dir = databaseDir(dataDir, name);
  if (!NAME.test(name) || !existsSync(dir)) {
    throw new UsageError('UNKNOWN_DATABASE', `database ${name} does not exist in ${resolve(dataDir)}`, { database: name });
  }
  await fileDurability(dir).destroy();
}
