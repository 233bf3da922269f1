// Errors the datastore raises, each carrying the SpacetimeDB errno that the host turns into the
// module's own error class (`errors.UniqueAlreadyExists`, …) so modules catch what they would on
// SpacetimeDB.

/** SpacetimeDB errno values (crates/primitives/src/errno.rs) used by the datastore and host. */
export const Errno = {
  HOST_CALL_FAILURE: 1,
  NOT_IN_TRANSACTION: 2,
  BSATN_DECODE_ERROR: 3,
  NO_SUCH_TABLE: 4,
  NO_SUCH_INDEX: 5,
  NO_SUCH_ITER: 6,
  NO_SUCH_CONSOLE_TIMER: 7,
  WRONG_INDEX_ALGO: 10,
  UNIQUE_ALREADY_EXISTS: 12,
  SCHEDULE_AT_DELAY_TOO_LONG: 13,
  INDEX_NOT_UNIQUE: 14,
  NO_SUCH_ROW: 15,
  AUTO_INC_OVERFLOW: 16,
  WOULD_BLOCK_TRANSACTION: 17,
  TRANSACTION_NOT_ANONYMOUS: 18,
  HTTP_ERROR: 21,
} as const;
export type ErrnoCode = (typeof Errno)[keyof typeof Errno];

/** SpacetimeDB's own text for each errno; our messages start with it and add the specifics. */
export const ERRNO_TEXT: Record<number, string> = {
  1: 'ABI called by host returned an error',
  2: 'ABI call can only be made while in a transaction',
  3: "Couldn't decode the BSATN to the expected type",
  4: 'No such table',
  5: 'No such index',
  6: 'The provided row iterator is not valid',
  7: 'The provided console timer does not exist',
  10: 'The index was not a btree index, so a range scan is not possible',
  12: 'Value with given unique identifier already exists',
  13: 'Specified delay in scheduling row was too long',
  14: 'The index was not unique',
  15: 'The row was not found, e.g., in an update call',
  16: 'The auto-increment sequence overflowed',
  17: 'Blocking a transaction is not allowed here',
  18: 'The transaction is not anonymous',
  21: 'The HTTP request failed',
};

/** A datastore failure with the errno a module sees. */
export class DatastoreError extends Error {
  readonly errno: number;
  constructor(errno: number, detail?: string) {
    const base = ERRNO_TEXT[errno] ?? `host error ${errno}`;
    super(detail ? `${base}: ${detail}` : base);
    this.errno = errno;
  }
  override get name(): string {
    return 'DatastoreError';
  }
}
