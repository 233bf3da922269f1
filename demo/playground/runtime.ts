// The playground's one way to the database: every publish and every reducer/procedure call goes
// through `Runtime` (publish, call), which tells its listeners what happened (`PlaygroundEvent`).
// The session (demo/playground/session/) records from these events and replays through the same
// methods with `replay: true`, so a replayed call is not recorded twice.
//
// "Reset data" after a refused migration uses the refusal's own reset() (the data is deleted in
// place); any other reset (the session's replays, a stuck engine) moves to a fresh database name
// (`<base>-<n>`) and deletes the old one's storage.
//
// The database runs in a dedicated worker (transport 'dedicated'): closing the connection ends
// that worker and its engine, which is what "Stop and restart the engine" needs; the engine's own
// time limit (a short budget, CALL_TIMEOUT_MS) stops a reducer that loops forever.
import { connect, MigrationRefusedError, ModuleError, SenderError, type BrowserDatabase, type PublishResult, type SchemaDescription, type TableUpdate } from 'lightcone';
import { type BundleResult, type Diagnostic, Bundler } from './bundler.ts';

/** How long one call may keep the engine busy in the playground (a loop is stopped after this). */
export const CALL_TIMEOUT_MS = 3_000;

/** An identity to call as. `label` is stable across browsers; `hex` of 'owner' is this origin's owner. */
export interface PlaygroundIdentity {
  label: string;
  hex: string;
}

/** Fixed identities besides the owner, the same in every browser (so a shared session replays alike). */
export const GUESTS: readonly PlaygroundIdentity[] = [
  { label: 'alice', hex: `c200${'a1'.repeat(30)}` },
  { label: 'bob', hex: `c200${'b0'.repeat(30)}` },
  { label: 'carol', hex: `c200${'ca'.repeat(30)}` },
];

export type PublishOutcome =
  | { ok: true; result: PublishResult; bundle: BundleResult; changes: string[] }
  /** The source does not bundle: esbuild's messages, with positions. */
  | { ok: false; stage: 'bundle'; diagnostics: Diagnostic[]; message: string }
  /** SpacetimeDB's migration rules refuse the change: each reason; "Reset data" publishes anyway. */
  | { ok: false; stage: 'refused'; reasons: string[]; message: string; error: Error }
  /** The module threw while loading, timed out, or the engine failed otherwise. */
  | { ok: false; stage: 'load'; message: string; error: Error };

export type CallOutcome = { ok: true; value: unknown } | { ok: false; error: Error; senderError: boolean; timeLimit: boolean };

export type PlaygroundEvent =
  | { type: 'publish'; at: number; source: string; outcome: PublishOutcome; replay: boolean; reset: boolean }
  | {
      type: 'call';
      /** Unique per call (also the engine's idempotency id). */
      id: string;
      at: number;
      kind: 'reducer' | 'procedure';
      name: string;
      /** Positional arguments, in the module library's own JS types (bigint, Identity, …). */
      args: unknown[];
      sender: PlaygroundIdentity;
      /** The call's ctx.timestamp (µs since the epoch): a replay passes it back (`call(…, { timestamp })`). */
      timestamp: bigint;
      outcome: CallOutcome;
      /** What the call's transaction changed, as the runtime's own subscription saw it (best effort: a scheduled reducer running meanwhile lands here too). */
      changes: TableUpdate[];
      replay: boolean;
    }
  /** A new database handle (first connect, after reset or restart): panels subscribe again. */
  | { type: 'connected'; db: BrowserDatabase; schema: SchemaDescription | undefined }
  /** The module's schema changed (a publish): forms and tables rebuild. */
  | { type: 'schema'; schema: SchemaDescription | undefined }
  | { type: 'engine'; state: EngineState; message?: string }
  | { type: 'identity'; identity: PlaygroundIdentity };

export type EngineState = 'starting' | 'ready' | 'busy' | 'stopped' | 'restarting';

type Listener = (event: PlaygroundEvent) => void;

/** Where the runtime keeps which database it uses (a reset moves to a fresh one). */
const GENERATION_KEY = 'lightcone-playground:generation';

export class Runtime {
  /** The open database, once connected (replaced by reset and restart). */
  db: BrowserDatabase | undefined;
  /** The module source last published successfully (what runs now). */
  publishedSource: string | undefined;
  /** The schema of the running module. */
  schema: SchemaDescription | undefined;
  /** Who calls: 'owner' or one of GUESTS. */
  identity: PlaygroundIdentity = { label: 'owner', hex: '' };
  state: EngineState = 'starting';
  readonly bundler = new Bundler();
  readonly #listeners = new Set<Listener>();
  /** The database's base name (`?db=` or 'playground'); resets add `-<n>`. */
  readonly base: string;
  #generation: number;
  /** The last publish's refusal (its bundle and the error whose `reset()` is the way past it). */
  #refused: { code: string; db: BrowserDatabase; error: MigrationRefusedError } | undefined;
  /** Calls and publishes run one at a time (the call log is a sequence). */
  #queue: Promise<unknown> = Promise.resolve();
  /** Updates seen by the runtime's own subscription while a call is pending. */
  #collecting: TableUpdate[] | undefined;
  #watch: { unsubscribe(): void } | undefined;
  /** The last call's timestamp: each call gets a later one, even when the clock stands still. */
  #lastTimestamp = 0n;
  /**
   * Awaited in the queue before each call runs, with the call's id (the session keeps the
   * database's image from just before it: "restore to before this call"). What it throws is ignored.
   */
  beforeCall: ((db: BrowserDatabase, id: string) => Promise<void>) | undefined;

  /** This runtime's call budget (CALL_TIMEOUT_MS unless given). */
  readonly callTimeoutMs: number;

  constructor(base = 'playground', opts: { callTimeoutMs?: number } = {}) {
    this.callTimeoutMs = opts.callTimeoutMs ?? CALL_TIMEOUT_MS;
    this.base = base;
    this.#generation = Number(localStorage.getItem(`${GENERATION_KEY}:${base}`) ?? '0') || 0;
  }

  /** The database's name now (`<base>` or `<base>-<n>` after resets). */
  get dbName(): string {
    return this.#generation === 0 ? this.base : `${this.base}-${this.#generation}`;
  }

  /** Every identity one may call as, the owner first. */
  get identities(): PlaygroundIdentity[] {
    return [{ label: 'owner', hex: this.db?.owner.toHexString() ?? '' }, ...GUESTS];
  }

  on(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: PlaygroundEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch (error) {
        console.error('playground: a listener threw', error);
      }
    }
  }

  #setState(state: EngineState, message?: string): void {
    this.state = state;
    this.#emit({ type: 'engine', state, ...(message !== undefined ? { message } : {}) });
  }

  /** Runs `f` after everything queued before it. */
  #serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(f, f);
    this.#queue = next.catch(() => {});
    return next;
  }

  setIdentity(label: string): void {
    const found = this.identities.find((i) => i.label === label);
    if (!found) throw new Error(`no identity ${label}: pick one of ${this.identities.map((i) => i.label).join(', ')}`);
    this.identity = found;
    this.#emit({ type: 'identity', identity: found });
  }

  /** Opens the database (existing, or created by the first publish). Call once at start. */
  async start(): Promise<void> {
    await this.#serial(() => this.#open(undefined));
  }

  async #open(code: string | undefined): Promise<PublishResult | undefined> {
    this.#setState(this.db ? 'restarting' : 'starting');
    this.#watch?.unsubscribe();
    const old = this.db;
    this.db = undefined;
    await old?.close();
    let db: BrowserDatabase;
    try {
      db = await connect({ name: this.dbName, transport: 'dedicated', limits: { callTimeoutMs: this.callTimeoutMs }, ...(code !== undefined ? { module: { code } } : {}) });
    } catch (error) {
      // No module yet (a new database without one), or one that no longer loads.
      if (code === undefined && isNoDatabase(error)) {
        this.schema = undefined;
        this.#setState('ready');
        return undefined;
      }
      this.#setState('stopped', (error as Error).message);
      throw error;
    }
    this.db = db;
    if (this.identity.label === 'owner') this.identity = { label: 'owner', hex: db.owner.toHexString() };
    this.schema = await db.describe().catch(() => undefined);
    this.publishedSource ??= undefined;
    this.#watchChanges();
    this.#setState('ready');
    this.#emit({ type: 'connected', db, schema: this.schema });
    return 'created';
  }

  /** One subscription over every table, to tell what each call changed. */
  #watchChanges(): void {
    const db = this.db;
    if (!db || !this.schema) return;
    const tables = this.schema.tables.filter((t) => !t.event).map((t) => `SELECT * FROM ${t.name}`);
    if (tables.length === 0) return;
    const sub = db.subscribe(
      tables,
      {
        onUpdate: (update) => this.#collecting?.push(...update),
        onError: () => {},
      },
      { confirmedReads: false },
    );
    this.#watch = sub;
  }

  /**
   * Bundles `source` and publishes it with SpacetimeDB's migration rules. With `reset`, the data
   * is deleted first (a fresh database), so any change is accepted. Never throws: the outcome says.
   */
  publish(source: string, opts: { reset?: boolean; replay?: boolean } = {}): Promise<PublishOutcome> {
    return this.#serial(async () => {
      const at = Date.now();
      const outcome = await this.#publish(source, opts.reset === true);
      this.#emit({ type: 'publish', at, source, outcome, replay: opts.replay === true, reset: opts.reset === true });
      return outcome;
    });
  }

  async #publish(source: string, reset: boolean): Promise<PublishOutcome> {
    performance.mark('playground:publish-start');
    const bundled = await this.bundler.bundle(source);
    performance.mark('playground:bundled');
    if (!bundled.ok) return { ok: false, stage: 'bundle', diagnostics: bundled.diagnostics, message: bundled.diagnostics.map(formatDiagnostic).join('\n') };
    const { code } = bundled.bundle;
    this.#setState('busy');
    try {
      let result: PublishResult | undefined;
      let opened = false; // a new handle (#open) comes with its own change watch
      const refused = this.#refused;
      this.#refused = undefined;
      if (reset && refused?.code === code && refused.db === this.db) {
        // Reset after a refusal: the error's own way out deletes the data in place and publishes anew.
        result = (await refused.error.reset()) as PublishResult;
      } else if (reset) {
        await this.#freshDatabase();
        result = await this.#open(code);
        opened = true;
      } else if (!this.db) {
        result = await this.#open(code);
        opened = true;
      } else {
        result = await this.db.publish({ code, entry: 'module.ts', hash: bundled.bundle.hash });
      }
      performance.mark('playground:published');
      this.publishedSource = source;
      this.schema = await this.db!.describe().catch(() => undefined);
      if (!opened) {
        this.#watch?.unsubscribe();
        this.#watchChanges();
      }
      this.#setState('ready');
      this.#emit({ type: 'schema', schema: this.schema });
      return { ok: true, result: result ?? 'created', bundle: bundled.bundle, changes: [] };
    } catch (error) {
      const e = error as Error;
      if (e instanceof ModuleError && e.code === 'MIGRATION_REFUSED') {
        if (e instanceof MigrationRefusedError && this.db) this.#refused = { code, db: this.db, error: e };
        this.#setState('ready');
        const refused = (e.details as { refused?: unknown }).refused;
        const reasons = Array.isArray(refused) ? refused.map(String) : [e.message];
        return { ok: false, stage: 'refused', reasons, message: e.message, error: e };
      }
      this.#setState(this.db ? 'ready' : 'stopped', e.message);
      return { ok: false, stage: 'load', message: e.message, error: e };
    }
  }

  /**
   * Calls a reducer or procedure as the current identity (or `opts.sender`). Never throws: the
   * outcome says (a SenderError, a time limit, …).
   */
  call(name: string, args: unknown[], opts: { sender?: PlaygroundIdentity; replay?: boolean; timestamp?: bigint } = {}): Promise<CallOutcome> {
    return this.#serial(async () => {
      const sender = opts.sender ?? this.identity;
      const id = crypto.randomUUID();
      const at = Date.now();
      const now = BigInt(at) * 1000n;
      const timestamp = opts.timestamp ?? (now > this.#lastTimestamp ? now : this.#lastTimestamp + 1n);
      this.#lastTimestamp = timestamp;
      const kind: 'reducer' | 'procedure' = this.schema?.procedures.some((p) => p.name === name) ? 'procedure' : 'reducer';
      const changes: TableUpdate[] = [];
      let outcome: CallOutcome;
      const db = this.db;
      if (!db) {
        outcome = { ok: false, error: new Error('no module is running: publish one first'), senderError: false, timeLimit: false };
      } else {
        this.#setState('busy');
        await this.beforeCall?.(db, id).catch(() => {});
        this.#collecting = changes;
        try {
          const senderHex = sender.label === 'owner' ? db.owner.toHexString() : sender.hex;
          const value = await db.call(name, args, { sender: senderHex, callId: id, timestamp });
          outcome = { ok: true, value };
          // The subscription's update travels beside the answer: let it arrive (a query is one more round trip behind the commit).
          await db.query('SELECT * FROM __lightcone_none__').catch(() => {});
        } catch (error) {
          const e = error instanceof Error ? error : new Error(String(error));
          const timeLimit = (e as { code?: string }).code === 'TIME_LIMIT';
          outcome = { ok: false, error: e, senderError: e instanceof SenderError, timeLimit };
        } finally {
          this.#collecting = undefined;
          if (this.db === db) this.#setState('ready'); // else stop() or a restart replaced it and says where it stands
        }
      }
      this.#emit({ type: 'call', id, at, kind, name, args, sender, timestamp, outcome, changes, replay: opts.replay === true });
      return outcome;
    });
  }

  /** Deletes the data: the module last published runs again on an empty database. */
  resetData(opts: { replay?: boolean } = {}): Promise<PublishOutcome> {
    const source = this.publishedSource;
    if (source === undefined) {
      return this.#serial(async () => {
        await this.#freshDatabase();
        await this.#open(undefined);
        return { ok: false, stage: 'load', message: 'no module published yet', error: new Error('no module published yet') } as PublishOutcome;
      });
    }
    return this.publish(source, { reset: true, ...opts });
  }

  /**
   * Replaces the database with `image` (from `db.export()`) whose module is `source`: the session's
   * "restore to before this call". Subscriptions continue on the restored rows; forms rebuild.
   */
  restoreImage(image: Uint8Array, source: string | undefined): Promise<void> {
    return this.#serial(async () => {
      if (!this.db) await this.#open(undefined);
      if (!this.db) throw new Error('the engine is not running: restart it first');
      this.#setState('busy');
      try {
        await this.db.import(image);
        this.publishedSource = source;
        this.schema = await this.db.describe().catch(() => undefined);
        this.#watch?.unsubscribe();
        this.#watchChanges();
      } finally {
        this.#setState('ready');
      }
      this.#emit({ type: 'schema', schema: this.schema });
    });
  }

  /**
   * Ends the engine now, whatever it runs (a call in flight rejects with ClosedError), and does not
   * start it again: `restart()` or `resetData()` next. Not queued behind a stuck call: that is what
   * it is for.
   */
  async stop(): Promise<void> {
    this.#queue = Promise.resolve();
    this.#watch?.unsubscribe();
    this.#watch = undefined;
    const db = this.db;
    this.db = undefined;
    await db?.close(); // ends the dedicated worker and the engine inside it
    this.#setState('stopped', 'stopped by hand');
  }

  /** Stops the engine (ending whatever runs in it) and starts it again from durable state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#serial(async () => {
      await this.#open(undefined);
    });
  }

  /** Moves to a new, empty database and deletes the old one's storage. */
  async #freshDatabase(): Promise<void> {
    const oldName = this.dbName;
    this.#watch?.unsubscribe();
    await this.db?.close(); // ends the dedicated worker and its engine: nothing holds the storage
    this.db = undefined;
    this.#generation += 1;
    localStorage.setItem(`${GENERATION_KEY}:${this.base}`, String(this.#generation));
    await deleteStorage(oldName);
  }
}

/** Deletes a database's IndexedDB storage (best effort: a store still held elsewhere stays, under its old name). */
function deleteStorage(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(`lightcone:${name}`);
    req.onsuccess = req.onerror = () => resolve();
    req.onblocked = () => resolve();
  });
}

function isNoDatabase(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'UNKNOWN_DATABASE' || code === 'NO_MODULE' || code === 'DATABASE_NOT_FOUND';
}

export function formatDiagnostic(d: Diagnostic): string {
  return d.line !== undefined ? `module.ts:${d.line}:${(d.column ?? 0) + 1}: ${d.text}` : d.text;
}
