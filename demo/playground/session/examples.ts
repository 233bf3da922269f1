// The examples menu's content: the repository's example modules as playground sources (one file
// each, importing only what the playground's bundler carries). Vite inlines them at build time
// (`?raw`), so the menu needs no request.
//
// For the app (the menu): `EXAMPLES` in menu order; choosing one puts `source` in the editor
// (then Publish; a different schema needs "Reset data"). Each entry's `tryIt` names a first call.
import bankIndex from '../../../examples/bank/index.ts?raw';
import bankSchema from '../../../examples/bank/schema.ts?raw';
import chat from '../../../examples/chat/index.ts?raw';
import notes from '../../../examples/notes/index.ts?raw';
import todo from '../../../examples/todo/index.ts?raw';

const NAMED_IMPORT = /^import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)';\s*$/;
const DEFAULT_IMPORT = /^import\s+(\w+)\s+from\s+'(\.[^']*)';\s*$/;

export interface Example {
  /** Stable id (menus, tests, `?example=` links). */
  id: 'chat' | 'bank' | 'todo' | 'notes';
  /** The menu's text. */
  label: string;
  /** One line on what it shows. */
  description: string;
  /** The module's TypeScript, one file. */
  source: string;
  /** Packages besides spacetimedb it imports (the bundler must carry them). */
  imports: string[];
  /** A first call to try: reducer name and arguments as the Call form takes them. */
  tryIt: { reducer: string; args: Record<string, string> };
}

export const EXAMPLES: readonly Example[] = [
  {
    id: 'chat',
    label: 'Chat',
    description: "SpacetimeDB's quickstart chat: users, messages, lifecycle hooks.",
    source: chat,
    imports: [],
    tryIt: { reducer: 'send_message', args: { text: 'hello' } },
  },
  {
    id: 'bank',
    label: 'Bank',
    description: 'Accounts and all-or-nothing transfers, refused with SenderError when funds are short.',
    source: singleFile(bankIndex, { './schema': bankSchema }),
    imports: [],
    tryIt: { reducer: 'open_account', args: { id: '1', owner: 'ann', balance: '100' } },
  },
  {
    id: 'todo',
    label: 'Todo',
    description: 'A shared todo list whose items only their owner may change (try another identity).',
    source: todo,
    imports: [],
    tryIt: { reducer: 'add_todo', args: { text: 'try the playground' } },
  },
  {
    id: 'notes',
    label: 'Notes (Yjs)',
    description: 'Collaborative notes: each body is a Yjs document merged inside the reducer.',
    source: notes,
    imports: ['yjs'],
    tryIt: { reducer: 'create_note', args: { id: 'n1', title: 'first note' } },
  },
];

/** The example with this id. */
export function exampleById(id: string): Example | undefined {
  return EXAMPLES.find((e) => e.id === id);
}

/**
 * A module of several files as one: each local file the entry imports by default (`import x from
 * './schema'`) is inlined where the import was, its own `export default x;` dropped (the entry
 * re-exports it), and the package imports of all files are merged at the top. Enough for the
 * examples' layout (an entry plus a schema file); it is not a general bundler.
 */
export function singleFile(entry: string, locals: Record<string, string>): string {
  const named = new Map<string, { type: boolean; names: Set<string> }>();
  const take = (line: string): boolean => {
    const m = NAMED_IMPORT.exec(line);
    if (!m) return false;
    const key = `${m[1] ? 'type ' : ''}${m[3]}`;
    const entryOf = named.get(key) ?? { type: Boolean(m[1]), names: new Set<string>() };
    for (const n of m[2]!.split(',')) if (n.trim()) entryOf.names.add(n.trim());
    named.set(key, entryOf);
    return true;
  };
  const body: string[] = [];
  for (const line of entry.split('\n')) {
    if (take(line)) continue;
    const d = DEFAULT_IMPORT.exec(line);
    if (d && locals[d[2]!] !== undefined) {
      const inlined = locals[d[2]!]!.split('\n').filter((l) => !take(l) && l.trim() !== `export default ${d[1]};`);
      body.push(`// ── ${d[2]}.ts ──`, ...inlined, `// ── end of ${d[2]}.ts ──`);
      continue;
    }
    body.push(line);
  }
  const imports = [...named.entries()].map(([key, { type, names }]) => `import ${type ? 'type ' : ''}{ ${[...names].join(', ')} } from '${key.replace(/^type /, '')}';`);
  // Comments at the top of the entry stay at the top.
  const lead: string[] = [];
  while (body.length > 0 && (body[0]!.startsWith('//') || body[0]!.trim() === '')) lead.push(body.shift()!);
  return [...lead, ...imports, ...body].join('\n');
}
