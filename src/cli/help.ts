// The CLI's help: `lightcone help`, `lightcone help <command>`, `lightcone <command> --help`, and
// `--version`. Each command has a description, its usage, its options and an example.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Option {
  flags: string;
  text: string;
}

interface Command {
  name: string;
  /** One line, for the overview. */
  summary: string;
  usage: string;
  /** More about what it does (a paragraph, or several lines). */
  description: string;
  options: Option[];
  examples: string[];
  /** The options from COMMON that apply. */
  common: (keyof typeof COMMON)[];
}

const COMMON = {
  server: { flags: '-s, --server <url>', text: 'act on a running server (`lightcone start`), e.g. http://127.0.0.1:3000, instead of the data directory' },
  'data-dir': { flags: '--data-dir <dir>', text: 'the data directory (default: $LIGHTCONE_DATA_DIR or .lightcone)' },
  identity: { flags: '--identity <hex>', text: "act as this identity instead of the data directory's owner (not with --server)" },
  limits: { flags: '--call-timeout <ms>, --max-heap <MiB>', text: 'stop module code that runs longer than this (default 30000 ms) / the engine heap limit' },
  json: { flags: '--json', text: 'print JSON instead of text' },
} satisfies Record<string, Option>;

const MODULE_PATH: Option = { flags: '-p, --module-path <file|dir>', text: 'the module: its entry file or folder (default: ./spacetimedb if it exists)' };
const YES: Option = { flags: '-y, --yes', text: 'answer yes to the question before deleting data (needed without a terminal: CI, pipes)' };

export const COMMANDS: Command[] = [
  {
    name: 'init',
    summary: 'create an app: a module and a Vite client that run with `npm run dev`',
    usage: 'lightcone init [dir] [--template chat|basic]',
    description:
      'Writes a new app into <dir> (default: the current folder, which must not hold any of its files):\nspacetimedb/index.ts (the module), src/main.ts and index.html (the client, calling the module\nthrough `connect`), vite.config.ts (with the lightcone/vite plugin), package.json and tsconfig.json.\nThen: cd <dir> && npm install && npm run dev.',
    options: [{ flags: '-t, --template <name>', text: 'chat (users and messages; the default) or basic (a person table, add and say_hello)' }],
    examples: ['lightcone init my-app --template chat', 'cd my-app && npm install && npm run dev'],
    common: [],
  },
  {
    name: 'dev',
    summary: 'watch a module, publish it on every save, print what changed and the logs',
    usage: 'lightcone dev [--module-path <file|dir>] [--server <url>] <database>',
    description:
      "Publishes the module, then watches its folder: on every save it bundles and publishes it again,\nprinting the migration (what changed, or each reason SpacetimeDB's rules refuse it; the database is\nthen left as it was) and the module's log as it grows. Between publishes the database is not held\nopen, so `lightcone call` and `lightcone sql` work beside it. Ctrl-C stops it.",
    options: [MODULE_PATH, { flags: '-c, --delete-data', text: 'delete the data before the first publish (asks first; see publish)' }, YES],
    examples: ['lightcone dev chat', 'lightcone dev --module-path spacetimedb/index.ts chat --server http://127.0.0.1:3000'],
    common: ['server', 'data-dir', 'limits'],
  },
  {
    name: 'publish',
    summary: 'create a database from a module, or update its module (migrating the data)',
    usage: 'lightcone publish [--module-path <file|dir>] [-c|--delete-data] [-y|--yes] [--server <url>] <database>',
    description:
      "Bundles the module with esbuild and publishes it. A new database runs the module's `init`; an\nexisting one is migrated with SpacetimeDB's rules (new tables, columns with defaults, …), or the\npublish is refused naming each change it cannot make. -c deletes the data first, and asks before\ndoing so on a terminal; without a terminal it refuses unless --yes is given.",
    options: [MODULE_PATH, { flags: '-c, --delete-data', text: 'delete every row first and publish anew (`init` runs again)' }, YES],
    examples: ['lightcone publish --module-path examples/chat chat', 'lightcone publish -c --yes --module-path examples/chat chat'],
    common: ['server', 'data-dir', 'limits'],
  },
  {
    name: 'call',
    summary: 'call a reducer or procedure',
    usage: 'lightcone call <database> <reducer|procedure> [json-arg ...]',
    description:
      "Calls it once, as SpacetimeDB's HTTP call does, with one JSON value per parameter (64-bit and\nwider integers exact). Prints a procedure's result; a SenderError exits 1 with its message.",
    options: [],
    examples: [`lightcone call chat send_message '"hello"'`, `lightcone call bank transfer 1 2 50`],
    common: ['server', 'data-dir', 'identity', 'limits'],
  },
  {
    name: 'sql',
    summary: 'run SQL, or open an interactive SQL prompt',
    usage: 'lightcone sql <database> [<query>] [--json]',
    description:
      "Runs SpacetimeDB's SQL (SELECT with joins and WHERE, INSERT, UPDATE, DELETE; statements separated\nby ;) and prints each result as a table. Without a query it opens a prompt: a line runs when it\nends outside quotes and parentheses; \\dt (.tables) lists the tables, \\d <table> shows one, \\h the\ncommands, \\q (.exit, Ctrl-D) leaves. The prompt's history is kept in the config directory.",
    options: [],
    examples: [`lightcone sql chat "SELECT * FROM message WHERE text = 'hello'"`, 'lightcone sql chat'],
    common: ['json', 'server', 'data-dir', 'identity', 'limits'],
  },
  {
    name: 'subscribe',
    summary: "print the queries' rows, then every change to them",
    usage: 'lightcone subscribe <database> <query> [<query> ...] [-n <updates>] [--json]',
    description:
      'Prints the rows, then what each transaction changes in them (+/- lines; with --json one object a\nline), until Ctrl-C or -n updates. The database stays open meanwhile: serve it (`lightcone start`)\nto use it from other processes too.',
    options: [{ flags: '-n, --num-lines <updates>', text: 'stop after this many updates (0: the initial rows only)' }],
    examples: ['lightcone subscribe chat "SELECT * FROM message" -n 1'],
    common: ['json', 'server', 'data-dir', 'identity', 'limits'],
  },
  {
    name: 'logs',
    summary: "print the module's log",
    usage: 'lightcone logs <database> [-n <lines>] [-f|--follow] [--json]',
    description: "Prints the module's console output and Lightcone's messages about the database, oldest first.",
    options: [
      { flags: '-n, --num-lines <lines>', text: 'only the newest lines' },
      { flags: '-f, --follow', text: 'then each new entry as it is logged, until Ctrl-C' },
    ],
    examples: ['lightcone logs chat -n 20', 'lightcone logs chat -f'],
    common: ['json', 'server', 'data-dir'],
  },
  {
    name: 'describe',
    summary: 'tables, reducers, procedures and views of a database',
    usage: 'lightcone describe <database> [--json]',
    description: 'Prints the schema: tables with their columns, keys, indexes and row counts; reducers, procedures and views with their parameters.',
    options: [],
    examples: ['lightcone describe chat'],
    common: ['json', 'server', 'data-dir'],
  },
  {
    name: 'list',
    summary: 'the databases of the data directory (or those you own on a server)',
    usage: 'lightcone list [--json]',
    description: 'Prints each database with its identity.',
    options: [],
    examples: ['lightcone list'],
    common: ['json', 'server', 'data-dir'],
  },
  {
    name: 'delete',
    summary: 'delete a database and all its data',
    usage: 'lightcone delete <database>',
    description: 'Deletes the database, its data and its log. It fails while another process has the database open.',
    options: [],
    examples: ['lightcone delete chat'],
    common: ['server', 'data-dir'],
  },
  {
    name: 'export',
    summary: 'write a database to a file (an LCDB image, as the browser writes it)',
    usage: 'lightcone export <database> <file>',
    description:
      "Writes the whole database (its identity, module and rows) as one image: the bytes the browser's\n`db.export()` gives, so the file opens in a browser with `connect({ name, image })` or\n`db.import(bytes)`, and here with `lightcone import`. Embedded data directories only.",
    options: [],
    examples: ['lightcone export chat chat.lcdb'],
    common: ['data-dir'],
  },
  {
    name: 'import',
    summary: 'create or replace a database from an image file',
    usage: 'lightcone import <file> <database> [-y|--yes]',
    description:
      "Creates the database from an image (from `lightcone export` or the browser's `db.export()`) with\nthe image's identity, module and rows. Replacing an existing database deletes its data: it asks on\na terminal, and needs --yes without one. Embedded data directories only.",
    options: [YES],
    examples: ['lightcone import chat.lcdb chat'],
    common: ['data-dir'],
  },
  {
    name: 'generate',
    summary: 'client bindings for the official SpacetimeDB SDK',
    usage: 'lightcone generate --lang typescript --out-dir <dir> [--module-path <file|dir>] [--include-private]',
    description: 'Writes the bindings `spacetime generate` writes, for `DbConnection` and the React hooks (see docs/generate.md).',
    options: [
      { flags: '-o, --out-dir <dir>', text: 'the folder for the bindings, e.g. src/module_bindings' },
      { flags: '-l, --lang typescript', text: 'the language (TypeScript only)' },
      { flags: '-p, --module-path <file|dir>', text: 'the module: its entry file or folder (default: ./spacetimedb if it exists, else the current folder)' },
      { flags: '--include-private', text: 'bindings for private tables too' },
    ],
    examples: ['lightcone generate --lang typescript --out-dir src/module_bindings --module-path spacetimedb'],
    common: [],
  },
  {
    name: 'start',
    summary: "serve the data directory over SpacetimeDB's HTTP API and WebSocket protocol",
    usage: 'lightcone start [--listen <host:port>] [--max-body <bytes>]',
    description:
      'Serves the databases of the data directory to the official SDK, its React hooks, `lightcone --server`\nand Lightcone sync (default 127.0.0.1:3000). Ctrl-C closes every connection and database cleanly.',
    options: [
      { flags: '--listen <host:port>', text: 'where to listen (default 127.0.0.1:3000)' },
      { flags: '--max-body <bytes>', text: 'the largest request body (default 64 MiB)' },
    ],
    examples: ['lightcone start --listen 127.0.0.1:3000'],
    common: ['data-dir', 'limits'],
  },
  {
    name: 'help',
    summary: 'this overview, or one command in detail',
    usage: 'lightcone help [command]',
    description: 'Prints the overview, or the description, options and examples of one command (as `lightcone <command> --help`).',
    options: [],
    examples: ['lightcone help publish'],
    common: [],
  },
];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** `lightcone help`: every command in one line, then what applies to all. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `lightcone ${version()} — SpacetimeDB modules, local-first

Usage: lightcone <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options for every command (before or after the arguments):
${optionLines([COMMON['data-dir'], COMMON.server, { flags: '-h, --help', text: 'the help of a command: lightcone <command> --help' }, { flags: '--version', text: 'the version of lightcone' }])}

Environment: LIGHTCONE_DATA_DIR (the data directory), LIGHTCONE_CONFIG_DIR (the config directory,
default ~/.config/lightcone: --server credentials, SQL prompt history), LIGHTCONE_DEBUG=1 (show
the stack of an unexpected error).

Run \`lightcone help <command>\` for its options and an example.
`;
}

/** `lightcone help <command>`. */
export function commandHelp(c: Command): string {
  const options = [...c.options, ...c.common.map((k) => COMMON[k]), { flags: '-h, --help', text: 'this help' }];
  return `lightcone ${c.name} — ${c.summary}

Usage: ${c.usage}

${c.description}

Options:
${optionLines(options)}

Example${c.examples.length > 1 ? 's' : ''}:
${c.examples.map((e) => `  ${e}`).join('\n')}
`;
}

/** Options as two columns, the text wrapped at 100 characters. */
function optionLines(options: Option[]): string {
  const width = Math.min(30, Math.max(...options.map((o) => o.flags.length)));
  const pad = ' '.repeat(width + 4);
  return options
    .map((o) => {
      const text = wrap(o.text, 100 - pad.length).join(`\n${pad}`);
      return o.flags.length > width ? `  ${o.flags}\n${pad}${text}` : `  ${o.flags.padEnd(width)}  ${text}`;
    })
    .join('\n');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  return [...lines, line];
}

/** The version in lightcone's package.json. */
export function version(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The folder of lightcone's own package.json (found from this file, built into dist/ or not). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'lightcone') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the lightcone package root');
    dir = parent;
  }
}
