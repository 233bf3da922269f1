// `lightcone sql <database>` without a query: an interactive SQL prompt. A line runs once it ends
// outside quotes and parentheses (so a statement may span lines), `;` separates statements, and
// backslash commands (psql's) or dot commands (sqlite's and `spacetime sql`'s) list tables, show
// one, and leave. Entries are kept in a history file between sessions (and, on a terminal, under
// the arrow keys). Off a terminal it reads statements from stdin without prompting, so
// `lightcone sql chat < queries.sql` works too.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { SchemaDescription, SqlResult } from '../api/database.ts';
import { LightconeError } from '../errors.ts';
import { splitStatements } from '../server/routes.ts';
import { formatSqlResult, stringifyJson } from '../sql/format.ts';
import type { CliIo } from './terminal.ts';

/** A database held open for the prompt's lifetime. */
export interface SqlSession {
  /** Runs one statement. */
  query(statement: string): Promise<SqlResult>;
  describe(): Promise<SchemaDescription>;
  close(): Promise<void>;
}

export interface ReplOptions {
  database: string;
  /** Where the database is, for the banner ("the data directory .lightcone", "http://…"). */
  where: string;
  io: CliIo;
  out: (s: string) => void;
  err: (s: string) => void;
  json: boolean;
  /** The history file (created when missing). */
  historyFile: string;
  /** On a terminal: the stream prompts and line editing write to. */
  output?: NodeJS.WritableStream;
}

/** How many entries the history file keeps. */
const HISTORY_SIZE = 1000;

const HELP = `Statements (SpacetimeDB SQL) run when a line ends outside quotes and parentheses; separate several with ;
  \\dt, .tables         list the tables and views, with their row counts
  \\d <table>, .schema <table>
                       the columns, primary key and indexes of a table
  \\history, .history   the statements entered before (the arrow keys recall them on a terminal)
  \\clear, .clear       clear the screen
  \\h, \\?, .help        this help
  \\q, .exit, Ctrl-D    leave
`;

/** Runs the prompt until stdin ends or the user leaves; 1 if a statement failed and stdin is not a terminal. */
export async function runRepl(session: SqlSession, o: ReplOptions): Promise<number> {
  const tty = o.io.stdinIsTTY && o.output !== undefined;
  const history = loadHistory(o.historyFile);
  const rl = createInterface({
    input: o.io.stdin,
    ...(tty ? { output: o.output, terminal: true, history: [...history].reverse(), historySize: HISTORY_SIZE, removeHistoryDuplicates: true } : { terminal: false }),
  });
  const prompt = (continued: boolean) => {
    if (!tty) return;
    rl.setPrompt(continued ? `${' '.repeat(Math.max(0, o.database.length - 2))}-> ` : `${o.database}> `);
    rl.prompt();
  };
  let buffer = '';
  let failed = false;
  if (tty) {
    o.out(`lightcone sql: ${o.database} (${o.where}). \\h for help, \\dt for the tables, \\q to quit.\n`);
    rl.on('SIGINT', () => {
      // Ctrl-C drops what was typed so far, as psql does; Ctrl-D (or \q) leaves.
      if (buffer === '' && rl.line === '') o.out('(\\q or Ctrl-D to quit)\n');
      buffer = '';
      rl.write(null, { ctrl: true, name: 'u' });
      o.out('\n');
      prompt(false);
    });
  }
  prompt(false);
  try {
    for await (const line of rl) {
      const text = buffer === '' ? line : `${buffer}\n${line}`;
      // An empty line after an unfinished one runs it anyway (unless a quote is open): the engine says what is missing.
      const forced = buffer !== '' && line.trim() === '' && !insideQuote(text);
      if (buffer === '' && /^\s*[\\.]/.test(text)) {
        const leave = await command(text.trim(), session, o, history);
        remember(o.historyFile, history, text.trim());
        if (leave) break;
        prompt(false);
        continue;
      }
      if (!forced && !complete(text)) {
        buffer = text;
        prompt(true);
        continue;
      }
      buffer = '';
      const statements = splitStatements(text);
      if (statements.length > 0) remember(o.historyFile, history, text.replace(/\s*\n\s*/g, ' ').trim());
      if (/^\s*(exit|quit)\s*;?\s*$/i.test(text)) break;
      for (const s of statements) {
        try {
          const res = await session.query(s);
          o.out(o.json ? `${stringifyJson(res.rows, 2)}\n` : formatSqlResult(res));
        } catch (e) {
          failed = true;
          o.err(e instanceof LightconeError ? `error: ${e.message}\n` : `error: ${(e as Error).message ?? String(e)}\n`);
          break; // the statements after a failed one do not run
        }
      }
      prompt(false);
    }
    if (buffer.trim() !== '') {
      o.err(`error: the input ended inside a statement (an open quote or parenthesis): ${JSON.stringify(buffer.slice(0, 80))} was not run\n`);
      failed = true;
    }
  } finally {
    rl.close();
  }
  if (tty) o.out('\n');
  return failed && !tty ? 1 : 0;
}

/** A backslash or dot command; true to leave. */
async function command(text: string, session: SqlSession, o: ReplOptions, history: string[]): Promise<boolean> {
  const [name = '', ...rest] = text.split(/\s+/);
  const arg = rest.join(' ');
  switch (name) {
    case '\\q':
    case '\\quit':
    case '.exit':
    case '.quit':
      return true;
    case '\\h':
    case '\\?':
    case '\\help':
    case '.help':
      o.out(HELP);
      return false;
    case '\\dt':
    case '\\d':
    case '.tables':
    case '.schema': {
      let d: SchemaDescription;
      try {
        d = await session.describe();
      } catch (e) {
        o.err(`error: ${(e as Error).message}\n`);
        return false;
      }
      if (arg !== '' && name !== '\\dt' && name !== '.tables') {
        const t = d.tables.find((x) => x.name === arg || x.name.toLowerCase() === arg.toLowerCase());
        if (!t) {
          o.err(`error: no table named ${arg}; the tables are ${d.tables.map((x) => x.name).join(', ') || '(none)'}\n`);
          return false;
        }
        o.out(`table ${t.name} (${t.access}${t.event ? ', event' : ''}${t.scheduled ? `, scheduled → ${t.scheduled}` : ''})\n`);
        o.out(
          plainTable(
            ['column', 'type', 'key'],
            t.columns.map((c) => [c.name, c.type, [c.name === t.primaryKey ? 'primary key' : '', t.autoInc.includes(c.name) ? 'auto-inc' : ''].filter(Boolean).join(', ')]),
          ),
        );
        for (const i of t.indexes) o.out(`index ${i.accessor}: ${i.algorithm}(${i.columns.join(', ')})${i.unique ? ' unique' : ''}\n`);
        return false;
      }
      const rows = d.tables.map((t) => [t.name, t.access + (t.event ? ', event' : ''), Number.isNaN(t.rows) ? '?' : String(t.rows)]);
      for (const v of d.views) rows.push([v.name, `view, ${v.access}`, '']);
      o.out(rows.length === 0 ? 'no tables\n' : plainTable(['table', 'access', 'rows'], rows));
      return false;
    }
    case '\\history':
    case '.history':
      o.out(history.length === 0 ? 'no history yet\n' : `${history.map((h, i) => `${String(i + 1).padStart(4)}  ${h}`).join('\n')}\n`);
      return false;
    case '\\clear':
    case '.clear':
      if (o.io.stdinIsTTY) o.out('\x1b[2J\x1b[H');
      return false;
    default:
      o.err(`error: unknown command ${name}: \\h lists the commands\n`);
      return false;
  }
}

/** An aligned table of plain text cells (names unquoted, unlike query results). */
function plainTable(columns: string[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (parts: string[]) => ` ${parts.map((p, i) => p.padEnd(widths[i]!)).join(' | ')}`.trimEnd();
  return `${[line(columns), widths.map((w) => '-'.repeat(w + 2)).join('+'), ...rows.map(line)].join('\n')}\n`;
}

/** Whether `text` ends inside a quoted string. */
function insideQuote(text: string): boolean {
  let quote: string | undefined;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === "'" || ch === '"') quote = ch;
  }
  return quote !== undefined;
}

/** Words after which a statement cannot end: the line goes on. */
const CONTINUES = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'join',
  'inner',
  'on',
  'as',
  'set',
  'values',
  'into',
  'insert',
  'update',
  'delete',
  'limit',
  ',',
  '=',
  '!=',
  '<>',
  '<',
  '<=',
  '>',
  '>=',
  '.',
]);

/**
 * Whether `text` is complete: outside quotes and parentheses, not ending with a word that needs
 * more (FROM, WHERE, AND, a comma, …), and its last statement has the part its kind requires (a
 * SELECT or DELETE its FROM, an INSERT its VALUES, an UPDATE its SET). So `SELECT *` + Enter waits
 * for the FROM on the next line, and `SELECT * FROM t` + Enter runs.
 */
export function complete(text: string): boolean {
  let quote: string | undefined;
  let depth = 0;
  let bare = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      bare += ' _ ';
    } else if (ch === '(') {
      depth++;
      bare += ' ( ';
    } else if (ch === ')') {
      depth = Math.max(0, depth - 1);
      bare += ' ) ';
    } else {
      bare += ch;
    }
  }
  if (quote !== undefined || depth > 0) return false;
  const last = bare.split(';').at(-1)!.trim();
  if (bare.trim().endsWith(';') || last === '') return true;
  const words: string[] = last.toLowerCase().match(/[a-z_][a-z0-9_]*|!=|<>|<=|>=|[=<>,.*]|\S/g) ?? [];
  if (CONTINUES.has(words.at(-1)!)) return false;
  const has = (w: string) => words.includes(w);
  switch (words[0]) {
    case 'select':
    case 'delete':
      return has('from');
    case 'insert':
      return has('values');
    case 'update':
      return has('set');
    default:
      return true;
  }
}

function loadHistory(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .slice(-HISTORY_SIZE);
  } catch {
    return []; // history is a convenience: an unreadable file starts a new one
  }
}

/** Adds an entry (not a repeat of the last) to the history and its file, trimming the file now and then. */
function remember(file: string, history: string[], entry: string): void {
  if (entry === '' || history.at(-1) === entry) return;
  history.push(entry);
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    if (history.length > HISTORY_SIZE * 1.5) {
      history.splice(0, history.length - HISTORY_SIZE);
      writeFileSync(file, `${history.join('\n')}\n`, { mode: 0o600 });
    } else {
      appendFileSync(file, `${entry}\n`, { mode: 0o600 });
    }
  } catch {
    // a read-only config directory costs the history, not the session
  }
}
