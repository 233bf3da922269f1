// When a database writes a snapshot. Opening replays the log written since the last snapshot, so
// the log must stay short relative to the image; writing an image costs its whole size, so not
// after every commit; and under sustained load at most one image may exist beside the live
// database at a time. The engine reports commits and snapshots; this says when one is due.

/** The least log growth (bytes) that triggers a snapshot by size. */
const MIN_LOG_BYTES = 1 << 20;
/** The least log an idle database snapshots away. */
const MIN_IDLE_LOG_BYTES = 64 << 10;
/** An idle database snapshots away a log over this fraction (1/n) of its image. */
const IDLE_IMAGE_SHARE = 512;

/** Counters for tests and benchmarks. */
export interface SnapshotStats {
  /** Snapshots whose image was exported. */
  started: number;
  /** Snapshots that reached storage. */
  written: number;
}

/**
 * A snapshot is due after `every` records, or once the log since the last snapshot outweighs an
 * eighth of that snapshot's image (at least 1 MiB) — so a cold start replays little, at the price
 * of writing the image about eight times as often as its size in log — and never while one is
 * being written (a later trigger waits for it instead of exporting a second image).
 */
export class SnapshotPolicy {
  readonly #every: number;
  #records: number;
  #logBytes: number;
  #imageBytes: number;
  #inFlight = false;
  /** After a snapshot could not start: the log (records, bytes) before which none is tried again. */
  #retryAt: { records: number; bytes: number } | undefined;
  readonly stats: SnapshotStats = { started: 0, written: 0 };

  /** `records` and `logBytes`: the log replayed at open, on top of an image of `imageBytes`. */
  constructor(every: number, records = 0, logBytes = 0, imageBytes = 0) {
    this.#every = every;
    this.#records = records;
    this.#logBytes = logBytes;
    this.#imageBytes = imageBytes;
  }

  /** A record of `bytes` was appended to the log. */
  logged(bytes: number): void {
    this.#records++;
    this.#logBytes += bytes;
  }

  /** An image of `imageBytes` now covers everything logged so far (a publish or migration wrote it). */
  covered(imageBytes?: number): void {
    this.#records = 0;
    this.#logBytes = 0;
    this.#retryAt = undefined;
    if (imageBytes !== undefined) this.#imageBytes = imageBytes;
  }

  /** Whether to snapshot now: never with nothing new or one in flight; `force` skips the size rules. */
  due(force = false): boolean {
    if (this.#records === 0 || this.#inFlight) return false;
    if (force) return true;
    if (this.#deferring()) return false;
    return this.#records >= this.#every || this.#logBytes >= Math.max(MIN_LOG_BYTES, this.#imageBytes / 8);
  }

  /**
   * Whether to snapshot now that the database is idle: when the log outweighs a 512th of the
   * image (at least 64 KiB). Replaying a byte of log costs 30 to 130 times what reading and
   * deserializing a byte of image does (each row is decoded and inserted again, in code not yet
   * optimized at open), so this keeps a cold start's replay within about a fifth of its image
   * load. Waiting for a pause keeps these image writes away from calls; they cost at most 512
   * bytes of image per byte of log.
   */
  dueWhenIdle(): boolean {
    if (this.#records === 0 || this.#inFlight || this.#deferring()) return false;
    return this.#logBytes >= Math.max(MIN_IDLE_LOG_BYTES, this.#imageBytes / IDLE_IMAGE_SHARE);
  }

  /** Whether closing should snapshot: enough records that the next open would replay noticeably. */
  dueAtClose(): boolean {
    return this.#records >= Math.min(this.#every, 100);
  }

  /**
   * A snapshot could not start (no memory for its copy): the next try (by load or when idle)
   * waits until as much log again has grown, rather than coming at every commit (each try asks
   * for an image-sized buffer). The log keeps everything meanwhile, and the counts since the last
   * snapshot go on, so close still snapshots a long log.
   */
  deferred(): void {
    this.#retryAt = { records: this.#records + this.#every, bytes: this.#logBytes + Math.max(MIN_LOG_BYTES, this.#imageBytes / 8) };
  }

  /** Whether a snapshot that could not start waits for more log before the next try (close does not wait). */
  #deferring(): boolean {
    const at = this.#retryAt;
    return at !== undefined && this.#records < at.records && this.#logBytes < at.bytes;
  }

  /** A snapshot with an image of `imageBytes` was exported; it covers the log so far once written. */
  started(imageBytes: number): void {
    this.covered(imageBytes);
    this.#inFlight = true;
    this.stats.started++;
  }

  /** The snapshot in flight reached storage (`ok`) or failed (the log keeps everything). */
  settled(ok: boolean): void {
    this.#inFlight = false;
    if (ok) this.stats.written++;
  }
}
