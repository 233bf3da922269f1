// The `lightcone` command line: mirrors `spacetime` (publish, call, sql, logs, describe, generate)
// over an embedded data directory. Each invocation opens the database, does one thing, and closes
// it, so data lives in the directory between calls. Failures exit non-zero with the message on
// stderr.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startServer } from '../server/server.ts';
import { generateBindings } from '../generate/generate.ts';
import { deleteDatabase, listDatabases, openDatabase, type OpenDatabaseOptions } from '../node/open-database.ts';
import { LightconeError, UsageError } from '../errors.ts';
import { formatSqlResult, stringifyJson, toJsonValue } from '../sql/format.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { parseJsonArg } from './json-arg.ts';

const HELP = `lightcone — SpacetimeDB modules, local-first

Usage:
  lightcone publish --module-path <file|dir> [-c|--delete-data] <database>
  lightcone call <database> <reducer|procedure> [json-arg ...]
  lightcone sql <database> <query> [--json]
  lightcone logs <database> [-n <lines>] [--json]
  lightcone describe <database> [--json]
  lightcone list [--json]
  lightcone delete <database>
  lightcone start [--listen <host:port>] [--max-body <bytes>]
      serve SpacetimeDB's HTTP API and WebSocket protocol for the databases of the data directory
      (default 127.0.0.1:3000); Ctrl-C stops it cleanly
  lightcone generate --lang typescript --out-dir <dir> [--module-path <file|dir>] [--include-private]
      client bindings for the official SDK, as \`spacetime generate\` writes them (module default:
      ./spacetimedb if it exists, else the current folder)

Options (before or after the arguments):
  --data-dir <dir>     data directory (default: $LIGHTCONE_DATA_DIR or .lightcone)
  --identity <hex>     act as this identity instead of the data directory's owner
  --call-timeout <ms>  stop module code (a reducer, procedure, view) that runs longer (default 30000)
  --max-heap <MiB>     the engine's heap limit (default: what Node gives this machine)
  -h, --help           this help

Environment: LIGHTCONE_DATA_DIR (the data directory), LIGHTCONE_DEBUG=1 (show the stack of an
unexpected error).
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
    switch (args.command) {
      case 'publish': {
        const name = need(args.positionals[0], 'publish needs a database name: lightcone publish --module-path <file|dir> <database>');
        const module = need(args.options['module-path'], 'publish needs --module-path <file|dir> (the module entry file or its folder)');
        const db = await openDatabase({ dataDir, name, ...limits, module, deleteData: Boolean(args.flags['delete-data']) });
        const what = db.published === 'created' ? 'Created new database' : db.published === 'updated' ? 'Updated database' : 'Database is unchanged:';
        out(`${what} ${name} with identity: ${db.identity.toHexString()}\n`);
        await db.close();
        return 0;
      }
      case 'call': {
        const name = need(args.positionals[0], 'call needs a database: lightcone call <database> <reducer> [json-arg ...]');
        const fn = need(args.positionals[1], 'call needs a reducer or procedure name: lightcone call <database> <reducer> [json-arg ...]');
        const callArgs = args.positionals.slice(2).map((a, i) => parseJsonArg(a, i + 1));
        const db = await openDatabase({ dataDir, name, ...limits });
        try {
          const result = await db.call(fn, callArgs, identity !== undefined ? { sender: identity } : {});
          if (result !== undefined) out(`${stringifyJson(result, 2)}\n`);
        } finally {
          await db.close();
        }
        return 0;
      }
      case 'sql': {
        const name = need(args.positionals[0], 'sql needs a database: lightcone sql <database> <query>');
        const query = need(args.positionals.slice(1).join(' ') || undefined, 'sql needs a query: lightcone sql <database> "SELECT * FROM <table>"');
        const db = await openDatabase({ dataDir, name, ...limits });
        try {
          const res = await db.query(query, identity !== undefined ? { sender: identity } : {});
          out(json ? `${stringifyJson(res.rows, 2)}\n` : formatSqlResult(res));
        } finally {
          await db.close();
        }
        return 0;
      }
      case 'logs': {
        const name = need(args.positionals[0], 'logs needs a database: lightcone logs <database>');
        const n = args.options['num-lines'] !== undefined ? Number(args.options['num-lines']) : undefined;
        if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError('BAD_ARGUMENT', `-n takes a number of lines, got ${args.options['num-lines']}`);
        const db = await openDatabase({ dataDir, name, ...limits });
        try {
          const logs = await db.logs(n !== undefined ? { limit: n } : {});
          if (json) out(`${stringifyJson(logs, 2)}\n`);
          else for (const l of logs) out(`${new Date(l.ts).toISOString()} ${l.level.toUpperCase().padStart(5)}: ${l.message}\n`);
        } finally {
          await db.close();
        }
        return 0;
      }
      case 'list': {
        const dbs = await listDatabases(dataDir);
        if (json) out(`${stringifyJson(dbs, 2)}\n`);
        else if (dbs.length === 0) out(`no databases in ${dataDir}\n`);
        else for (const d of dbs) out(`${d.name}\t${d.identity ?? ''}\n`);
        return 0;
      }
      case 'delete': {
        const name = need(args.positionals[0], 'delete needs a database: lightcone delete <database>');
        await deleteDatabase(dataDir, name);
        out(`Deleted database ${name}\n`);
        return 0;
      }
      case 'describe': {
        const name = need(args.positionals[0], 'describe needs a database: lightcone describe <database>');
        const db = await openDatabase({ dataDir, name, ...limits });
        try {
          const d = await db.describe();
          if (json) {
            out(`${stringifyJson(d, 2)}\n`);
          } else {
            out(`database ${d.database} (identity ${d.identity})\n\ntables:\n`);
            for (const t of d.tables) {
              out(`  ${t.name} (${t.access}${t.event ? ', event' : ''}${t.scheduled ? `, scheduled → ${t.scheduled}` : ''}) ${t.rows} row(s)\n`);
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
        } finally {
          await db.close();
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
