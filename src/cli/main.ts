// The `lightcone` command line: mirrors `spacetime` (publish, call, sql, subscribe, logs, describe,
// generate) over an embedded data directory, or over a running server with `--server` (remote.ts).
// Each invocation opens the database, does one thing, and closes it, so data lives in the
// directory between calls; both targets hand back the same shapes (target.ts), printed here the
// same way. Failures exit non-zero with the message on stderr.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer } from '../server/server.ts';
import { generateBindings } from '../generate/generate.ts';
import type { LogEntry, Row } from '../api/database.ts';
import type { OpenDatabaseOptions } from '../node/open-database.ts';
import { LightconeError, UsageError } from '../errors.ts';
import { formatCell, formatSqlResult, formatTable, stringifyJson, toJsonValue } from '../sql/format.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { remoteTarget } from './remote.ts';
import { embeddedTarget, type SubscribeHandlers, type Target } from './target.ts';

const HELP = `lightcone — SpacetimeDB modules, local-first

Usage:
  lightcone publish --module-path <file|dir> [-c|--delete-data] [--server <url>] <database>
  lightcone call <database> <reducer|procedure> [json-arg ...] [--server <url>]
  lightcone sql <database> <query> [--json] [--server <url>]
  lightcone subscribe <database> <query> [<query> ...] [-n <updates>] [--json] [--server <url>]
      the queries' rows, then what each transaction changes in them, until Ctrl-C or -n updates;
      --json: one JSON object a line ({"type":"initial",…} per table, then {"type":"update",…})
  lightcone logs <database> [-n <lines>] [-f|--follow] [--json] [--server <url>]
      -f: then each new entry as it is logged, until Ctrl-C (--json: one entry a line)
  lightcone describe <database> [--json] [--server <url>]
  lightcone list [--json] [--server <url>]
  lightcone delete <database> [--server <url>]
  lightcone start [--listen <host:port>] [--max-body <bytes>]
      serve SpacetimeDB's HTTP API and WebSocket protocol for the databases of the data directory
      (default 127.0.0.1:3000); Ctrl-C stops it cleanly
  lightcone generate --lang typescript --out-dir <dir> [--module-path <file|dir>] [--include-private]
      client bindings for the official SDK, as \`spacetime generate\` writes them (module default:
      ./spacetimedb if it exists, else the current folder)

Options (before or after the arguments):
  -s, --server <url>   act on the databases of a running server (\`lightcone start\`), e.g.
                       http://127.0.0.1:3000, instead of the data directory; the identity the
                       server gives this CLI is kept per server in credentials.json of the
                       config directory
  --data-dir <dir>     data directory (default: $LIGHTCONE_DATA_DIR or .lightcone); while
                       \`subscribe\` or \`logs -f\` runs on it, other processes cannot open that
                       database: serve the directory with \`lightcone start\` and use --server
  --identity <hex>     act as this identity instead of the data directory's owner (not with --server)
  --call-timeout <ms>  stop module code (a reducer, procedure, view) that runs longer (default 30000)
  --max-heap <MiB>     the engine's heap limit (default: what Node gives this machine)
  -h, --help           this help

Environment: LIGHTCONE_DATA_DIR (the data directory), LIGHTCONE_CONFIG_DIR (the config directory,
default ~/.config/lightcone), LIGHTCONE_DEBUG=1 (show the stack of an unexpected error).
`;

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    err(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (args.flags.help || args.command === undefined) {
    out(HELP);
    return args.command === undefined && !args.flags.help ? 2 : 0;
  }
  const dataDir = args.options['data-dir'] ?? process.env.LIGHTCONE_DATA_DIR ?? '.lightcone';
  const identity = args.options.identity;
  const json = Boolean(args.flags.json);
  try {
    const limits = { ...limitOption(args.options['call-timeout'], '--call-timeout', 'callTimeoutMs'), ...limitOption(args.options['max-heap'], '--max-heap', 'maxHeapMb') };
    const target = () => (args.options.server !== undefined ? remote(args) : embeddedTarget(dataDir, limits, identity));
    switch (args.command) {
      case 'publish': {
        const name = need(args.positionals[0], 'publish needs a database name: lightcone publish --module-path <file|dir> <database>');
        const module = need(args.options['module-path'], 'publish needs --module-path <file|dir> (the module entry file or its folder)');
        const p = await target().publish(name, module, Boolean(args.flags['delete-data']));
        const what = p.op === 'created' ? 'Created new database' : p.op === 'updated' ? 'Updated database' : 'Database is unchanged:';
        out(`${what} ${name} with identity: ${p.identity}\n`);
        return 0;
      }
      case 'call': {
        const name = need(args.positionals[0], 'call needs a database: lightcone call <database> <reducer> [json-arg ...]');
        const fn = need(args.positionals[1], 'call needs a reducer or procedure name: lightcone call <database> <reducer> [json-arg ...]');
        const result = await target().call(name, fn, args.positionals.slice(2));
        if (result !== undefined) out(`${stringifyJson(result, 2)}\n`);
        return 0;
      }
      case 'sql': {
        const name = need(args.positionals[0], 'sql needs a database: lightcone sql <database> <query>');
        const query = need(args.positionals.slice(1).join(' ') || undefined, 'sql needs a query: lightcone sql <database> "SELECT * FROM <table>"');
        for (const res of await target().sql(name, query)) out(json ? `${stringifyJson(res.rows, 2)}\n` : formatSqlResult(res));
        return 0;
      }
      case 'subscribe': {
        const name = need(args.positionals[0], 'subscribe needs a database: lightcone subscribe <database> "SELECT * FROM <table>"');
        const queries = args.positionals.slice(1);
        need(queries[0], 'subscribe needs one query or more: lightcone subscribe <database> "SELECT * FROM <table>" ...');
        const updates = count(args.options['num-lines'], 'updates');
        const stop = new AbortController();
        let seen = 0;
        const print = json ? jsonSubscription(out) : textSubscription(out);
        await untilSignal(stop, (signal) =>
          target().subscribe(
            name,
            queries,
            {
              onApplied: (initial) => {
                print.onApplied(initial);
                if (updates === 0) stop.abort();
              },
              onUpdate: (update) => {
                print.onUpdate(update);
                if (++seen === updates) stop.abort();
              },
            },
            signal,
          ),
        );
        return 0;
      }
      case 'logs': {
        const name = need(args.positionals[0], 'logs needs a database: lightcone logs <database>');
        const n = count(args.options['num-lines'], 'lines');
        const line = (l: LogEntry) => (json ? `${stringifyJson(l)}\n` : `${new Date(l.ts).toISOString()} ${l.level.toUpperCase().padStart(5)}: ${l.message}\n`);
        if (args.flags.follow) {
          await untilSignal(new AbortController(), (signal) => target().followLogs(name, n, (l) => out(line(l)), signal));
          return 0;
        }
        const logs = await target().logs(name, n);
        if (json) out(`${stringifyJson(logs, 2)}\n`);
        else for (const l of logs) out(line(l));
        return 0;
      }
      case 'list': {
        const t = target();
        const dbs = await t.list();
        if (json) out(`${stringifyJson(dbs, 2)}\n`);
        else if (dbs.length === 0) out(`${t.emptyList}\n`);
        else for (const d of dbs) out(`${d.name ?? '(name unknown)'}\t${d.identity ?? ''}\n`);
        return 0;
      }
      case 'delete': {
        const name = need(args.positionals[0], 'delete needs a database: lightcone delete <database>');
        await target().delete(name);
        out(`Deleted database ${name}\n`);
        return 0;
      }
      case 'describe': {
        const name = need(args.positionals[0], 'describe needs a database: lightcone describe <database>');
        const d = await target().describe(name);
        if (json) {
          out(`${stringifyJson(d, 2)}\n`);
        } else {
          out(`database ${d.database} (identity ${d.identity})\n\ntables:\n`);
          for (const t of d.tables) {
            out(`  ${t.name} (${t.access}${t.event ? ', event' : ''}${t.scheduled ? `, scheduled → ${t.scheduled}` : ''}) ${Number.isNaN(t.rows) ? '?' : t.rows} row(s)\n`);
            for (const c of t.columns) out(`    ${c.name}: ${c.type}${c.name === t.primaryKey ? ' (primary key)' : ''}${t.autoInc.includes(c.name) ? ' (auto-inc)' : ''}\n`);
            for (const i of t.indexes) out(`    index ${i.accessor}: ${i.algorithm}(${i.columns.join(', ')})${i.unique ? ' unique' : ''}\n`);
          }
          out('\nreducers:\n');
          for (const r of d.reducers) out(`  ${r.name}(${r.params.map((p) => `${p.name}: ${p.type}`).join(', ')})${r.lifecycle ? ` [${r.lifecycle}]` : ''}\n`);
          if (d.procedures.length) out('\nprocedures:\n');
          for (const p of d.procedures) out(`  ${p.name}(${p.params.map((x) => `${x.name}: ${x.type}`).join(', ')}) -> ${p.returns}\n`);
          if (d.views.length) out('\nviews:\n');
          for (const v of d.views) out(`  ${v.name} (${v.access}${v.perSender ? ', per sender' : ''}) -> ${v.returns}\n`);
        }
        return 0;
      }
      case 'start':
        return await start(args, dataDir, limits, out);
      case 'generate': {
        const outDir = need(args.options['out-dir'], 'generate needs --out-dir <dir>: the folder for the bindings, e.g. --out-dir src/module_bindings');
        const modulePath = args.options['module-path'] ?? (existsSync('spacetimedb') ? 'spacetimedb' : '.');
        const r = await generateBindings({ modulePath, outDir, ...(args.options.lang !== undefined ? { lang: args.options.lang } : {}), includePrivate: Boolean(args.flags['include-private']) });
        if (r.privateTables.length > 0) out(`Skipped private tables: ${r.privateTables.join(', ')} (--include-private includes them)\n`);
        for (const f of r.written) out(`Wrote ${join(r.outDir, f)}\n`);
        for (const f of r.deleted) out(`Deleted ${join(r.outDir, f)} (no longer generated)\n`);
        out(`Generated TypeScript bindings for ${r.entry} in ${r.outDir}: ${r.files.length} files, ${r.written.length} changed\n`);
        return 0;
      }
      default:
        err(`error: unknown command ${args.command}\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    if (e instanceof LightconeError) {
      err(e.name === 'SenderError' ? `${e.message}\n` : `error: ${e.message}\n`);
      return 1;
    }
    // Not one of Lightcone's errors: still one short line; the stack only on request.
    const debug = Boolean(process.env.LIGHTCONE_DEBUG);
    const text = e instanceof Error ? (debug ? (e.stack ?? e.message) : e.message) : String(e);
    err(`error: ${text}\n${debug ? '' : '(set LIGHTCONE_DEBUG=1 to see where it happened; if it looks like a Lightcone bug, please report it)\n'}`);
    return 1;
  }
}

/** `--call-timeout 500` / `--max-heap 256` as openDatabase's option; absent, the default applies. */
function limitOption(value: string | undefined, flag: string, key: 'callTimeoutMs' | 'maxHeapMb'): Pick<OpenDatabaseOptions, 'callTimeoutMs' | 'maxHeapMb'> {
  if (value === undefined) return {};
  if (!/^[1-9]\d{0,9}$/.test(value)) {
    throw new UsageError('BAD_USAGE', `${flag} needs a positive whole number of ${key === 'callTimeoutMs' ? 'milliseconds' : 'MiB'}, got ${JSON.stringify(value)}`, { option: flag, value });
  }
  return { [key]: Number(value) };
}

/** The `--server` target; the options that only mean something for a data directory are refused. */
function remote(args: ParsedArgs): Target {
  for (const o of ['identity', 'data-dir', 'call-timeout', 'max-heap']) {
    if (args.options[o] !== undefined) {
      throw new UsageError(
        'BAD_USAGE',
        o === 'identity'
          ? '--identity does not apply with --server: the server knows this CLI by the identity it gave it (kept in credentials.json of the config directory, $LIGHTCONE_CONFIG_DIR)'
          : `--${o} applies to the embedded data directory, not with --server (the server has its own: \`lightcone start --${o} …\`)`,
        { option: o },
      );
    }
  }
  return remoteTarget(args.options.server!);
}

/** `-n`: a whole number (lines of `logs`, updates of `subscribe`), or undefined. */
function count(value: string | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new UsageError('BAD_ARGUMENT', `-n takes a number of ${what}, got ${value}`);
  return n;
}

/** Runs `run` until it ends or SIGINT/SIGTERM aborts its signal (or `stop` is aborted otherwise). */
async function untilSignal(stop: AbortController, run: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const abort = () => stop.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  try {
    await run(stop.signal);
  } finally {
    process.off('SIGINT', abort);
    process.off('SIGTERM', abort);
  }
}

/** `subscribe` as text: each table's initial rows as a table, then `+`/`-` lines per change. */
function textSubscription(out: (s: string) => void): SubscribeHandlers {
  const row = (r: Row) =>
    Object.entries(r)
      .map(([k, v]) => `${k}=${formatCell(v)}`)
      .join(' ');
  return {
    onApplied: (initial) => {
      for (const [table, rows] of Object.entries(initial)) {
        out(`${table}: ${rows.length} row${rows.length === 1 ? '' : 's'}\n`);
        const cols = Object.keys(rows[0] ?? {});
        if (rows.length > 0)
          out(
            `${formatTable(
              cols,
              rows.map((r) => cols.map((c) => r[c])),
            )}\n`,
          );
      }
    },
    onUpdate: (update) => {
      for (const u of update) {
        out(`${u.table}: +${u.inserts.length} -${u.deletes.length}\n`);
        for (const r of u.deletes) out(`  - ${row(r)}\n`);
        for (const r of u.inserts) out(`  + ${row(r)}\n`);
      }
    },
  };
}

/** `subscribe --json`: one object a line, `initial` per table, then `update` per table per transaction. */
function jsonSubscription(out: (s: string) => void): SubscribeHandlers {
  return {
    onApplied: (initial) => {
      for (const [table, rows] of Object.entries(initial)) out(`${stringifyJson({ type: 'initial', table, rows })}\n`);
    },
    onUpdate: (update) => {
      for (const u of update) out(`${stringifyJson({ type: 'update', table: u.table, inserts: u.inserts, deletes: u.deletes })}\n`);
    },
  };
}

/** `lightcone start`: serves until SIGINT or SIGTERM, then closes every connection and database. */
async function start(args: ParsedArgs, dataDir: string, limits: Pick<OpenDatabaseOptions, 'callTimeoutMs' | 'maxHeapMb'>, out: (s: string) => void): Promise<number> {
  const maxBody = args.options['max-body'];
  if (maxBody !== undefined && !/^[1-9]\d{0,12}$/.test(maxBody)) throw new UsageError('BAD_USAGE', `--max-body needs a positive whole number of bytes, got ${JSON.stringify(maxBody)}`);
  const server = await startServer({
    dataDir,
    ...limits,
    ...(args.options.listen !== undefined ? { listen: args.options.listen } : {}),
    ...(maxBody !== undefined ? { maxBodyBytes: Number(maxBody) } : {}),
    log: (line) => out(`${new Date().toISOString()} ${line}\n`),
  });
  out(`lightcone is listening on ${server.url} (data directory ${resolve(dataDir)})\n`);
  const signal = await new Promise<string>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  out(`${signal}: closing connections and databases\n`);
  await server.close();
  out('stopped; every acknowledged write is on disk\n');
  return 0;
}

function need(v: string | undefined, message: string): string {
  if (v === undefined || v === '') throw new UsageError('BAD_USAGE', message);
  return v;
}

export { toJsonValue };
