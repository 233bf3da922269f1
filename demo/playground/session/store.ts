// Where the session lives between visits: its own IndexedDB database (beside the engine's), with
// the entries of the call log and the database images kept from before calls (time travel).
import { type IDBPDatabase, openDB } from 'idb';
import type { SessionDocument, SessionEntry } from './document.ts';

/** An entry of this browser's log: the document's entry plus the id its image is kept under. */
export type LocalEntry = SessionEntry & { id: string };

const VERSION = 1;
const META = 'meta';
const IMAGES = 'images';

export class SessionStore {
  readonly #db: Promise<IDBPDatabase>;

  /** The store of the playground whose database base name is `base`. */
  constructor(base: string) {
    this.#db = openDB(`lightcone-playground-session:${base}`, VERSION, {
      upgrade(db) {
        db.createObjectStore(META);
        db.createObjectStore(IMAGES);
      },
    });
  }

  async entries(): Promise<LocalEntry[]> {
    const v: unknown = await (await this.#db).get(META, 'entries');
    return Array.isArray(v) ? (v as LocalEntry[]) : [];
  }

  async setEntries(entries: readonly LocalEntry[]): Promise<void> {
    await (await this.#db).put(META, entries, 'entries');
  }

  /** The session a load replaced (kept so that loading a link or a file never loses the work before it). */
  async previous(): Promise<SessionDocument | undefined> {
    return (await (await this.#db).get(META, 'previous')) as SessionDocument | undefined;
  }

  async setPrevious(doc: SessionDocument | undefined): Promise<void> {
    const db = await this.#db;
    if (doc === undefined) await db.delete(META, 'previous');
    else await db.put(META, doc, 'previous');
  }

  async image(id: string): Promise<Uint8Array | undefined> {
    return (await (await this.#db).get(IMAGES, id)) as Uint8Array | undefined;
  }

  async putImage(id: string, image: Uint8Array): Promise<void> {
    await (await this.#db).put(IMAGES, image, id);
  }

  async imageIds(): Promise<string[]> {
    return (await (await this.#db).getAllKeys(IMAGES)).map(String);
  }

  async deleteImages(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const tx = (await this.#db).transaction(IMAGES, 'readwrite');
    await Promise.all([...ids.map((id) => tx.store.delete(id)), tx.done]);
  }
}
