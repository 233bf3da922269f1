// `lightcone init [dir] [--template chat|basic]`: a new app, a SpacetimeDB module in spacetimedb/
// and a Vite client that calls it through `connect`, ready for `npm install && npm run dev`.
// Nothing is overwritten: init refuses a folder that already holds any of the files it writes.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { UsageError } from '../errors.ts';
import { PINNED_SPACETIMEDB_VERSION } from '../host/module-format.ts';
import { packageRoot, version } from './help.ts';

export const TEMPLATES = ['chat', 'basic'] as const;
export type Template = (typeof TEMPLATES)[number];

export interface InitResult {
  dir: string;
  /** The files written, relative to `dir`. */
  files: string[];
  /** The `lightcone` dependency written into package.json. */
  lightcone: string;
  /** The database name the client connects to. */
  database: string;
}

/** Writes the app into `dir` (created if missing). */
export function initApp(dirArg: string | undefined, templateArg: string | undefined): InitResult {
  const template = (templateArg ?? 'chat') as Template;
  if (!TEMPLATES.includes(template)) {
    throw new UsageError('BAD_OPTION', `--template ${JSON.stringify(templateArg)} is not a template: use ${TEMPLATES.join(' or ')}`, { option: 'template', value: templateArg });
  }
  const dir = resolve(dirArg ?? '.');
  const appName = packageName(basename(dir));
  const database =
    appName
      .replace(/[^A-Za-z0-9_-]/g, '-')
      .replace(/^[^A-Za-z0-9]+/, '')
      .slice(0, 64) || 'app';
  const lightcone = lightconeDependency();
  const files: Record<string, string> = {
    'package.json': packageJson(appName, lightcone),
    'tsconfig.json': TSCONFIG,
    'vite.config.ts': VITE_CONFIG,
    'index.html': indexHtml(template),
    'src/env.d.ts': ENV_D_TS,
    'src/main.ts': template === 'chat' ? chatClient(database) : basicClient(database),
    'spacetimedb/index.ts': template === 'chat' ? CHAT_MODULE : BASIC_MODULE,
    '.gitignore': 'node_modules/\ndist/\n.lightcone/\n',
    'README.md': readme(appName, database, template),
  };
  const taken = Object.keys(files).filter((f) => existsSync(join(dir, f)));
  if (taken.length > 0) {
    throw new UsageError('FILES_EXIST', `${dir} already has ${taken.join(', ')}: lightcone init writes a new app and overwrites nothing. Pick an empty or new folder: lightcone init <dir>`, {
      dir,
      files: taken,
    });
  }
  for (const [name, text] of Object.entries(files)) {
    const path = join(dir, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
  return { dir, files: Object.keys(files), lightcone, database };
}

/** An npm package name from a folder name. */
function packageName(folder: string): string {
  const name = folder
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 214);
  return name || 'lightcone-app';
}

/**
 * How the app depends on this lightcone: the registry version when it was installed from the
 * registry; else where it came from (a tarball or a folder), as an absolute `file:` spec, so
 * `npm install` in the app installs this very copy before the package is published.
 */
export function lightconeDependency(): string {
  const root = packageRoot();
  const marker = `${sep}node_modules${sep}`;
  const at = root.lastIndexOf(marker);
  if (at < 0) return `file:${root}`; // a checkout (or a linked folder): the folder itself
  const project = root.slice(0, at);
  const key = relative(project, root).split(sep).join('/');
  try {
    const lock = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8')) as { packages?: Record<string, { resolved?: string; link?: boolean }> };
    const resolved = lock.packages?.[key]?.resolved;
    if (resolved && /^https?:/.test(resolved)) return `^${version()}`;
    if (resolved?.startsWith('file:')) return `file:${resolve(project, resolved.slice(5))}`;
    if (resolved) return `file:${resolve(project, resolved)}`;
  } catch {
    // no lockfile to tell: the registry's version is the best guess
  }
  return `^${version()}`;
}

function packageJson(name: string, lightcone: string): string {
  const own = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { devDependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  const dev = own.devDependencies ?? {};
  const pkg = {
    name,
    private: true,
    version: '0.0.0',
    type: 'module',
    scripts: {
      dev: 'vite',
      build: 'vite build',
      preview: 'vite preview',
      typecheck: 'tsc --noEmit',
    },
    dependencies: {
      lightcone,
      // The version Lightcone hosts: modules are bundled against it (another is refused).
      spacetimedb: PINNED_SPACETIMEDB_VERSION,
    },
    devDependencies: {
      typescript: dev.typescript ?? '^5.9.0',
      vite: dev.vite ?? '^8.0.0',
    },
  };
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

const TSCONFIG = `{
  "compilerOptions": {
    "target": "es2022",
    "lib": ["es2023", "dom", "dom.iterable"],
    "module": "preserve",
    "moduleResolution": "bundler",
    "allowImportingTsExtensions": true,
    "noEmit": true,
    "strict": true,
    "skipLibCheck": true,
    "isolatedModules": true,
    "verbatimModuleSyntax": true
  },
  "include": ["src", "spacetimedb", "vite.config.ts"]
}
`;

const VITE_CONFIG = `import { defineConfig } from 'vite';
import lightcone from 'lightcone/vite';

// The plugin bundles the module for the browser's worker (imports ending in ?lightcone) and serves
// what the worker needs (SQLite's wasm).
export default defineConfig({ plugins: [lightcone()] });
`;

const ENV_D_TS = `/// <reference types="vite/client" />
/// <reference types="lightcone/vite/client" />
`;

function indexHtml(template: Template): string {
  const body =
    template === 'chat'
      ? `    <h1>Chat</h1>
    <p id="status">Opening the database…</p>
    <form id="name-form"><input id="name" placeholder="Your name" autocomplete="off" /><button>Set name</button></form>
    <ul id="messages"></ul>
    <form id="message-form"><input id="text" placeholder="Say something" autocomplete="off" /><button>Send</button></form>`
      : `    <h1>People</h1>
    <p id="status">Opening the database…</p>
    <form id="add-form"><input id="name" placeholder="A name" autocomplete="off" /><button>Add</button></form>
    <ul id="people"></ul>
    <button id="hello">Say hello</button>
    <pre id="log"></pre>`;
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>${template === 'chat' ? 'Chat' : 'People'} · Lightcone</title>
    <style>
      body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }
      form { display: flex; gap: 0.5rem; margin: 0.5rem 0; }
      input { flex: 1; }
      #error { color: #b00020; }
    </style>
  </head>
  <body>
${body}
    <p id="error" role="alert"></p>
    <script type="module" src="/src/main.ts"></script>
  </body>
</html>
`;
}

function chatClient(database: string): string {
  return `// The page: opens the database in this origin's worker (IndexedDB keeps it across reloads, every
// tab shares it), shows the messages live, and calls the module's reducers.
import { connect, SenderError } from 'lightcone';
import chat from '../spacetimedb/index.ts?lightcone';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** What a reducer refused (its SenderError) or anything else that failed, under the forms. */
function showError(e: unknown) {
  $('error').textContent = e instanceof SenderError ? e.message : \`Something went wrong: \${(e as Error).message}\`;
}

async function main() {
  // Publishes the module when the database is new, and migrates it when the module changed.
  const db = await connect({ name: '${database}', module: chat });
  $('status').textContent = \`Database ${database}, identity \${db.owner.toHexString().slice(0, 12)}…\`;

  const messages = new Map<string, { text: string; sent: string }>();
  const render = () => {
    const list = $('messages');
    list.replaceChildren(
      ...[...messages.values()].map((m) => {
        const li = document.createElement('li');
        li.textContent = \`\${m.sent} \${m.text}\`;
        return li;
      }),
    );
  };
  // \`sent\` is a SpacetimeDB Timestamp: toDate() gives a JS Date.
  const keep = (row: Record<string, unknown>) =>
    messages.set(String(row.id), { text: String(row.text), sent: (row.sent as { toDate(): Date }).toDate().toLocaleTimeString() });

  db.subscribe(['SELECT * FROM message'], {
    onApplied: (initial) => {
      messages.clear();
      for (const row of initial.message ?? []) keep(row);
      render();
    },
    onUpdate: (update) => {
      for (const t of update) {
        for (const row of t.deletes) messages.delete(String(row.id));
        for (const row of t.inserts) keep(row);
      }
      render();
    },
  });

  $('message-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('text');
    const text = input.value;
    input.value = '';
    $('error').textContent = '';
    try {
      await db.call('send_message', { text });
    } catch (e) {
      input.value ||= text;
      showError(e);
    }
  });

  $('name-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    $('error').textContent = '';
    try {
      await db.call('set_name', { name: $<HTMLInputElement>('name').value });
    } catch (e) {
      showError(e);
    }
  });
}

main().catch(showError);
`;
}

function basicClient(database: string): string {
  return `// The page: opens the database in this origin's worker (IndexedDB keeps it across reloads, every
// tab shares it), lists the people live, and calls the module's reducers.
import { connect, SenderError } from 'lightcone';
import basic from '../spacetimedb/index.ts?lightcone';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function showError(e: unknown) {
  $('error').textContent = e instanceof SenderError ? e.message : \`Something went wrong: \${(e as Error).message}\`;
}

async function main() {
  // Publishes the module when the database is new, and migrates it when the module changed.
  const db = await connect({ name: '${database}', module: basic });
  $('status').textContent = \`Database ${database}, identity \${db.owner.toHexString().slice(0, 12)}…\`;

  let people: string[] = [];
  const render = () => {
    $('people').replaceChildren(
      ...people.map((name) => {
        const li = document.createElement('li');
        li.textContent = name;
        return li;
      }),
    );
  };
  db.subscribe(['SELECT * FROM person'], {
    onApplied: (initial) => {
      people = (initial.person ?? []).map((row) => String(row.name));
      render();
    },
    onUpdate: (update) => {
      for (const t of update) {
        for (const row of t.deletes) people.splice(people.indexOf(String(row.name)), 1);
        for (const row of t.inserts) people.push(String(row.name));
      }
      render();
    },
  });

  $('add-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('name');
    $('error').textContent = '';
    try {
      await db.call('add', { name: input.value });
      input.value = '';
    } catch (e) {
      showError(e);
    }
  });

  // say_hello logs a line per person: the module's log is read back like \`lightcone logs\`.
  $('hello').addEventListener('click', async () => {
    try {
      await db.call('say_hello', {});
      const logs = await db.logs({ limit: people.length + 1 });
      $('log').textContent = logs.map((l) => l.message).join('\\n');
    } catch (e) {
      showError(e);
    }
  });
}

main().catch(showError);
`;
}

const CHAT_MODULE = `// The module: SpacetimeDB 2.x TypeScript, run unchanged by Lightcone (in the browser's worker, in
// Node, or on a \`lightcone start\` server) and by SpacetimeDB itself.
import { schema, table, t, SenderError } from 'spacetimedb/server';

const user = table(
  { public: true },
  {
    identity: t.identity().primaryKey(),
    name: t.string().optional(),
    online: t.bool(),
  },
);

const message = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    sender: t.identity().index('btree'),
    sent: t.timestamp(),
    text: t.string(),
  },
);

const spacetimedb = schema({ user, message });
export default spacetimedb;

export const set_name = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  if (!name) throw new SenderError('Names must not be empty');
  const me = ctx.db.user.identity.find(ctx.sender);
  if (!me) throw new SenderError('Cannot set name for unknown user');
  ctx.db.user.identity.update({ ...me, name });
});

export const send_message = spacetimedb.reducer({ text: t.string() }, (ctx, { text }) => {
  if (!text) throw new SenderError('Messages must not be empty');
  console.info(\`\${ctx.sender}: \${text}\`);
  ctx.db.message.insert({ id: 0n, sender: ctx.sender, sent: ctx.timestamp, text });
});

// Called once, when the database is created.
export const init = spacetimedb.init((_ctx) => {
  console.log('chat module initialised');
});

export const client_connected = spacetimedb.clientConnected((ctx) => {
  const me = ctx.db.user.identity.find(ctx.sender);
  if (me) ctx.db.user.identity.update({ ...me, online: true });
  else ctx.db.user.insert({ identity: ctx.sender, name: undefined, online: true });
});

export const client_disconnected = spacetimedb.clientDisconnected((ctx) => {
  const me = ctx.db.user.identity.find(ctx.sender);
  if (me) ctx.db.user.identity.update({ ...me, online: false });
});
`;

const BASIC_MODULE = `// The module: SpacetimeDB 2.x TypeScript, run unchanged by Lightcone (in the browser's worker, in
// Node, or on a \`lightcone start\` server) and by SpacetimeDB itself.
import { schema, table, t } from 'spacetimedb/server';

const spacetimedb = schema({
  person: table({ public: true }, { name: t.string() }),
});
export default spacetimedb;

// Called once, when the database is created.
export const init = spacetimedb.init((_ctx) => {});

export const add = spacetimedb.reducer({ name: t.string() }, (ctx, { name }) => {
  ctx.db.person.insert({ name });
});

export const say_hello = spacetimedb.reducer((ctx) => {
  for (const person of ctx.db.person.iter()) {
    console.info(\`Hello, \${person.name}!\`);
  }
  console.info('Hello, World!');
});
`;

function readme(name: string, database: string, template: Template): string {
  const call = template === 'chat' ? `npx lightcone call ${database} send_message '"hello"'` : `npx lightcone call ${database} add '"Ada"'`;
  const table = template === 'chat' ? 'message' : 'person';
  return `# ${name}

A Lightcone app: the SpacetimeDB module in \`spacetimedb/index.ts\` runs in the
browser (a worker, data in IndexedDB); \`src/main.ts\` calls it through \`connect\`.

\`\`\`sh
npm install
npm run dev        # the app on http://localhost:5173 (edit the module: the page reloads and migrates it)
npm run build      # a static build in dist/
\`\`\`

The same module from the command line (data in \`./.lightcone\`):

\`\`\`sh
npx lightcone publish --module-path spacetimedb ${database}
${call}
npx lightcone sql ${database} "SELECT * FROM ${table}"
npx lightcone dev ${database}   # publish on every save, print the migration and the logs
\`\`\`
`;
}
