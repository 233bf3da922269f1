// What the engine says in terms of the CLI (`lightcone publish --delete-data`), said in terms of
// the browser: the same error class, code and details, with a message that names what an app
// does here (`connect`, `reset()`). Applied to what opening a database in this worker throws.
import { LightconeError, ModuleError, UsageError } from '../src/errors.ts';

/** How an app starts a database over without its data, in the browser (the page API in src/client/connect.ts). */
export function resetAdvice(name: string): string {
  return `start over without the data: call reset() on this error, or connect({ name: ${JSON.stringify(name)}, module, onMigrationRefused: 'reset' }) (either deletes this database's data in this browser, then publishes the module anew)`;
}

/** `error` with a browser's advice where the engine gave the CLI's; anything else as it is. */
export function inBrowser(error: unknown, name: string): unknown {
  if (!(error instanceof LightconeError)) return error;
  if (error instanceof ModuleError && error.code === 'MIGRATION_REFUSED') {
    const refused = Array.isArray(error.details.refused) ? (error.details.refused as string[]) : [];
    return new ModuleError(
      'MIGRATION_REFUSED',
      `the new module cannot be published over database ${name} in this browser; SpacetimeDB refuses these changes:\n${refused.map((r) => `  - ${r}`).join('\n')}\nThe database and its module are unchanged. Change the module so that the change is allowed (a new column needs .default(value); tables and columns stay), or ${resetAdvice(name)}.`,
      { ...error.details, database: name, refused, reset: true },
      { cause: error },
    );
  }
  if (error instanceof ModuleError && error.code === 'MODULE_MISSING') {
    return new ModuleError(
      'MODULE_MISSING',
      `database ${name} has no stored module in this browser: ${resetAdvice(name)}, or db.import() an image`,
      { ...error.details, database: name, reset: true },
      { cause: error },
    );
  }
  if (error instanceof UsageError && error.code === 'UNKNOWN_DATABASE') {
    return new UsageError(
      'UNKNOWN_DATABASE',
      `database ${name} does not exist in this browser: pass its module to create it, connect({ name: ${JSON.stringify(name)}, module }) with \`import module from './module.ts?lightcone'\` (or an image from export())`,
      { ...error.details, database: name },
      { cause: error },
    );
  }
  return error;
}
