// The session: every publish and every call the playground makes, in order (the call log), kept in
// IndexedDB across reloads, with time travel, export/import and share links.
//
// Recording: the runtime (../runtime.ts) tells every publish and call it makes; calls made while
// replaying carry `replay: true` and are not recorded again. Each call runs at a timestamp the
// runtime chose (and reports), so a replay can run it at the same time.
//
// Time travel is exact: before each call the runtime awaits `beforeCall`, where the session keeps
// the database's image (`db.export()`: identity, module, rows) under the call's id. "Restore to
// before this call" imports that image. Images are kept for the newest MAX_IMAGES calls; before
// an older call, the session imports the newest image before it and replays the calls between
// (or replays from the start when there is none).
//
// Replay (a share link, an imported file, or a restore without an image) publishes each module
// that was published (the first on a fresh database) and runs each call with its recorded sender
// and timestamp, so `ctx.timestamp`, `ctx.random` and what reducers store from them come out the
// same. What differs in a replay: the database's own identity and the owner's (each browser has
// its own; calls as a guest identity are the same everywhere), the connection ids of calls, the
// time `init` ran, and scheduled reducers, which run on their own clock. A replayed call whose
// outcome differs from the recorded one is reported.
import type { CallOutcome, PlaygroundEvent, PlaygroundIdentity, Runtime } from '../runtime.ts';
import { readArgs, writeArgs, writeValue } from './args.ts';
import { type CallEntry, type CallOutcomeRecord, type PublishEntry, readDocument, SESSION_FORMAT, SESSION_VERSION, type SessionDocument, writeDocument } from './document.ts';
import { SessionError } from './errors.ts';
import { readShareHash, shareUrl } from './share.ts';
import type { LocalEntry, SessionStore } from './store.ts';

/** Calls whose images are kept (newest first); older ones are restored by replaying from one of these. */
export const MAX_IMAGES = 50;

/** What the session needs of the editor. */
export interface SessionEditor {
  readonly source: string;
  setSource(text: string): void;
}

/** What a replay found: calls whose outcome differs from the recorded one. */
export interface ReplayReport {
  replayed: number;
  mismatches: string[];
}

export type SessionListener = () => void;

export class Session {
  readonly #runtime: Runtime;
  readonly #editor: SessionEditor;
  readonly #store: SessionStore;
  #entries: LocalEntry[] = [];
  /** Ids of entries whose image (from before the call) is stored. */
  readonly #imaged = new Set<string>();
  /** While replaying: the entry whose call is running (its image is kept under its id). */
  #replayingId: string | undefined;
  /** What the session is doing now ("Replaying 3 of 10"), or undefined. */
  #activity: string | undefined;
  /** Entries are written in order, one write at a time. */
  #writes: Promise<void> = Promise.resolve();
  readonly #listeners = new Set<SessionListener>();
  /** Resolves once the stored entries are loaded. */
  readonly ready: Promise<void>;

  constructor(runtime: Runtime, editor: SessionEditor, store: SessionStore) {
    this.#runtime = runtime;
    this.#editor = editor;
    this.#store = store;
    // Listening starts now, before the runtime opens: the first publish is recorded too.
    runtime.on((event) => this.#record(event));
    runtime.beforeCall = (db, id) => this.#keepImage(() => db.export(), this.#replayingId ?? id);
    this.ready = (async () => {
      const [stored, imaged] = await Promise.all([store.entries(), store.imageIds()]);
      this.#entries = [...stored, ...this.#entries];
      for (const id of imaged) this.#imaged.add(id);
      this.#changed();
    })();
  }

  /** The log, oldest first. */
  get entries(): readonly LocalEntry[] {
    return this.#entries;
  }

  /** What the session is doing now (a replay, a restore), for the panel. */
  get activity(): string | undefined {
    return this.#activity;
  }

  /** Whether the call `id` can be restored from its own image, without a replay. */
  hasImage(id: string): boolean {
    return this.#imaged.has(id);
  }

  on(listener: SessionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const l of [...this.#listeners]) {
      try {
        l();
      } catch (error) {
        console.error('playground session: a listener threw', error);
      }
    }
  }

  // ── recording ──

  #record(event: PlaygroundEvent): void {
    if (event.type === 'publish' && !event.replay) {
      const o = event.outcome;
      const entry: PublishEntry & { id: string } = { kind: 'publish', id: crypto.randomUUID(), at: event.at, source: event.source, reset: event.reset, outcome: o.ok ? 'ok' : o.stage };
      if (!o.ok) entry.message = o.message;
      if (!o.ok && o.stage === 'refused') entry.reasons = o.reasons;
      this.#append(entry);
    } else if (event.type === 'call' && !event.replay) {
      let args: string;
      try {
        args = writeArgs(event.args);
      } catch (error) {
        console.error(`playground session: call ${event.name} not recorded`, error);
        return;
      }
      const entry: CallEntry & { id: string } = {
        kind: 'call',
        id: event.id,
        at: event.at,
        timestamp: event.timestamp.toString(),
        name: event.name,
        args,
        sender: event.sender.label,
        senderHex: event.sender.hex || this.#runtime.db?.owner.toHexString() || '0'.repeat(64),
        outcome: outcomeRecord(event.outcome),
        changes: countChanges(event.changes),
      };
      if (event.kind === 'procedure') entry.procedure = true;
      this.#append(entry);
    }
  }

  #append(entry: LocalEntry): void {
    this.#entries = [...this.#entries, entry];
    this.#save();
    this.#changed();
  }

  /** Writes the entries (after what was queued before: writes land in order). */
  #save(): Promise<void> {
    const write = this.#writes.then(async () => {
      await this.ready;
      await this.#store.setEntries(this.#entries);
    });
    this.#writes = write.catch((error: unknown) => console.error('playground session: the call log could not be saved', error));
    return write;
  }

  async #keepImage(exportImage: () => Promise<Uint8Array>, id: string): Promise<void> {
    try {
      const image = await exportImage();
      await this.#store.putImage(id, image);
      this.#imaged.add(id);
      await this.#prune();
    } catch (error) {
      // Without an image this call is restored by replaying; the call itself goes on.
      console.warn('playground session: no image kept before the call', error);
    }
  }

  /** Deletes the images of all but the newest MAX_IMAGES calls. */
  async #prune(): Promise<void> {
    if (this.#imaged.size <= MAX_IMAGES) return;
    // Oldest first: the log's calls in order (an image of a call not in the log yet is the newest).
    const inLog = this.#entries.filter((e) => this.#imaged.has(e.id)).map((e) => e.id);
    const drop = inLog.slice(0, this.#imaged.size - MAX_IMAGES);
    await this.#store.deleteImages(drop);
    for (const id of drop) this.#imaged.delete(id);
  }

  // ── documents ──

  /** The session as a document (the bug-report format). */
  toDocument(): SessionDocument {
    const doc: SessionDocument = { format: SESSION_FORMAT, version: SESSION_VERSION, savedAt: new Date().toISOString(), entries: this.#entries.map(({ id: _id, ...e }) => e) };
    const editor = this.#editor.source;
    if (editor !== this.#lastSource(this.#entries.length)) doc.editor = editor;
    return doc;
  }

  /** The document's text, as `Export session` saves it. */
  exportText(): string {
    return writeDocument(this.toDocument());
  }

  /** A link that reproduces this session where it is opened. */
  shareLink(base: string): Promise<string> {
    return shareUrl(base, this.toDocument());
  }

  /**
   * Loads a session file's text: checks it all first (a SessionError changes nothing), keeps the
   * current session as the previous one, then replays the file into a fresh database.
   */
  async importText(text: string, what: string): Promise<ReplayReport> {
    const doc = readDocument(text, what);
    return this.load(doc);
  }

  /** Loads the session a share link's hash carries (undefined: it carries none). Errors as importText. */
  async openHash(hash: string): Promise<ReplayReport | undefined> {
    const doc = await readShareHash(hash);
    return doc === undefined ? undefined : this.load(doc);
  }

  /** Replaces the session with `doc` (replayed into a fresh database); the current one becomes the previous one. */
  async load(doc: SessionDocument): Promise<ReplayReport> {
    await this.ready;
    const current = this.toDocument();
    if (current.entries.length > 0) await this.#store.setPrevious(current);
    const entries: LocalEntry[] = doc.entries.map((e) => ({ ...e, id: crypto.randomUUID() }));
    await this.#store.deleteImages([...this.#imaged]);
    this.#imaged.clear();
    this.#entries = entries;
    await this.#save();
    this.#changed();
    const report = await this.#replay(entries, { fresh: true });
    const source = doc.editor ?? this.#lastSource(entries.length);
    if (source !== undefined && source !== this.#editor.source) this.#editor.setSource(source);
    return report;
  }

  /** The session that the last load replaced, if any. */
  previous(): Promise<SessionDocument | undefined> {
    return this.#store.previous();
  }

  /** Brings back the session the last load replaced (and keeps this one as the previous one). */
  async loadPrevious(): Promise<ReplayReport | undefined> {
    const doc = await this.#store.previous();
    return doc === undefined ? undefined : this.load(doc);
  }

  // ── time travel ──

  /**
   * Rebuilds the database as it was before call `id` (its image, or a replay up to it) and drops
   * that call and everything after it from the log. The editor gets the module that ran then.
   */
  async restoreBefore(id: string): Promise<ReplayReport> {
    await this.ready;
    const k = this.#entries.findIndex((e) => e.id === id);
    const target = this.#entries[k];
    if (!target) throw new SessionError('REPLAY_FAILED', 'that call is no longer in the log');
    const label = target.kind === 'call' ? `${target.name}(${target.args.slice(1, -1)})` : 'that publish';
    let report: ReplayReport = { replayed: 0, mismatches: [] };
    this.#setActivity(`Restoring to before ${label}…`);
    try {
      const image = this.#imaged.has(id) ? await this.#store.image(id) : undefined;
      if (image) {
        await this.#runtime.restoreImage(image, this.#lastSource(k));
      } else {
        let j = k - 1;
        while (j >= 0 && !this.#imaged.has(this.#entries[j]!.id)) j--;
        const from = j >= 0 ? await this.#store.image(this.#entries[j]!.id) : undefined;
        if (from) {
          await this.#runtime.restoreImage(from, this.#lastSource(j));
          report = await this.#replay(this.#entries.slice(j, k), { fresh: false });
        } else {
          report = await this.#replay(this.#entries.slice(0, k), { fresh: true });
        }
      }
    } catch (error) {
      this.#setActivity(undefined);
      throw error instanceof SessionError ? error : new SessionError('REPLAY_FAILED', `restoring to before ${label} failed: ${(error as Error).message}`);
    }
    const removed = this.#entries.slice(k).map((e) => e.id);
    this.#entries = this.#entries.slice(0, k);
    await this.#store.deleteImages(removed.filter((r) => this.#imaged.has(r)));
    for (const r of removed) this.#imaged.delete(r);
    await this.#save();
    const source = this.#lastSource(k);
    if (source !== undefined && source !== this.#editor.source) this.#editor.setSource(source);
    this.#setActivity(undefined);
    return report;
  }

  /** The source of the last successful publish among the first `n` entries. */
  #lastSource(n: number): string | undefined {
    for (let i = n - 1; i >= 0; i--) {
      const e = this.#entries[i]!;
      if (e.kind === 'publish' && e.outcome === 'ok') return e.source;
    }
    return undefined;
  }

  #setActivity(text: string | undefined): void {
    this.#activity = text;
    this.#changed();
  }

  /**
   * Runs `entries` again through the runtime: each successful publish (the first on a fresh
   * database when `fresh`), each call with its sender and timestamp.
   */
  async #replay(entries: readonly LocalEntry[], opts: { fresh: boolean }): Promise<ReplayReport> {
    const report: ReplayReport = { replayed: 0, mismatches: [] };
    let fresh = opts.fresh;
    try {
      if (fresh && !entries.some((e) => e.kind === 'publish' && e.outcome === 'ok')) {
        // Nothing to publish: an empty database without a module.
        this.#runtime.publishedSource = undefined;
        await this.#runtime.resetData({ replay: true });
        fresh = false;
      }
      for (const [i, e] of entries.entries()) {
        this.#setActivity(`Replaying ${i + 1} of ${entries.length}…`);
        if (e.kind === 'publish') {
          if (e.outcome !== 'ok') continue; // it changed nothing
          const out = await this.#runtime.publish(e.source, { reset: e.reset || fresh, replay: true });
          fresh = false;
          report.replayed++;
          if (!out.ok) report.mismatches.push(`entry ${i + 1} (publish): published when recorded, now ${out.stage === 'refused' ? `refused: ${out.reasons.join('; ')}` : out.message}`);
          continue;
        }
        if (fresh) {
          // A call before any publish: it ran on no module (or on one this log does not hold).
          report.mismatches.push(`entry ${i + 1} (${e.name}): called before any module was published in this log; skipped`);
          continue;
        }
        this.#replayingId = e.id;
        let got: CallOutcome;
        try {
          got = await this.#runtime.call(e.name, readArgs(e.args, `entry ${i + 1}`), { sender: this.#identity(e), replay: true, timestamp: BigInt(e.timestamp) });
        } finally {
          this.#replayingId = undefined;
        }
        report.replayed++;
        const now = outcomeRecord(got);
        if (describeOutcome(now) !== describeOutcome(e.outcome)) report.mismatches.push(`entry ${i + 1} (${e.name}): recorded ${describeOutcome(e.outcome)}, replayed ${describeOutcome(now)}`);
      }
    } finally {
      this.#setActivity(undefined);
    }
    return report;
  }

  /** The identity a recorded call ran as: the same label here (the guests' identities are fixed; 'owner' is this browser's). */
  #identity(e: CallEntry): PlaygroundIdentity {
    return this.#runtime.identities.find((i) => i.label === e.sender) ?? { label: e.sender, hex: e.senderHex };
  }
}

function outcomeRecord(outcome: CallOutcome): CallOutcomeRecord {
  if (outcome.ok) {
    if (outcome.value === undefined) return { ok: true };
    try {
      return { ok: true, value: writeValue(outcome.value) };
    } catch {
      return { ok: true, value: JSON.stringify(String(outcome.value)) };
    }
  }
  const e = outcome.error;
  const code = (e as { code?: unknown }).code;
  return { ok: false, error: e.name || 'Error', ...(typeof code === 'string' ? { code } : {}), message: e.message };
}

/** An outcome in words, for comparing a replay with the record. */
export function describeOutcome(o: CallOutcomeRecord): string {
  if (o.ok) return o.value === undefined ? 'ok' : `ok, returned ${o.value}`;
  return `${o.error}: ${o.message}`;
}

function countChanges(updates: readonly { table: string; inserts: readonly unknown[]; deletes: readonly unknown[] }[]): { table: string; inserts: number; deletes: number }[] {
  const by = new Map<string, { table: string; inserts: number; deletes: number }>();
  for (const u of updates) {
    const c = by.get(u.table) ?? { table: u.table, inserts: 0, deletes: 0 };
    c.inserts += u.inserts.length;
    c.deletes += u.deletes.length;
    by.set(u.table, c);
  }
  return [...by.values()];
}
