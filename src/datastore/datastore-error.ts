// Errors the datastore raises, each carrying the SpacetimeDB errno that the host turns into the
// module's own error class (`errors.UniqueAlreadyExists`, …) so modules catch what they would on
// SpacetimeDB.

/**
 * SpacetimeDB's errno values (crates/primitives/src/errno.rs) used by the datastore and host, each
 * with SpacetimeDB's own text; our messages start with that text and add the specifics.
 */
const ERRNOS = {
  HOST_CALL_FAILURE: { errno: 1, text: 'ABI called by host returned an error' },
  NOT_IN_TRANSACTION: { errno: 2, text: 'ABI call can only be made while in a transaction' },
  BSATN_DECODE_ERROR: { errno: 3, text: "Couldn't decode the BSATN to the expected type" },
  NO_SUCH_TABLE: { errno: 4, text: 'No such table' },
  NO_SUCH_INDEX: { errno: 5, text: 'No such index' },
  NO_SUCH_ITER: { errno: 6, text: 'The provided row iterator is not valid' },
  NO_SUCH_CONSOLE_TIMER: { errno: 7, text: 'The provided console timer does not exist' },
  WRONG_INDEX_ALGO: { errno: 10, text: 'The index was not a btree index, so a range scan is not possible' },
  UNIQUE_ALREADY_EXISTS: { errno: 12, text: 'Value with given unique identifier already exists' },
  SCHEDULE_AT_DELAY_TOO_LONG: { errno: 13, text: 'Specified delay in scheduling row was too long' },
  INDEX_NOT_UNIQUE: { errno: 14, text: 'The index was not unique' },
  NO_SUCH_ROW: { errno: 15, text: 'The row was not found, e.g., in an update call' },
  AUTO_INC_OVERFLOW: { errno: 16, text: 'The auto-increment sequence overflowed' },
  WOULD_BLOCK_TRANSACTION: { errno: 17, text: 'Blocking a transaction is not allowed here' },
  TRANSACTION_NOT_ANONYMOUS: { errno: 18, text: 'The transaction is not anonymous' },
  HTTP_ERROR: { errno: 21, text: 'The HTTP request failed' },
} as const;

type ErrnoName = keyof typeof ERRNOS;

/** Errno values by name: `Errno.NO_SUCH_ROW === 15`. */
export const Errno = Object.fromEntries(Object.entries(ERRNOS).map(([name, e]) => [name, e.errno])) as { readonly [N in ErrnoName]: (typeof ERRNOS)[N]['errno'] };

/** One errno value. */
export type ErrnoCode = (typeof Errno)[ErrnoName];

const TEXT = new Map<number, string>(Object.values(ERRNOS).map((e) => [e.errno, e.text]));

/** SpacetimeDB's text for `errno`, or a generic one for a value it does not define. */
export function errnoText(errno: number): string {
  return TEXT.get(errno) ?? `host error ${errno}`;
}

/** A datastore failure with the errno a module sees. */
export class DatastoreError extends Error {
  readonly errno: number;
  constructor(errno: number, detail?: string) {
    const base = errnoText(errno);
    super(detail ? `${base}: ${detail}` : base);
    this.errno = errno;
  }
  override get name(): string {
    return 'DatastoreError';
  }
}
