// Lightcone's error classes: few, each with a stable `name` and `code`, structured fields, and a
// message that says what happened and what to do. They keep their class across the worker
// boundary and the wire by `name` (see `errorFromJSON`).

/** Base class of every error Lightcone raises on its own account. */
export class LightconeError extends Error {
  /** Stable machine-readable code, e.g. `UNKNOWN_REDUCER`. */
  readonly code: string;
  /** Structured details (names, values) for programs; the message is for people. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
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
export class SenderError extends LightconeError {
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
export class InternalError extends LightconeError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'INTERNAL_ERROR', message, details, options);
  }
  override get name(): string {
    return 'InternalError';
  }
}

/** The caller asked for something that does not exist or does not fit: unknown database, reducer, table, bad arguments. */
export class UsageError extends LightconeError {
  override get name(): string {
    return 'UsageError';
  }
}

/** A module could not be bundled, loaded or described, or a publish would make a change SpacetimeDB refuses. */
export class ModuleError extends LightconeError {
  override get name(): string {
    return 'ModuleError';
  }
}

/** SQL that does not parse, names something unknown, or uses a construct SpacetimeDB's dialect lacks. */
export class SqlError extends LightconeError {
  override get name(): string {
    return 'SqlError';
  }
}

/** Storage could not be read or made durable (disk full, quota, corrupt files, database in use). */
export class StorageError extends LightconeError {
  override get name(): string {
    return 'StorageError';
  }
}

/** The database (or the worker behind it) was closed while the call was pending. */
export class ClosedError extends LightconeError {
  constructor(message = 'the database is closed: open it again to continue', details: Record<string, unknown> = {}) {
    super('CLOSED', message, details);
  }
  override get name(): string {
    return 'ClosedError';
  }
}

/** Plain-object form of an error, as it crosses a worker boundary or the wire. */
export interface SerializedError {
  name: string;
  code: string;
  message: string;
  details: Record<string, unknown>;
}

const classes: Record<string, new (code: string, message: string, details: Record<string, unknown>) => LightconeError> = {
  LightconeError,
  UsageError,
  ModuleError,
  SqlError,
  StorageError,
};

/** Rebuilds an error of the right class from its serialized form. */
export function errorFromJSON(e: SerializedError): LightconeError {
  switch (e.name) {
    case 'SenderError':
      return new SenderError(e.message, e.details);
    case 'InternalError':
      return new InternalError(e.message, e.details, { code: e.code });
    case 'ClosedError':
      return new ClosedError(e.message, e.details);
    default: {
      const Cls = classes[e.name] ?? LightconeError;
      return new Cls(e.code, e.message, e.details);
    }
  }
}
