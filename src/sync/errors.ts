// Sync's error class lives with the others (src/errors.ts), so it keeps its class across threads.
export { SyncError } from '../errors.ts';
