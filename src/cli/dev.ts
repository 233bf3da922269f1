// `lightcone dev <database>`: publishes a module, then watches its folder and publishes it again on
// every save, printing what the migration changes (or each change SpacetimeDB's rules refuse,
// leaving the database as it was) and the module's log as it grows. On the data directory the
// database is opened only to publish, so other commands (`call`, `sql`) work beside it; the log is
// read from what each process saves when it closes the database. With --server, the server's log
// is followed.
import { type FSWatcher, existsSync, watch } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { LogEntry } from '../api/database.ts';
import { fileBackend } from '../durability/files.ts';
import { META_LOGS } from '../engine/publish.ts';
import { LightconeError, ModuleError } from '../errors.ts';
import { bundleModule, resolveModuleEntry } from '../host/bundle.ts';
import { databaseDir } from '../node/open-database.ts';
import { newEntries, type Target } from './target.ts';

export interface DevOptions {
  database: string;
  modulePath: string;
  target: Target;
  /** Set for the data directory: its logs are read from the database's folder. */
  dataDir: string | undefined;
  /** Delete the data before the first publish (already confirmed). */
  clear: boolean;
  out: (s: string) => void;
  err: (s: string) => void;
  /** Aborted by Ctrl-C: dev stops. */
  signal: AbortSignal;
  /** How a log entry is printed (as `lightcone logs` prints it). */
  logLine: (e: LogEntry) => string;
}

/** Runs until `signal` aborts; 0 then. */
export async function runDev(o: DevOptions): Promise<number> {
  const entry = resolveModuleEntry(o.modulePath);
  const folder = dirname(entry);
  const where = o.dataDir !== undefined ? `the data directory ${o.dataDir}` : 'the server';
  o.out(`lightcone dev: publishing ${relative(process.cwd(), entry) || entry} to ${o.database} in ${where} on every change under ${relative(process.cwd(), folder) || '.'}/ (Ctrl-C stops)\n`);

  const stamp = () => `[${new Date().toTimeString().slice(0, 8)}]`;
  const logs = o.dataDir !== undefined ? fileLogs(o.dataDir, o.database, o.out, o.logLine) : serverLogs(o);

  // One publish at a time; changes during a publish cause one more after it.
  let running: Promise<void> | undefined;
  let again = false;
  let first = true;
  const publish = async (): Promise<void> => {
    const clear = first && o.clear;
    first = false;
    let code: string;
    try {
      code = (await bundleModule(entry)).code;
    } catch (e) {
      o.out(`${stamp()} The module does not bundle; the database is unchanged:\n${indent((e as Error).message)}\n`);
      return;
    }
    try {
      const plan = clear ? ({ kind: 'new' } as const) : await withRetry(() => o.target.prePublish(o.database, code));
      if (plan.kind === 'unchanged') {
        o.out(`${stamp()} No change to publish: ${o.database} already runs this module\n`);
        return;
      }
      const p = await withRetry(() => o.target.publish(o.database, code, clear));
      if (p.op === 'created') o.out(`${stamp()} Created database ${o.database} with identity ${p.identity}${clear ? ' (its data was deleted first)' : ''}\n`);
      else if (p.op === 'unchanged') o.out(`${stamp()} No change to publish: ${o.database} already runs this module\n`);
      else {
        const changes = plan.kind === 'changes' ? plan.changes : [];
        o.out(`${stamp()} Updated database ${o.database}:\n${changes.map((c) => `  + ${c}\n`).join('') || '  + update reducers\n'}`);
      }
      await logs.published();
    } catch (e) {
      const refused = e instanceof ModuleError && e.code === 'MIGRATION_REFUSED' ? refusedChanges(e) : undefined;
      if (refused) {
        o.out(
          `${stamp()} Refused: SpacetimeDB's migration rules do not allow these changes, so ${o.database} still runs the previous module:\n${refused.map((r) => `  - ${r}\n`).join('')}  Change the module back, or restart with \`lightcone dev -c ${o.database}\` to delete the data and start over.\n`,
        );
      } else {
        o.out(`${stamp()} Publishing failed; the database is unchanged:\n${indent(e instanceof LightconeError ? e.message : String((e as Error).message ?? e))}\n`);
      }
    }
  };
  const schedule = () => {
    if (o.signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = publish().finally(() => {
      running = undefined;
      if (again) {
        again = false;
        schedule();
      }
    });
  };

  let watcher: FSWatcher | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  try {
    await logs.start();
    // Watching starts before the first publish: a save made while it runs (or right after it
    // printed, before a watcher made later would exist) publishes again instead of being missed.
    // Editors save in bursts (a temp file, a rename, a chmod): wait for 50 ms of quiet.
    watcher = watch(folder, { recursive: true }, (_event, file) => {
      const name = String(file ?? '');
      if (name.split(/[\\/]/).some((part) => part === 'node_modules' || part.startsWith('.'))) return;
      if (name !== '' && !/\.(m?[jt]s|tsx?|json)$/.test(name)) return;
      clearTimeout(pending);
      pending = setTimeout(() => {
        o.out(`${stamp()} ${name || 'a file'} changed\n`);
        schedule();
      }, 50);
    });
    schedule();
    await running;
    await new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearTimeout(pending);
    watcher?.close();
    await running;
    await logs.stop();
  }
  o.out('lightcone dev: stopped\n');
  return 0;
}

/** The refused changes a MIGRATION_REFUSED error lists. */
function refusedChanges(e: ModuleError): string[] {
  const listed = (e.details as { refused?: unknown }).refused;
  if (Array.isArray(listed)) return listed.map(String);
  const lines = e.message
    .split('\n')
    .filter((l) => /^\s+- /.test(l))
    .map((l) => l.replace(/^\s+- /, ''));
  return lines.length > 0 ? lines : [e.message];
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/**
 * Runs `f`, again while the database is open in another process (DATABASE_IN_USE: a `lightcone
 * call` is running), for up to 10 s.
 */
async function withRetry<T>(f: () => Promise<T>): Promise<T> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof LightconeError && e.code === 'DATABASE_IN_USE') || Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

interface LogSource {
  start(): Promise<void>;
  /** Called after each publish (the file source reads what the publish saved). */
  published(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The module log of a data-directory database: every process that opens it saves the log when it
 * closes it (meta/logs.meta), so watching that file shows what `lightcone call` and the
 * publishes logged, without holding the database open.
 */
function fileLogs(dataDir: string, name: string, out: (s: string) => void, line: (e: LogEntry) => string): LogSource {
  const dir = databaseDir(dataDir, name);
  let seen: LogEntry[] = [];
  let watcher: FSWatcher | undefined;
  let reading = Promise.resolve();
  const read = async (): Promise<LogEntry[]> => {
    try {
      const bytes = await fileBackend(dir).getMeta(META_LOGS);
      if (!bytes) return [];
      return new TextDecoder()
        .decode(bytes)
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as LogEntry);
    } catch {
      return seen; // being replaced right now: the next change reads it
    }
  };
  const show = () => {
    reading = reading.then(async () => {
      const now = await read();
      for (const e of newEntries(seen, now)) out(line(e));
      seen = now;
    });
    return reading;
  };
  const watchMeta = () => {
    if (watcher || !existsSync(join(dir, 'meta'))) return;
    watcher = watch(join(dir, 'meta'), (_event, file) => {
      if (String(file ?? '').startsWith(`${META_LOGS}.`)) void show();
    });
  };
  return {
    async start() {
      seen = await read();
      watchMeta();
    },
    async published() {
      // The folder may be new (a database created, or re-created by -c): watch what is there now.
      watcher?.close();
      watcher = undefined;
      watchMeta();
      await show();
    },
    async stop() {
      watcher?.close();
      await reading;
    },
  };
}

/** The server's log, followed over HTTP (`logs -f`). */
function serverLogs(o: DevOptions): LogSource {
  const stop = new AbortController();
  let following: Promise<void> | undefined;
  // From the start: only what is logged from now on; from a database the first publish created:
  // all of its log (what `init` printed came before the follow began).
  const follow = (limit: number | undefined) => {
    following ??= o.target
      .followLogs(o.database, limit, (e) => o.out(o.logLine(e)), stop.signal)
      .catch(() => {
        following = undefined; // the database is not there yet, or the server restarted: follow again after the next publish
      });
  };
  return {
    async start() {
      if (await o.target.exists(o.database)) follow(0);
    },
    async published() {
      follow(undefined);
    },
    async stop() {
      stop.abort();
      await following;
    },
  };
}
