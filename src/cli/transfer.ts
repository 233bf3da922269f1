// `lightcone export` / `lightcone import`: a database as one `LCDB` image file, the same bytes the
// browser's `db.export()` writes (src/engine/image.ts), so a database moves between a data
// directory and a browser in either direction.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileDurability } from '../durability/files.ts';
import { Engine } from '../engine/engine.ts';
import { decodeImage, encodeImage } from '../engine/image.ts';
import { importDatabase } from '../engine/publish.ts';
import { UsageError } from '../errors.ts';
import { dataDirOwner, databaseDir, databaseInfo, openDatabase, type OpenDatabaseOptions } from '../node/open-database.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/** Writes database `name` to `file` (atomically: a temp file renamed over it); returns the image's size. */
export async function exportToFile(dataDir: string, name: string, file: string, limits: Pick<OpenDatabaseOptions, 'callTimeoutMs' | 'maxHeapMb'>): Promise<number> {
  const db = await openDatabase({ dataDir, name, ...limits });
  let image: Uint8Array;
  try {
    image = await db.export();
  } finally {
    await db.close();
  }
  const target = resolve(file);
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, image);
  renameSync(tmp, target);
  return image.length;
}

/** The image in `file`, checked (UsageError BAD_IMAGE / UNKNOWN_FORMAT / NO_SUCH_FILE otherwise). */
export function readImageFile(file: string): Uint8Array {
  const path = resolve(file);
  if (!existsSync(path)) throw new UsageError('NO_SUCH_FILE', `${path} does not exist: pass a file written by \`lightcone export\` or the browser's db.export()`, { file: path });
  const bytes = new Uint8Array(readFileSync(path));
  try {
    decodeImage(bytes);
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(e.code, `${path}: ${e.message}`, { file: path });
    throw e;
  }
  return bytes;
}

/** Whether database `name` exists in the data directory. */
export function databaseExists(dataDir: string, name: string): boolean {
  return databaseInfo(dataDir, name) !== undefined;
}

/**
 * Creates database `name` from `image`, replacing one of that name (its data is deleted first).
 * The image's identity, module and rows are kept; the data directory's identity becomes its owner,
 * as if it had been published here. The module is loaded once to check it before anything is
 * written (ModuleError if it does not load); then the database is opened as every command opens
 * it, so what was imported is known to work.
 */
export async function importFromImage(dataDir: string, name: string, image: Uint8Array): Promise<{ identity: string; tables: number }> {
  if (!NAME.test(name)) throw new UsageError('BAD_NAME', `database name ${JSON.stringify(name)} is not valid: use letters, digits, - and _ (at most 64)`, { name });
  const { header, sqlite } = decodeImage(image);
  const owned = encodeImage({ ...header, name, owner: dataDirOwner(dataDir).toHexString() }, sqlite);
  // Checked before the database it replaces is touched: a module that does not load loses nothing.
  await importDatabase(name, owned);
  const dir = databaseDir(dataDir, name);
  await fileDurability(dir).destroy(); // DATABASE_IN_USE while another process has it open
  await Engine.importImage(fileDurability(dir), name, owned);
  const db = await openDatabase({ dataDir, name });
  try {
    return { identity: db.identity.toHexString(), tables: (await db.describe()).tables.length };
  } finally {
    await db.close();
  }
}
