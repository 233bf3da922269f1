// The exclusive lock of a file data directory. The lock itself is held by the kernel: a listening
// local socket whose address is derived from the directory (an abstract Unix socket on Linux, a
// named pipe on Windows, a socket file elsewhere). The kernel closes it when the holder's process
// ends — kill -9 included, before the process is even reaped — so a zombie holder or a reused pid
// can never keep a directory "in use". A LOCK file beside the data names the holder (pid, host,
// since) for error messages, and guards against a holder on another host sharing the directory.

import { createHash, randomBytes } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { hostname, tmpdir } from 'node:os';
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
  // Reserve before the first await, so two opens in this thread cannot both get past here.
  held.add(dir);
  let server: Server | undefined;
  try {
    const lockPath = join(dir, LOCK_FILE);
    server = await listenExclusive(socketAddress(dir));
    if (server === undefined) {
      // A live process (or another thread of this one) holds the kernel lock.
      const holder = await readLock(fs, lockPath);
      throw inUse(dir, holder ?? { pid: undefined, host: undefined, since: undefined }, holder?.pid === process.pid);
    }
    const existing = await readLock(fs, lockPath);
    // The kernel lock is ours, so a LOCK written on this host is stale, whatever pid it names.
    // Written on another host (a shared directory), its holder's kernel lock is out of our sight.
    if (existing !== undefined && existing.host !== undefined && existing.host !== hostname()) throw inUse(dir, existing, false);
    const token = randomBytes(8).toString('hex');
    const content = `${JSON.stringify({ pid: process.pid, host: hostname(), token, since: new Date().toISOString() })}\n`;
    await writeLockFile(fs, lockPath, content, token);
    return new HeldLock(fs, dir, lockPath, token, server);
  } catch (error) {
    server?.close();
    held.delete(dir);
    throw error;
  }
}

class HeldLock implements FileLock {
  readonly #fs: DurabilityFs;
  readonly #dir: string;
  readonly #path: string;
  readonly #token: string;
  readonly #server: Server;
  #released = false;

  constructor(fs: DurabilityFs, dir: string, path: string, token: string, server: Server) {
    this.#fs = fs;
    this.#dir = dir;
    this.#path = path;
    this.#token = token;
    this.#server = server;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    try {
      const current = await readLock(this.#fs, this.#path);
      if (current?.token === this.#token) await unlinkIfExists(this.#fs, this.#path);
    } finally {
      // The kernel lock goes last: until the LOCK file is gone, nobody else may write one.
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
      heldLocks().delete(this.#dir);
    }
  }
}

interface LockInfo {
  pid: number | undefined;
  host: string | undefined;
  token: string | undefined;
  since: string | undefined;
}

/**
 * The local socket address of `dir`'s lock. Linux: an abstract socket (no file, gone with the
 * process). Windows: a named pipe. Elsewhere: a socket file in the temp directory (its path must
 * stay short: socket paths are limited to about 100 bytes).
 */
function socketAddress(dir: string): string {
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 32);
  if (process.platform === 'linux') return `\0lightcone-lock-${hash}`;
  if (process.platform === 'win32') return `\\\\?\\pipe\\lightcone-lock-${hash}`;
  return join(tmpdir(), `lightcone-${hash}.sock`);
}

/** Listens on `address`; undefined when a live process listens there already. */
async function listenExclusive(address: string): Promise<Server | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const result = await tryListen(address);
    if (result !== 'EADDRINUSE') return result;
    // An abstract socket or a pipe in use always has a live holder. A socket file may be left
    // behind by a killed holder: if nobody answers on it, remove it and try again.
    if (process.platform === 'linux' || process.platform === 'win32') return undefined;
    if (await answers(address)) return undefined;
    await unlink(address).catch((error: unknown) => {
      if (!isCode(error, 'ENOENT')) throw error;
    });
  }
  return undefined;
}

function tryListen(address: string): Promise<Server | 'EADDRINUSE'> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', (error) => {
      if (isCode(error, 'EADDRINUSE')) resolve('EADDRINUSE');
      else reject(new StorageError('LOCK_FAILED', `could not take the lock (a local socket at ${JSON.stringify(address)}): ${error.message}`, { address }, { cause: error }));
    });
    server.listen({ path: address, exclusive: true }, () => {
      // The lock must not keep the process alive on its own.
      server.unref();
      resolve(server);
    });
  });
}

function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ path: address });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Writes the LOCK file whole (temp file, then rename): a reader never sees half of it. */
async function writeLockFile(fs: DurabilityFs, lockPath: string, content: string, token: string): Promise<void> {
  const bytes = new TextEncoder().encode(content);
  const tmp = `${lockPath}.${token}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.write(bytes, 0, bytes.length, 0);
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, lockPath);
  } catch (error) {
    await unlinkIfExists(fs, tmp);
    throw error;
  }
}

async function readLock(fs: DurabilityFs, lockPath: string): Promise<LockInfo | undefined> {
  let raw: string;
  try {
    raw = new TextDecoder().decode(await fs.readFile(lockPath));
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined; // unreadable: half written by an old build, or damaged
  }
  if (typeof parsed !== 'object' || parsed === null) return { pid: undefined, host: undefined, token: undefined, since: undefined };
  const v = parsed as Record<string, unknown>;
  return {
    pid: Number.isInteger(v.pid) && (v.pid as number) > 0 ? (v.pid as number) : undefined,
    host: typeof v.host === 'string' ? v.host : undefined,
    token: typeof v.token === 'string' ? v.token : undefined,
    since: typeof v.since === 'string' ? v.since : undefined,
  };
}

function inUse(dir: string, holder: Pick<LockInfo, 'pid' | 'host' | 'since'>, sameProcess: boolean): StorageError {
  if (sameProcess) {
    return new StorageError('DATABASE_IN_USE', `database directory "${dir}" is already open in this process (pid ${process.pid}): close the other instance first, or share it`, {
      dir,
      pid: process.pid,
      sameProcess,
    });
  }
  const who = holder.pid === undefined ? 'another process' : `process ${holder.pid}`;
  const elsewhere = holder.host !== undefined && holder.host !== hostname();
  const where = elsewhere ? ` on host ${holder.host}` : '';
  const since = holder.since === undefined ? '' : ` since ${holder.since}`;
  const unstick = elsewhere ? ` If no Lightcone process on ${holder.host} uses this directory any more, delete "${join(dir, LOCK_FILE)}"` : '';
  return new StorageError('DATABASE_IN_USE', `database directory "${dir}" is in use by ${who}${where}${since}: close the database in that process (or stop it) and try again.${unstick}`, {
    dir,
    pid: holder.pid,
    host: holder.host,
    sameProcess,
  });
}

const REGISTRY = Symbol.for('lightcone.durability.fileLocks');

/** Directories locked by this thread, shared by every copy of this module that is loaded. */
function heldLocks(): Set<string> {
  const existing: unknown = Reflect.get(globalThis, REGISTRY);
  if (existing instanceof Set) return existing as Set<string>;
  const created = new Set<string>();
  Reflect.set(globalThis, REGISTRY, created);
  return created;
}
