// The durability of a database whose engine runs in a worker thread: the group-commit core runs
// next to the engine, the backend (files and their lock, or an in-memory store) stays on the main
// thread. The engine thread may then be terminated at any moment (a runaway call) without leaving
// a half-done write, a held lock or an open file behind, and an in-memory database outlives it.
import { imageBytes, type LogRecord, type Recovered, type Snapshot, type SnapshotToWrite } from '../durability/durability.ts';
import type { DurabilityBackend } from '../durability/group-commit.ts';
import { deserializeError, serializeError } from '../client/wire.ts';
import type { FromEngine, StorageOp, ToEngine } from './thread-protocol.ts';

/** Engine-thread side: a backend whose every operation runs on the main thread. */
export class RemoteBackend implements DurabilityBackend {
  readonly label: string;
  readonly #post: (msg: FromEngine, transfer?: ArrayBuffer[]) => void;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  #next = 1;

  constructor(label: string, post: (msg: FromEngine, transfer?: ArrayBuffer[]) => void) {
    this.label = label;
    this.#post = post;
  }

  open(): Promise<Recovered> {
    return this.#ask('open', []) as Promise<Recovered>;
  }
  async appendBatch(records: readonly LogRecord[]): Promise<void> {
    // One buffer for the batch, moved: cloning many small arrays costs more than the engine's work.
    let size = 0;
    for (const r of records) size += r.payload.length;
    const bytes = new Uint8Array(size);
    const ends = new Uint32Array(records.length);
    let at = 0;
    records.forEach((r, i) => {
      bytes.set(r.payload, at);
      at += r.payload.length;
      ends[i] = at;
    });
    await this.#ask('appendBatch', [records[0]!.lsn, ends, bytes], bytes.buffer);
  }
  async writeSnapshot(snapshot: SnapshotToWrite): Promise<void> {
    // Nothing reads the image after it is handed to the backend: move it rather than copy it.
    const image = imageBytes(snapshot.image);
    await this.#ask('writeSnapshot', [{ lsn: snapshot.lsn, image }], ownBuffer(image));
  }
  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.#ask('getMeta', [key]) as Promise<Uint8Array | undefined>;
  }
  async putMeta(key: string, value: Uint8Array): Promise<void> {
    await this.#ask('putMeta', [key, value]);
  }
  async close(): Promise<void> {
    await this.#ask('close', []);
  }
  async destroy(opened: boolean): Promise<void> {
    await this.#ask('destroy', [opened]);
  }

  /** Settles an operation with the main thread's answer. */
  settle(msg: Extract<ToEngine, { t: 'storage' }>): void {
    const p = this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.value);
    else p.reject(deserializeError(msg.error));
  }

  #ask(op: StorageOp, args: unknown[], transfer?: ArrayBuffer): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      postMoving(this.#post, { t: 'storage', id, op, args }, transfer);
    });
  }
}

/** Main-thread side: runs the engine thread's storage operations on the real backend. */
export class StorageServer {
  readonly backend: DurabilityBackend;
  /** Whether the backend is open (so it must be closed when the engine thread goes away). */
  #open = false;
  readonly #running = new Set<Promise<unknown>>();

  constructor(backend: DurabilityBackend) {
    this.backend = backend;
  }

  /** Runs one operation and answers through `reply` (a thread that died meanwhile gets nothing). */
  handle(msg: Extract<FromEngine, { t: 'storage' }>, reply: (msg: ToEngine, transfer?: ArrayBuffer[]) => void): void {
    const run = this.#run(msg.op, msg.args).then(
      (value) => {
        // The recovered image is of no use here once sent: move it.
        const image = msg.op === 'open' ? (value as Recovered).snapshot?.image : undefined;
        postMoving(reply, { t: 'storage', id: msg.id, ok: true, value } as ToEngine, image && ownBuffer(image));
      },
      (error: unknown) => reply({ t: 'storage', id: msg.id, ok: false, error: serializeError(error) }),
    );
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /**
   * After the engine thread died: lets the operations it started finish (a write in progress
   * completes or fails as a whole, as with a crash), then releases the storage.
   */
  async release(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
    if (!this.#open) return;
    this.#open = false;
    await this.backend.close();
  }

  #run(op: StorageOp, args: unknown[]): Promise<unknown> {
    const b = this.backend;
    switch (op) {
      case 'open':
        return b.open().then((recovered) => {
          this.#open = true;
          return recovered;
        });
      case 'appendBatch':
        return b.appendBatch(unpack(args[0] as bigint, args[1] as Uint32Array, args[2] as Uint8Array));
      case 'writeSnapshot':
        return b.writeSnapshot(args[0] as Snapshot);
      case 'getMeta':
        return b.getMeta(args[0] as string);
      case 'putMeta':
        return b.putMeta(args[0] as string, args[1] as Uint8Array);
      case 'close':
        this.#open = false;
        return b.close();
      case 'destroy':
        this.#open = false;
        return b.destroy(args[0] as boolean);
    }
  }
}

/** The records of a batch packed by `RemoteBackend.appendBatch` (contiguous lsns from `first`). */
function unpack(first: bigint, ends: Uint32Array, bytes: Uint8Array): LogRecord[] {
  const records: LogRecord[] = new Array<LogRecord>(ends.length);
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    records[i] = { lsn: first + BigInt(i), payload: bytes.subarray(start, ends[i]) };
    start = ends[i]!;
  }
  return records;
}

/** The array's buffer when the array owns all of it (so moving it loses nothing else). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer | undefined {
  const buffer = bytes.buffer;
  return buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ? buffer : undefined;
}

/** Posts `msg`, moving `transfer` when the platform allows it (else copying). */
export function postMoving<M>(post: (msg: M, transfer?: ArrayBuffer[]) => void, msg: M, transfer: ArrayBuffer | undefined): void {
  if (transfer === undefined) return post(msg);
  try {
    post(msg, [transfer]);
  } catch {
    post(msg); // e.g. a buffer that cannot be detached: a copy is as good
  }
}
