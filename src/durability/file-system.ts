// The narrow slice of `node:fs/promises` the file backend uses, as an interface: tests pass a
// wrapped one to inject write failures (ENOSPC, EIO, short writes) without touching the disk.
// Also the small helpers every file operation shares (whole writes, directory fsync, errno).

import * as nodeFs from 'node:fs/promises';

/** The file handle methods the file backend calls (`node:fs/promises` `FileHandle` fits). */
export interface DurabilityFileHandle {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file system functions the file backend calls; `node:fs/promises` fits. Pass a wrapped one as
 * `fileDurability(dir, { fs })` to simulate failures.
 *
 * @example
 * ```ts
 * import * as fsp from 'node:fs/promises';
 * const failing: DurabilityFs = { ...fsp, open: async (p, flags) => wrapHandle(await fsp.open(p, flags)) };
 * ```
 */
export interface DurabilityFs {
  open(path: string, flags: string): Promise<DurabilityFileHandle>;
  readFile(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, options: { recursive: true }): Promise<unknown>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  stat(path: string): Promise<{ mtimeMs: number; size: number }>;
  realpath(path: string): Promise<string>;
}

/** The real file system. */
export const nodeFileSystem: DurabilityFs = nodeFs;

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeAll(handle: DurabilityFileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    done += bytesWritten;
  }
}

/**
 * Fsyncs a directory so that a rename or a new file in it survives a crash. Platforms that cannot
 * open a directory for syncing (Windows) make renames durable on their own; their error is ignored.
 */
export async function syncDir(fs: DurabilityFs, dir: string): Promise<void> {
  let handle: DurabilityFileHandle;
  try {
    handle = await fs.open(dir, 'r');
  } catch (error) {
    if (isCode(error, 'EISDIR', 'EPERM', 'EACCES')) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!isCode(error, 'EISDIR', 'EINVAL', 'EPERM', 'EBADF', 'ENOTSUP')) throw error;
  } finally {
    await handle.close();
  }
}

/** The `code` of a Node system error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

/** True when `error` is a Node system error with one of `codes`. */
export function isCode(error: unknown, ...codes: string[]): boolean {
  const code = errorCode(error);
  return code !== undefined && codes.includes(code);
}

/** Removes a file; a file that is already gone is fine. */
export async function unlinkIfExists(fs: DurabilityFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if (!isCode(error, 'ENOENT')) throw error;
  }
}
