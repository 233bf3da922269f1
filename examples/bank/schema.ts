// Schema of the bank example: tables only. Reducers live in ./index.ts, the
// module's entry file, which re-exports this schema as its default export.
import { schema, table, t } from 'spacetimedb/server';

const account = table(
  { public: true },
  {
    id: t.u64().primaryKey(),
    owner: t.string().index('btree'),
    balance: t.u64(),
  },
);

// One row per successful transfer.
const audit = table(
  { public: true },
  {
    id: t.u64().primaryKey().autoInc(),
    from_id: t.u64(),
    to_id: t.u64(),
    amount: t.u64(),
    sender: t.identity(),
    at: t.timestamp(),
  },
);

const spacetimedb = schema({ account, audit });
export default spacetimedb;
