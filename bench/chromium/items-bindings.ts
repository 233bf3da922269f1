// SDK bindings for bench/modules/items.ts (W10), in the shape `lightcone generate` writes them,
// for the `item` table and the `insert_one` reducer only. Written by hand as
// src/protocol/fixtures/bindings.ts is, with its one departure (`Compatible`): generated bindings
// do not type-check under this repository's exactOptionalPropertyTypes (docs/generate.md).
import {
  DbConnectionBuilder as __DbConnectionBuilder,
  DbConnectionImpl as __DbConnectionImpl,
  SubscriptionBuilderImpl as __SubscriptionBuilderImpl,
  reducerSchema as __reducerSchema,
  reducers as __reducers,
  schema as __schema,
  t as __t,
  table as __table,
  type DbConnectionConfig as __DbConnectionConfig,
  type RemoteModule as __RemoteModule,
} from 'spacetimedb';

const ItemRow = __t.row({ id: __t.u64().primaryKey(), seq: __t.u64(), grp: __t.u32(), name: __t.string(), score: __t.u64() });

const tablesSchema = __schema({
  item: __table(
    {
      name: 'item',
      indexes: [
        { accessor: 'id', name: 'item_id_idx_btree', algorithm: 'btree', columns: ['id'] },
        { accessor: 'seq', name: 'item_seq_idx_btree', algorithm: 'btree', columns: ['seq'] },
      ],
      constraints: [{ name: 'item_id_key', constraint: 'unique', columns: ['id'] }],
    },
    ItemRow,
  ),
});

/** The schema type with each table's constraints typed as the package's own constraint accepts. */
type Compatible<S extends { tables: object }> = {
  tables: { readonly [K in keyof S['tables']]: Omit<S['tables'][K], 'constraints'> & { readonly constraints: readonly never[] } };
};
const schemaType = tablesSchema.schemaType as unknown as Compatible<typeof tablesSchema.schemaType>;

const reducersSchema = __reducers(__reducerSchema('insert_one', { id: __t.u64() }));

const REMOTE_MODULE = {
  versionInfo: { cliVersion: '2.0.0' as const },
  tables: schemaType.tables,
  reducers: reducersSchema.reducersType.reducers,
  procedures: [],
} satisfies __RemoteModule<typeof schemaType, typeof reducersSchema.reducersType, { procedures: [] }>;

export class SubscriptionBuilder extends __SubscriptionBuilderImpl<typeof REMOTE_MODULE> {}

export class DbConnectionBuilder extends __DbConnectionBuilder<DbConnection> {}

export class DbConnection extends __DbConnectionImpl<typeof REMOTE_MODULE> {
  static builder = (): DbConnectionBuilder => new DbConnectionBuilder(REMOTE_MODULE, (config: __DbConnectionConfig<typeof REMOTE_MODULE>) => new DbConnection(config));
  override subscriptionBuilder = (): SubscriptionBuilder => new SubscriptionBuilder(this);
}
