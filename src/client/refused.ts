// A database in this browser that cannot take the module the app brings (SpacetimeDB refuses the
// migration, or no module is stored): the error says why, and carries the way out the app may
// offer its user, `reset()`, which deletes the database's data in this browser and publishes the
// module anew. Nothing is deleted unless the app calls it (or connects with
// `onMigrationRefused: 'reset'`). In development the error is also announced to the page as a
// `lightcone:error` event, which the Vite plugin shows in its error overlay (src/vite/dev-errors.ts).
import { ModuleError } from '../errors.ts';

/**
 * A refused migration (`code` MIGRATION_REFUSED: `refused` lists each change SpacetimeDB refuses)
 * or a database without a stored module (MODULE_MISSING). Still a `ModuleError`. The database and
 * its data are unchanged; `reset()` starts it over.
 */
export class MigrationRefusedError<R = unknown> extends ModuleError {
  /** The changes SpacetimeDB refuses, one line each (empty for MODULE_MISSING). */
  readonly refused: readonly string[];
  readonly #reset: () => Promise<R>;

  constructor(error: ModuleError, reset: () => Promise<R>) {
    super(error.code, error.message, { ...error.details }, { cause: error });
    this.refused = Array.isArray(error.details.refused) ? [...(error.details.refused as string[])] : [];
    this.#reset = reset;
  }

  /**
   * Deletes this database's data in this browser (rows, logs, and any calls still waiting for a
   * server), then publishes the module anew (`init` runs). Every tab's subscriptions continue on
   * the new database. Resolves with what the refused operation would have given.
   */
  reset(): Promise<R> {
    return this.#reset();
  }
}

/** Whether a worker's error is one that `reset()` can get past (the worker marks them). */
export function isRefused(error: unknown): error is ModuleError {
  return error instanceof ModuleError && error.details.reset === true;
}

/** The event the page receives for a module error (what the Vite plugin's dev overlay shows). */
export const ERROR_EVENT = 'lightcone:error';

/** What `lightcone:error` events carry. */
export interface ErrorEventDetail {
  database: string;
  name: string;
  code: string;
  message: string;
}

/** Tells the page (and through it the Vite dev server's overlay) about a module error; a no-op outside a page. */
export function announce(error: unknown, database: string): void {
  if (!(error instanceof ModuleError)) return;
  const target = globalThis as { dispatchEvent?: (event: Event) => boolean };
  if (typeof target.dispatchEvent !== 'function' || typeof CustomEvent !== 'function') return;
  const detail: ErrorEventDetail = { database, name: error.name, code: error.code, message: error.message };
  try {
    target.dispatchEvent(new CustomEvent(ERROR_EVENT, { detail }));
  } catch {
    // A listener's failure is not the app's error.
  }
}
