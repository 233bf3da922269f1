// `openDatabase` for Node: bundles the module with esbuild, keeps the database under
// `<dataDir>/databases/<name>` with file durability (memory when no dataDir), and the owner
// identity of the data directory in `<dataDir>/identity`.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Snapshot after this many commits (default 1000). */
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
  writeFileSync(file, id.toHexString() + '\n', { flag: 'wx' });
  return id;
}
