// The session document: the playground's bug-report format (docs/playground.md). One JSON object,
// versioned, holding every publish (the module's source) and every call (name, exact arguments,
// sender, time, outcome, rows changed) in order. `Export session` saves it to a file, `Import
// session` and a share link read it back, and replaying it rebuilds the database.
//
// Reading is strict and happens in full before anything changes: a document that is not one, or
// one from a newer playground, is refused with a SessionError naming the field and what to do.
import { readArgs } from './args.ts';
import { SessionError } from './errors.ts';

/** `format` of every session document. */
export const SESSION_FORMAT = 'lightcone-playground-session';
/** The version this build writes and the newest it reads. */
export const SESSION_VERSION = 1;
/** The largest document read (a file, or a link once inflated): far beyond any hand-made session. */
export const MAX_DOCUMENT_CHARS = 32 * 1024 * 1024;

/** A publish: the module's whole source, and how it went. */
export interface PublishEntry {
  kind: 'publish';
  /** Wall time of the publish, ms since the epoch. */
  at: number;
  source: string;
  /** Published over a fresh, empty database ("reset data"): any change is accepted and `init` runs. */
  reset: boolean;
  /** 'ok', or why nothing changed: it did not bundle, the migration was refused, it failed to load. */
  outcome: 'ok' | 'bundle' | 'refused' | 'load';
  /** The error's text when not 'ok'. */
  message?: string;
  /** The migration rules' reasons, when refused. */
  reasons?: string[];
}

/** How a call ended. `error` is the error's class name (`SenderError`, `InternalError`, …). */
export type CallOutcomeRecord = { ok: true; value?: string } | { ok: false; error: string; code?: string; message: string };

/** Rows a call changed, per table (an updated row counts as one delete and one insert). */
export interface TableChangeCount {
  table: string;
  inserts: number;
  deletes: number;
}

/** A reducer or procedure call. */
export interface CallEntry {
  kind: 'call';
  /** Wall time of the call, ms since the epoch. */
  at: number;
  /** The call's ctx.timestamp: µs since the epoch, as decimal digits (a replay runs it at this time). */
  timestamp: string;
  name: string;
  procedure?: boolean;
  /** Positional arguments as exact text (see args.ts): bigints keep their digits. */
  args: string;
  /** Who called: 'owner' (this browser's owner identity) or a fixed guest identity's label. */
  sender: string;
  /** The sender's identity when the call was made (hex). */
  senderHex: string;
  outcome: CallOutcomeRecord;
  changes: TableChangeCount[];
}

export type SessionEntry = PublishEntry | CallEntry;

export interface SessionDocument {
  format: typeof SESSION_FORMAT;
  version: typeof SESSION_VERSION;
  /** When the document was written (ISO 8601). */
  savedAt?: string;
  /** The editor's text when saved, if it differs from the last published source. */
  editor?: string;
  entries: SessionEntry[];
}

/** The document as JSON text (what the file holds). */
export function writeDocument(doc: SessionDocument): string {
  return `${JSON.stringify(doc, null, 1)}\n`;
}

/**
 * Reads and checks a session document. `what` names the input in messages ("the file
 * bug.json", "the share link"). Throws SessionError BAD_SESSION, FUTURE_VERSION or TOO_LARGE.
 */
export function readDocument(text: string, what: string): SessionDocument {
  if (text.length > MAX_DOCUMENT_CHARS) {
    throw new SessionError('TOO_LARGE', `${what} holds ${text.length} characters, more than the ${MAX_DOCUMENT_CHARS} a session may have`, { size: text.length });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SessionError('BAD_SESSION', `${what} is not a playground session: it is not JSON (${(e as Error).message}). Export a session from the playground to get one.`);
  }
  if (!isObject(json) || json.format !== SESSION_FORMAT) {
    throw new SessionError('BAD_SESSION', `${what} is not a playground session: its "format" is not "${SESSION_FORMAT}". Export a session from the playground to get one.`);
  }
  const version = json.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new SessionError('BAD_SESSION', `${what} has no valid "version" (a whole number from 1), got ${JSON.stringify(version)}`);
  }
  if (version > SESSION_VERSION) {
    throw new SessionError(
      'FUTURE_VERSION',
      `${what} was saved by a newer playground (session format version ${version}; this one reads up to ${SESSION_VERSION}): open it in an up-to-date playground. Nothing was changed here.`,
      { version, supported: SESSION_VERSION },
    );
  }
  const check = new Checker(what);
  const entries = check.array(json.entries, 'entries').map((e, i) => check.entry(e, `entries[${i}]`));
  const doc: SessionDocument = { format: SESSION_FORMAT, version: SESSION_VERSION, entries };
  if (json.savedAt !== undefined) doc.savedAt = check.string(json.savedAt, 'savedAt');
  if (json.editor !== undefined) doc.editor = check.string(json.editor, 'editor');
  return doc;
}

class Checker {
  readonly #what: string;
  constructor(what: string) {
    this.#what = what;
  }

  fail(path: string, expected: string, got: unknown): never {
    const shown = JSON.stringify(got);
    throw new SessionError('BAD_SESSION', `${this.#what} is damaged: ${path} must be ${expected}, got ${shown === undefined ? 'nothing' : shown.length > 80 ? `${shown.slice(0, 80)}…` : shown}`, {
      path,
    });
  }

  string(v: unknown, path: string): string {
    return typeof v === 'string' ? v : this.fail(path, 'a string', v);
  }

  number(v: unknown, path: string): number {
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(path, 'a number', v);
  }

  count(v: unknown, path: string): number {
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : this.fail(path, 'a count (a whole number from 0)', v);
  }

  bool(v: unknown, path: string): boolean {
    return typeof v === 'boolean' ? v : this.fail(path, 'true or false', v);
  }

  array(v: unknown, path: string): unknown[] {
    return Array.isArray(v) ? v : this.fail(path, 'an array', v);
  }

  object(v: unknown, path: string): Record<string, unknown> {
    return isObject(v) ? v : this.fail(path, 'an object', v);
  }

  entry(v: unknown, path: string): SessionEntry {
    const o = this.object(v, path);
    if (o.kind === 'publish') {
      const outcome = o.outcome;
      if (outcome !== 'ok' && outcome !== 'bundle' && outcome !== 'refused' && outcome !== 'load') this.fail(`${path}.outcome`, '"ok", "bundle", "refused" or "load"', outcome);
      const e: PublishEntry = { kind: 'publish', at: this.number(o.at, `${path}.at`), source: this.string(o.source, `${path}.source`), reset: this.bool(o.reset, `${path}.reset`), outcome };
      if (o.message !== undefined) e.message = this.string(o.message, `${path}.message`);
      if (o.reasons !== undefined) e.reasons = this.array(o.reasons, `${path}.reasons`).map((r, i) => this.string(r, `${path}.reasons[${i}]`));
      return e;
    }
    if (o.kind === 'call') {
      const timestamp = this.string(o.timestamp, `${path}.timestamp`);
      if (!/^-?\d{1,19}$/.test(timestamp) || BigInt(timestamp) >= 1n << 63n || BigInt(timestamp) < -(1n << 63n)) {
        this.fail(`${path}.timestamp`, 'microseconds since the epoch as decimal digits (i64)', timestamp);
      }
      const name = this.string(o.name, `${path}.name`);
      const args = this.string(o.args, `${path}.args`);
      readArgs(args, `${this.#what}: ${path}.args`); // checked now, so a replay never stops halfway on bad text
      const senderHex = this.string(o.senderHex, `${path}.senderHex`);
      if (!/^[0-9a-f]{64}$/.test(senderHex)) this.fail(`${path}.senderHex`, 'an identity (64 lowercase hex digits)', senderHex);
      const out = this.object(o.outcome, `${path}.outcome`);
      let outcome: CallOutcomeRecord;
      if (out.ok === true) {
        outcome = { ok: true };
        if (out.value !== undefined) outcome.value = this.string(out.value, `${path}.outcome.value`);
      } else if (out.ok === false) {
        outcome = { ok: false, error: this.string(out.error, `${path}.outcome.error`), message: this.string(out.message, `${path}.outcome.message`) };
        if (out.code !== undefined) outcome.code = this.string(out.code, `${path}.outcome.code`);
      } else {
        this.fail(`${path}.outcome.ok`, 'true or false', out.ok);
      }
      const changes = this.array(o.changes, `${path}.changes`).map((c, i) => {
        const t = this.object(c, `${path}.changes[${i}]`);
        return {
          table: this.string(t.table, `${path}.changes[${i}].table`),
          inserts: this.count(t.inserts, `${path}.changes[${i}].inserts`),
          deletes: this.count(t.deletes, `${path}.changes[${i}].deletes`),
        };
      });
      const e: CallEntry = {
        kind: 'call',
        at: this.number(o.at, `${path}.at`),
        timestamp,
        name,
        args,
        sender: this.string(o.sender, `${path}.sender`),
        senderHex,
        outcome,
        changes,
      };
      if (o.procedure !== undefined) e.procedure = this.bool(o.procedure, `${path}.procedure`);
      return e;
    }
    return this.fail(`${path}.kind`, '"publish" or "call"', o.kind);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
