// The `lightcone` command line: mirrors `spacetime` (publish, call, sql, subscribe, logs, describe,
// generate) over an embedded data directory, or over a running server with `--server` (remote.ts).
// Each invocation opens the database, does one thing, and closes it, so data lives in the
// directory between calls; both targets hand back the same shapes (target.ts), printed here the
// same way. Failures exit non-zero with the message on stderr.
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { startServer } from '../server/server.ts';
import { generateBindings } from '../generate/generate.ts';
import type { LogEntry, Row } from '../api/database.ts';
import type { OpenDatabaseOptions } from '../node/open-database.ts';
import type { PublishResult } from '../engine/engine.ts';
import { LightconeError, UsageError } from '../errors.ts';
import { bundleModule, resolveModuleEntry } from '../host/bundle.ts';
import { formatCell, formatSqlResult, formatTable, stringifyJson, toJsonValue } from '../sql/format.ts';
import { parseArgs, type ParsedArgs } from './args.ts';
import { runDev } from './dev.ts';
import { commandHelp, findCommand, overview, version } from './help.ts';
import { initApp } from './init.ts';
import { configDir, remoteTarget } from './remote.ts';
import { runRepl } from './repl.ts';
import { confirm, formatBytes, processIo, progress, type CliIo } from './terminal.ts';
import { databaseExists, exportToFile, importFromImage, readImageFile } from './transfer.ts';
import { embeddedTarget, type SubscribeHandlers, type Target } from './target.ts';

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
  io: CliIo = processIo(),
): Promise<number> {
  let args: ParsedArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    const command = argv.find((a) => findCommand(a) !== undefined);
    err(`error: ${(e as Error).message}\n(\`lightcone help${command ? ` ${command}` : ''}\` lists the options)\n`);
    return 2;
  }
  if (args.flags.version) {
    out(`${version()}\n`);
    return 0;
  }
  if (args.command === undefined) {
    (args.flags.help ? out : err)(overview());
    return args.flags.help ? 0 : 2;
  }
  if (args.command === 'help' || args.flags.help) {
    const name = args.command === 'help' ? (args.positionals[0] ?? (args.flags.help ? 'help' : undefined)) : args.command;
    if (name === undefined) {
      out(overview());
      return 0;
    }
    const c = findCommand(name);
    if (!c) {
      err(`error: there is no command ${name}\n\n${overview()}`);
      return 2;
    }
    out(commandHelp(c));
    return 0;
  }
  const dataDir = args.options['data-dir'] ?? process.env.LIGHTCONE_DATA_DIR ?? '.lightcone';
  const identity = args.options.identity;
  const json = Boolean(args.flags.json);
  const yes = Boolean(args.flags.yes);
  try {
    const limits = { ...limitOption(args.options['call-timeout'], '--call-timeout', 'callTimeoutMs'), ...limitOption(args.options['max-heap'], '--max-heap', 'maxHeapMb') };
    const server = args.options.server;
    const target = () => (server !== undefined ? remote(args) : embeddedTarget(dataDir, limits, identity));
    const where = server !== undefined ? `on ${server}` : `in the data directory ${dataDir}`;
    /** `-c` on a database that exists: asks on a terminal (or takes --yes); false when refused, said on stderr. */
    const confirmDelete = async (t: Target, name: string, flag: string): Promise<boolean> => {
      if (!(await t.exists(name))) return true;
      const go = await confirm(io, err, {
        warning: `This will DESTROY database ${name} ${where} and ALL its data.`,
        question: `Are you sure you want to proceed? [deleting ${name}]`,
        yes,
        flag,
      });
      if (!go) err(`Aborted: database ${name} is unchanged.\n`);
      return go;
    };
    switch (args.command) {
      case 'publish': {
        const name = need(args.positionals[0], 'publish needs a database name: lightcone publish --module-path <file|dir> <database>');
        const modulePath = moduleOption(args, 'publish');
        const t = target();
        const clear = Boolean(args.flags['delete-data']);
        if (clear && !(await confirmDelete(t, name, 'publish -c'))) return 1;
        const shown = progress(io, err, `Bundling ${displayPath(modulePath)}`);
        let p: { op: PublishResult; identity: string };
        try {
          const { code } = await bundleModule(modulePath);
          shown.step(`Publishing ${name} (${formatBytes(code.length)} module)`);
          p = await t.publish(name, code, clear);
        } finally {
          shown.done();
        }
        const what = p.op === 'created' ? 'Created new database' : p.op === 'updated' ? 'Updated database' : 'Database is unchanged:';
        out(`${what} ${name} with identity: ${p.identity}\n`);
        return 0;
      }
      case 'dev': {
        const name = need(args.positionals[0], 'dev needs a database name: lightcone dev [--module-path <file|dir>] <database>');
        const modulePath = moduleOption(args, 'dev');
        resolveModuleEntry(modulePath);
        const t = target();
        const clear = Boolean(args.flags['delete-data']);
        if (clear && !(await confirmDelete(t, name, 'dev -c'))) return 1;
        let code = 0;
        await untilSignal(new AbortController(), async (signal) => {
          code = await runDev({ database: name, modulePath, target: t, dataDir: server === undefined ? dataDir : undefined, clear, out, err, signal, logLine: (l) => logLine(l, false) });
        });
        return code;
      }
      case 'init': {
        const r = initApp(args.positionals[0], args.options.template);
        const rel = relative(process.cwd(), r.dir);
        out(`Created a ${args.options.template ?? 'chat'} app in ${r.dir}:\n${r.files.map((f) => `  ${f}\n`).join('')}`);
        if (r.lightcone.startsWith('file:')) out(`package.json takes lightcone from ${r.lightcone.slice(5)} (the copy running this command; it is not on the npm registry yet).\n`);
        out(`\nNext:\n${rel && rel !== '.' ? `  cd ${rel}\n` : ''}  npm install\n  npm run dev\n`);
        return 0;
      }
      case 'export': {
        if (server !== undefined) throw new UsageError('BAD_USAGE', 'export works on the data directory: a server does not hand out database images (run it where the data directory is)');
        const name = need(args.positionals[0], 'export needs a database and a file: lightcone export <database> <file>');
        const file = need(args.positionals[1], `export needs a file to write: lightcone export ${name} ${name}.lcdb`);
        const shown = progress(io, err, `Exporting ${name}`);
        let size: number;
        try {
          size = await exportToFile(dataDir, name, file, limits);
        } finally {
          shown.done();
        }
        out(`Exported database ${name} (${formatBytes(size)}) to ${file}\n`);
        return 0;
      }
      case 'import': {
        if (server !== undefined) throw new UsageError('BAD_USAGE', 'import works on the data directory: run it where the data directory is, then serve it (lightcone start)');
        const file = need(args.positionals[0], 'import needs an image file and a database: lightcone import <file> <database>');
        const name = need(args.positionals[1], `import needs the database to create: lightcone import ${file} <database>`);
        const image = readImageFile(file);
        if (databaseExists(dataDir, name)) {
          const go = await confirm(io, err, {
            warning: `This will REPLACE database ${name} ${where}: ALL its data is deleted, and the image's takes its place.`,
            question: `Are you sure you want to proceed? [replacing ${name}]`,
            yes,
            flag: 'import',
          });
          if (!go) {
            err(`Aborted: database ${name} is unchanged.\n`);
            return 1;
          }
        }
        const shown = progress(io, err, `Importing ${formatBytes(image.length)} into ${name}`);
        let r: { identity: string; tables: number };
        try {
          r = await importFromImage(dataDir, name, image);
        } finally {
          shown.done();
        }
        out(`Imported ${file} (${formatBytes(image.length)}) as database ${name} with identity: ${r.identity}\n`);
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
        const name = need(args.positionals[0], 'sql needs a database: lightcone sql <database> [<query>]');
        const query = args.positionals.slice(1).join(' ');
        if (query.trim() === '') {
          // No query: the interactive prompt (or statements read from stdin).
          const session = await target().session(name);
          try {
            return await runRepl(session, {
              database: name,
              where: server ?? `data directory ${dataDir}`,
              io,
              out,
              err,
              json,
              historyFile: join(configDir(), 'sql_history'),
              ...(io.stdinIsTTY ? { output: process.stdout } : {}),
            });
          } finally {
            await session.close();
          }
        }
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
        const line = (l: LogEntry) => logLine(l, json);
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
            for (const c of t.columns)
              out(
                `    ${c.name}: ${c.type}${c.name === t.primaryKey ? ' (primary key)' : ''}${t.autoInc.includes(c.name) ? ' (auto-inc)' : ''}${c.default !== undefined ? ` (default ${c.default})` : ''}\n`,
              );
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
        const modulePath = moduleOption(args, 'generate');
        const r = await generateBindings({ modulePath, outDir, ...(args.options.lang !== undefined ? { lang: args.options.lang } : {}), includePrivate: Boolean(args.flags['include-private']) });
        if (r.privateTables.length > 0) out(`Skipped private tables: ${r.privateTables.join(', ')} (--include-private includes them)\n`);
        for (const f of r.written) out(`Wrote ${join(r.outDir, f)}\n`);
        for (const f of r.deleted) out(`Deleted ${join(r.outDir, f)} (no longer generated)\n`);
        out(`Generated TypeScript bindings for ${r.entry} in ${r.outDir}: ${r.files.length} files, ${r.written.length} changed\n`);
        return 0;
      }
      default:
        err(`error: there is no command ${args.command}\n\n${overview()}`);
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

/** A log entry as `logs` prints it. */
function logLine(l: LogEntry, json: boolean): string {
  return json ? `${stringifyJson(l)}\n` : `${new Date(l.ts).toISOString()} ${l.level.toUpperCase().padStart(5)}: ${l.message}\n`;
}

/**
 * `--module-path`, or where `spacetime` keeps a project's module: ./spacetimedb. Without either,
 * publish and dev ask for the option; generate falls back to the current folder, as before.
 */
function moduleOption(args: ParsedArgs, command: 'publish' | 'dev' | 'generate'): string {
  const given = args.options['module-path'];
  if (given !== undefined) return given;
  if (existsSync('spacetimedb')) return 'spacetimedb';
  if (command === 'generate') return '.';
  throw new UsageError('BAD_USAGE', `${command} needs --module-path <file|dir>, the module's entry file or folder (there is no ./spacetimedb folder here to take by default)`);
}

function displayPath(p: string): string {
  const rel = relative(process.cwd(), resolve(p));
  return rel === '' ? '.' : rel.startsWith('..') ? resolve(p) : rel;
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
