// The session's one error class: bad input (a damaged share link, a file that is not a session or
// comes from a newer playground, a value that cannot be recorded) gets a code and a message that
// says what to do. Nothing is changed when one is thrown.

export type SessionErrorCode =
  /** The text is not a session document (not JSON, another format, a field of the wrong shape). */
  | 'BAD_SESSION'
  /** A session written by a newer playground (its `version` is above the one this build reads). */
  | 'FUTURE_VERSION'
  /** A share link whose data cannot be read (cut short when copied, or changed). */
  | 'BAD_LINK'
  /** A session or link larger than the playground accepts. */
  | 'TOO_LARGE'
  /** A call whose arguments are not values a reducer takes (a function, a Map, a cycle, …). */
  | 'UNRECORDABLE'
  /** Restoring or replaying failed; the message says where. */
  | 'REPLAY_FAILED';

export class SessionError extends Error {
  readonly code: SessionErrorCode;
  readonly details: Record<string, unknown>;

  constructor(code: SessionErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'SessionError';
    this.code = code;
    this.details = details;
  }
}
