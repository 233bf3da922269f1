// The origin's owner identity: the publisher of every database this origin creates and the
// default caller. Kept in its own small IndexedDB database ("lightcone", versioned) so that it
// survives reloads and restarts like the data does.
import { openDB } from 'idb';
import { Identity } from 'spacetimedb';
import { randomIdentity } from '../src/engine/engine.ts';

const DB_NAME = 'lightcone';
const DB_VERSION = 1;
const STORE = 'origin';
const OWNER_KEY = 'owner';

/** Reads the origin's owner identity, creating it on first use (the first writer wins). */
export async function originOwner(): Promise<Identity> {
  const db = await openDB(DB_NAME, DB_VERSION, {
    upgrade(database) {
      database.createObjectStore(STORE);
    },
  });
  try {
    const tx = db.transaction(STORE, 'readwrite');
    const existing: unknown = await tx.store.get(OWNER_KEY);
    if (typeof existing === 'string') {
      await tx.done;
      return new Identity(existing);
    }
    const owner = randomIdentity();
    await tx.store.put(owner.toHexString(), OWNER_KEY);
    await tx.done;
    return owner;
  } finally {
    db.close();
  }
}
