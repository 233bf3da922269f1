// `lightcone/node`: open Lightcone databases from Node (file durability under a data directory).
export { openDatabase, databaseDir, listDatabases, deleteDatabase, type OpenDatabaseOptions, type NodeDatabase, type DatabaseInfo } from './open-database.ts';
export type {
  Database,
  CallOptions,
  LogEntry,
  SqlOptions,
  SqlResult,
  SchemaDescription,
  InitialRows,
  Row,
  SubscribeCallbacks,
  SubscribeOptions,
  SubscriptionHandle,
  TableUpdate,
  RowOf,
  TableName,
  TablesOf,
  TypedInitialRows,
  TypedTableUpdate,
} from '../api/database.ts';
export { bundleModule, type ModuleBundle } from '../host/bundle.ts';
export { generateBindings, type GenerateBindingsOptions, type GenerateBindingsResult } from '../generate/generate.ts';
export { LightconeError, SenderError, InternalError, UsageError, ModuleError, SqlError, StorageError, ClosedError } from '../errors.ts';
