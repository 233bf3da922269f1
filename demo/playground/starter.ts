// The module the playground opens with (before anything was written or shared): a small task
// list that shows identities, timestamps, an enum, an option, a unique index, a SenderError, a
// per-sender view and a procedure.
export const STARTER = `// A SpacetimeDB module: edit it, then Publish (Ctrl+Enter).
import { schema, table, t, SenderError } from 'spacetimedb/server';

const Priority = t.enum('Priority', ['Low', 'Normal', 'High']);

const task = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    owner: t.identity().index('btree'),
    title: t.string(),
    priority: Priority,
    due: t.timestamp().optional(),
    done: t.bool(),
    created: t.timestamp(),
  },
);

const spacetimedb = schema({ task });
export default spacetimedb;

export const add_task = spacetimedb.reducer({ title: t.string(), priority: Priority }, (ctx, { title, priority }) => {
  if (!title.trim()) throw new SenderError('A task needs a title');
  ctx.db.task.insert({ id: 0n, owner: ctx.sender, title, priority, due: undefined, done: false, created: ctx.timestamp });
  console.info(\`\${ctx.sender.toHexString().slice(0, 8)} added "\${title}"\`);
});

export const complete = spacetimedb.reducer({ id: t.u64() }, (ctx, { id }) => {
  const row = ctx.db.task.id.find(id);
  if (!row) throw new SenderError(\`No task \${id}\`);
  if (!row.owner.isEqual(ctx.sender)) throw new SenderError('Only its owner can complete a task');
  ctx.db.task.id.update({ ...row, done: true });
});

// A view computed for each caller: switch the Identity in the header to see another's.
export const my_tasks = spacetimedb.view({ public: true }, t.array(task.rowType), (ctx) => [...ctx.db.task.owner.filter(ctx.sender)]);

export const open_tasks = spacetimedb.procedure({}, t.u64(), (ctx) =>
  ctx.withTx((tx) => {
    let open = 0n;
    for (const row of tx.db.task.iter()) if (!row.done) open++;
    return open;
  }),
);
`;
