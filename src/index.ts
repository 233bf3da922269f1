// `lightcone`: the browser entry. `connect` opens a database in the origin's worker; the error
// classes keep their identity across the worker boundary, so `instanceof SenderError` works.
export {
  connect,
  type BrowserDatabase,
  type ConnectOptions,
  type LightconeModule,
  type Limits,
  type PublishResult,
  type StorageInfo,
  type TestHooks,
} from './client/connect.ts';
export { local, type LocalOptions } from './client/local.ts';
export { MigrationRefusedError, type ErrorEventDetail } from './client/refused.ts';
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
  SyncHandle,
  SyncStatus,
  TableUpdate,
  RowOf,
  TableName,
  TablesOf,
  TypedInitialRows,
  TypedTableUpdate,
} from './api/database.ts';
export type { RemoteOptions } from './sync/replica.ts';
export { LightconeError, SenderError, InternalError, UsageError, ModuleError, SqlError, StorageError, ClosedError, SyncError, type SerializedError } from './errors.ts';
