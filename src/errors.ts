// Lightcone's error classes: few, each with a stable `name` and `code`, structured fields, and a
// message that says what happened and what to do. They keep their class across the worker
// boundary and the wire by `name` (see `errorFromJSON`).

/**
 * Base class of every error Lightcone raises on its own account. Each subclass has its own union
 * of codes (below): a new code is added there, where a reader finds every code a class can carry.
 */
export class LightconeError<C extends string = string> extends Error {
  /** Stable machine-readable code, e.g. `UNKNOWN_REDUCER`. */
  readonly code: C;
  /** Structured details (names, values) for programs; the message is for people. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: C, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  override get name(): string {
    return 'LightconeError';
  }

  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message, details: { ...this.details } };
  }
}

/** A reducer or procedure rejected the call on purpose (`throw new SenderError(...)` in the module). */
export class SenderError extends LightconeError<'SENDER_ERROR'> {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('SENDER_ERROR', message, details);
  }
  override get name(): string {
    return 'SenderError';
  }
}

/**
 * The module failed in a way its author did not intend (any other throw); the call was rolled back
 * and logged. `code` is 'INTERNAL_ERROR', or names the limit the call exceeded ('TIME_LIMIT',
 * 'HEAP_LIMIT').
 */
export class InternalError extends LightconeError<InternalErrorCode> {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown; code?: InternalErrorCode }) {
    super(options?.code ?? 'INTERNAL_ERROR', message, details, options);
  }
  override get name(): string {
    return 'InternalError';
  }
}

/** The caller asked for something that does not exist or does not fit: unknown database, reducer, table, bad arguments. */
export class UsageError extends LightconeError<UsageErrorCode> {
  override get name(): string {
    return 'UsageError';
  }
}

/** A module could not be bundled, loaded or described, or a publish would make a change SpacetimeDB refuses. */
export class ModuleError extends LightconeError<ModuleErrorCode> {
  override get name(): string {
    return 'ModuleError';
  }
}

/** SQL that does not parse, names something unknown, or uses a construct SpacetimeDB's dialect lacks. */
export class SqlError extends LightconeError<SqlErrorCode> {
  override get name(): string {
    return 'SqlError';
  }
}

/** Storage could not be read or made durable (disk full, quota, corrupt files, database in use). */
export class StorageError extends LightconeError<StorageErrorCode> {
  override get name(): string {
    return 'StorageError';
  }
}

/** The database (or the worker behind it) was closed while the call was pending. */
export class ClosedError extends LightconeError<'CLOSED'> {
  constructor(message = 'the database is closed: open it again to continue', details: Record<string, unknown> = {}) {
    super('CLOSED', message, details);
  }
  override get name(): string {
    return 'ClosedError';
  }
}

/**
 * Sync with a remote database failed in a way the app should show (a refused token, a module that
 * differs from the server's, a connection that cannot be made). Calls waiting for the server are
 * not lost by it: they stay in the outbox.
 */
export class SyncError extends LightconeError<SyncErrorCode> {
  override get name(): string {
    return 'SyncError';
  }
}

/** Plain-object form of an error, as it crosses a worker boundary or the wire. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  details: Record<string, unknown>;
}

// Codes arrive from another thread or process as strings: each class takes them as they come.
const classes: Record<string, new (code: never, message: string, details: Record<string, unknown>) => LightconeError> = {
  LightconeError,
  UsageError,
  ModuleError,
  SqlError,
  StorageError,
  SyncError,
};

/** Rebuilds an error of the right class from its serialized form. */
export function errorFromJSON(e: SerializedError): LightconeError {
  switch (e.name) {
    case 'SenderError':
      return new SenderError(e.message, e.details);
    case 'InternalError':
      return new InternalError(e.message, e.details, { code: e.code as InternalErrorCode });
    case 'ClosedError':
      return new ClosedError(e.message, e.details);
    default: {
      const Cls = classes[e.name] ?? LightconeError;
      return new Cls(e.code as never, e.message, e.details);
    }
  }
}

// ---- codes ------------------------------------------------------------------------------------

/** InternalError: the module failed, or the call exceeded a limit, or the engine behind it died or could not load. */
export type InternalErrorCode =
  | 'INTERNAL_ERROR'
  | 'TIME_LIMIT'
  | 'HEAP_LIMIT'
  | 'ENGINE_FAILED'
  | 'ENGINE_MISSING'
  | 'CRASHED'
  // the browser's engine could not load its files (how the app serves them: see lightcone/vite)
  | 'WORKER_LOAD_FAILED'
  | 'WASM_LOAD_FAILED';

/** UsageError: what the caller asked for does not exist or does not fit. */
export type UsageErrorCode =
  // names and arguments
  | 'BAD_ARGUMENT'
  | 'BAD_ARGUMENT_COUNT'
  | 'BAD_IDENTITY'
  | 'BAD_IMAGE'
  | 'BAD_MODULE'
  | 'BAD_NAME'
  | 'BAD_REQUEST'
  | 'UNKNOWN_DATABASE'
  | 'UNKNOWN_REDUCER'
  | 'LIFECYCLE_REDUCER'
  | 'UNKNOWN_FORMAT'
  // the CLI
  | 'BAD_OPTION'
  | 'BAD_OUT_DIR'
  | 'BAD_USAGE'
  | 'CONFIRMATION_REQUIRED'
  | 'FILES_EXIST'
  | 'NO_SUCH_FILE'
  | 'UNSUPPORTED_LANGUAGE'
  | 'UNSUPPORTED_OPTION'
  // lifecycles called out of order
  | 'ALREADY_OPEN'
  | 'NOT_OPEN'
  | 'NO_TX'
  | 'TX_OPEN'
  | 'BAD_SNAPSHOT_LSN'
  | 'STALE_SNAPSHOT'
  // the browser runtime and the wire
  | 'INVALID_TOKEN'
  | 'MALFORMED_MESSAGE'
  | 'NO_PROTOCOL'
  | 'NO_SHARED_WORKER'
  | 'NO_TEST_HOOKS'
  | 'PROTOCOL_MISMATCH'
  | 'UNKNOWN_METHOD';

/** ModuleError: bundling, loading, describing or publishing a module. */
export type ModuleErrorCode =
  | 'BAD_MODULE_DEF'
  | 'BUNDLE_FAILED'
  | 'INIT_FAILED'
  | 'INVALID_RLS_RULE'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_REFUSED'
  | 'MODULE_INVALID'
  | 'MODULE_LOAD_FAILED'
  | 'MODULE_MISSING'
  | 'MODULE_NOT_FOUND'
  | 'NOT_A_MODULE'
  | 'NO_DATABASE'
  | 'SPACETIMEDB_VERSION_MISMATCH'
  | 'UNKNOWN_FORMAT'
  | 'UNSUPPORTED_MODULE'
  | 'UNSUPPORTED_TYPE';

/** SqlError: parsing, binding or running SQL. */
export type SqlErrorCode =
  | 'PARSE_ERROR'
  | 'UNSUPPORTED'
  | 'UNKNOWN_TABLE'
  | 'UNKNOWN_COLUMN'
  | 'UNKNOWN_VIEW'
  | 'DUPLICATE_ALIAS'
  | 'DUPLICATE_NAME'
  | 'PERMISSION_DENIED'
  | 'TYPE_MISMATCH'
  | 'NOT_COMPARABLE'
  | 'UNINDEXED_JOIN'
  | 'EVENT_TABLE_LOOKUP'
  | 'INVALID_RLS_RULE'
  | 'BAD_LIMIT'
  | 'BAD_INSERT'
  | 'MISSING_COLUMNS'
  | 'CONSTRAINT'
  | 'VIEW_FAILED'
  | 'VIEW_DUPLICATE_KEY'
  | 'SQL_TOO_COMPLEX'
  | 'SQL_FAILED';

/** StorageError: reading or making data durable. */
export type StorageErrorCode =
  // opening
  | 'OPEN_FAILED'
  | 'READ_FAILED'
  | 'LOCK_FAILED'
  | 'DATABASE_IN_USE'
  | 'UNKNOWN_FORMAT'
  | 'UNSUPPORTED'
  | 'CORRUPT_LOG'
  | 'CORRUPT_SNAPSHOT'
  | 'CORRUPT_META'
  // writing
  | 'WRITE_FAILED'
  | 'DISK_FULL'
  | 'QUOTA_EXCEEDED'
  | 'RECORD_TOO_LARGE'
  | 'LSN_OVERFLOW'
  | 'DESTROY_FAILED'
  // after a write that failed
  | 'NOT_DURABLE'
  | 'RELOADING';

/** SyncError: what went wrong between a replica and its server. */
export type SyncErrorCode = 'TOKEN_REFUSED' | 'CONNECT_FAILED' | 'DISCONNECTED' | 'PROTOCOL_ERROR' | 'SUBSCRIBE_FAILED' | 'MODULE_MISMATCH' | 'UNKNOWN_TABLE' | 'OUTBOX_FULL' | 'BAD_REMOTE';
