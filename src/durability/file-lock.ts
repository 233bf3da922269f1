// The exclusive lock of a file data directory: a LOCK file naming the holder (pid, host, token),
// created atomically, plus a per-process registry so two instances in one process also exclude
// each other. A LOCK whose process is dead (crash, kill -9) is taken over.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { StorageError } from '../errors.ts';
import { type DurabilityFs, isCode, unlinkIfExists } from './file-system.ts';

/** A held lock; `release` is idempotent. */
export interface FileLock {
  release(): Promise<void>;
}

/** Name of the lock file inside a data directory. */
export const LOCK_FILE = 'LOCK';

/**
 * Takes the lock of `dir` (an absolute, real path) or throws `StorageError` 'DATABASE_IN_USE'
 * saying which process holds it and what to do.
 */
export async function acquireLock(fs: DurabilityFs, dir: string): Promise<FileLock> {
  const held = heldLocks();
  if (held.has(dir)) throw inUse(dir, { pid: process.pid, host: hostname(), since: undefined }, true);
  // Reserve before the first await, so two opens in this process cannot both get past here.
  held.add(dir);
  try {
    const lockPath = join(dir, LOCK_FILE);
    const token = randomBytes(8).toString('hex');
    const content = `${JSON.stringify({ pid: process.pid, host: hostname(), token, since: new Date().toISOString() })}\n`;
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await tryCreate(fs, lockPath, content, token)) return new HeldLock(fs, dir, lockPath, token);
      const existing = await readLock(fs, lockPath);
      if (existing === undefined) continue; // released meanwhile: try again
      if (existing.live) throw inUse(dir, existing, false);
      await takeOver(fs, lockPath, existing.raw, token);
    }
    throw inUse(dir, (await readLock(fs, lockPath)) ?? { pid: undefined, host: undefined, since: undefined }, false);
  } catch (error) {
    held.delete(dir);
    throw error;
  }
}

class HeldLock implements FileLock {
  readonly #fs: DurabilityFs;
  readonly #dir: string;
  readonly #path: string;
  readonly #token: string;
  #released = false;

  constructor(fs: DurabilityFs, dir: string, path: string, token: string) {
    this.#fs = fs;
    this.#dir = dir;
    this.#path = path;
    this.#token = token;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      const current = await readLock(this.#fs, this.#path);
      if (current?.token === this.#token) await unlinkIfExists(this.#fs, this.#path);
    } finally {
      heldLocks().delete(this.#dir);
    }
  }
}

interface LockInfo {
  raw: string;
  pid: number | undefined;
  host: string | undefined;
  token: string | undefined;
  since: string | undefined;
  live: boolean;
}

/** How long (ms) an unreadable LOCK counts as being written right now rather than left behind. */
const UNREADABLE_GRACE_MS = 5_000;

/**
 * Creates LOCK with its whole content in one atomic step: write a private file, then hard-link it
 * as LOCK (link fails if LOCK exists). File systems without hard links fall back to O_EXCL.
 */
async function tryCreate(fs: DurabilityFs, lockPath: string, content: string, token: string): Promise<boolean> {
  const bytes = new TextEncoder().encode(content);
  const tmp = `${lockPath}.${token}.tmp`;
  const handle = await fs.open(tmp, 'wx');
  try {
    await handle.write(bytes, 0, bytes.length, 0);
  } finally {
    await handle.close();
  }
  try {
    await fs.link(tmp, lockPath);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    if (!isCode(error, 'EPERM', 'ENOTSUP', 'ENOSYS', 'EXDEV', 'EOPNOTSUPP')) throw error;
  } finally {
    await unlinkIfExists(fs, tmp);
  }
  try {
    const direct = await fs.open(lockPath, 'wx');
    try {
      await direct.write(bytes, 0, bytes.length, 0);
    } finally {
      await direct.close();
    }
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw error;
  }
}

async function readLock(fs: DurabilityFs, lockPath: string): Promise<LockInfo | undefined> {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = new TextDecoder().decode(await fs.readFile(lockPath));
    mtimeMs = (await fs.stat(lockPath)).mtimeMs;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (!isLockContent(parsed)) {
    return { raw, pid: undefined, host: undefined, token: undefined, since: undefined, live: Date.now() - mtimeMs < UNREADABLE_GRACE_MS };
  }
  return { raw, pid: parsed.pid, host: parsed.host, token: parsed.token, since: parsed.since, live: isAlive(parsed.pid, parsed.host) };
}

function isLockContent(value: unknown): value is { pid: number; host: string; token: string; since: string } {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Number.isInteger(v.pid) && (v.pid as number) > 0 && typeof v.host === 'string' && typeof v.token === 'string' && typeof v.since === 'string';
}

/**
 * Whether the lock's holder may still run. Our own pid means a previous process that had the same
 * pid (containers restart as pid 1): an instance of this process would be in the registry.
 */
function isAlive(pid: number, host: string): boolean {
  if (host !== hostname()) return true; // cannot check a pid on another machine
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isCode(error, 'EPERM');
  }
}

/**
 * Removes a stale LOCK. It is first renamed aside (atomic) and compared, so that of two processes
 * taking over the same stale lock, neither deletes the fresh LOCK the other one just created.
 */
async function takeOver(fs: DurabilityFs, lockPath: string, staleRaw: string, token: string): Promise<void> {
  const aside = `${lockPath}.stale-${token}`;
  try {
    await fs.rename(lockPath, aside);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return;
    throw error;
  }
  const moved = new TextDecoder().decode(await fs.readFile(aside));
  if (moved !== staleRaw) {
    // A competitor's fresh lock: put it back.
    try {
      await fs.link(aside, lockPath);
    } catch (error) {
      if (!isCode(error, 'EEXIST')) throw error;
    }
  }
  await unlinkIfExists(fs, aside);
}

function inUse(dir: string, holder: Pick<LockInfo, 'pid' | 'host' | 'since'>, sameProcess: boolean): StorageError {
  const lockPath = join(dir, LOCK_FILE);
  if (sameProcess) {
    return new StorageError(
      'DATABASE_IN_USE',
      `database directory "${dir}" is already open in this process (pid ${process.pid}): close the other instance first, or share it`,
      { dir, pid: process.pid, sameProcess },
    );
  }
  const who = holder.pid === undefined ? 'another process' : `process ${holder.pid}`;
  const where = holder.host !== undefined && holder.host !== hostname() ? ` on host ${holder.host}` : '';
  const since = holder.since === undefined ? '' : ` since ${holder.since}`;
  return new StorageError(
    'DATABASE_IN_USE',
    `database directory "${dir}" is in use by ${who}${where}${since}: close the database in that process (or stop it) and try again. If no Lightcone process uses this directory any more, delete "${lockPath}"`,
    { dir, pid: holder.pid, host: holder.host, sameProcess },
  );
}

const REGISTRY = Symbol.for('lightcone.durability.fileLocks');

/** Directories locked by this process, shared by every copy of this module that is loaded. */
function heldLocks(): Set<string> {
  const existing: unknown = Reflect.get(globalThis, REGISTRY);
  if (existing instanceof Set) return existing as Set<string>;
  const created = new Set<string>();
  Reflect.set(globalThis, REGISTRY, created);
  return created;
}
