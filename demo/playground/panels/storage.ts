// Storage panel: db.storage() — whether the browser keeps this origin's data under pressure, what
// it answered when asked, bytes used and the quota — plus which database the playground uses.
import { errorText, h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';

function bytes(n: number | undefined): string {
  if (n === undefined) return 'unknown';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

export function storagePanel(runtime: Runtime): { element: HTMLElement; onShow: () => void } {
  const dl = h('dl', { className: 'storage' });
  const refresh = h('button', { type: 'button' }, 'Refresh storage');
  const element = h('div', {}, dl, refresh);
  const row = (term: string, value: string) => [h('dt', {}, term), h('dd', { 'data-term': term }, value)];

  const update = async () => {
    const db = runtime.db;
    if (!db) {
      dl.replaceChildren(...row('database', `${runtime.dbName} (no module published yet)`));
      return;
    }
    try {
      const s = await db.storage();
      dl.replaceChildren(
        ...row('database', `${db.name} (IndexedDB lightcone:${db.name}, engine: ${db.mode})`),
        ...row('persisted', s.persisted === undefined ? 'unknown' : s.persisted ? 'yes: the browser keeps it under storage pressure' : 'no: the browser may evict it under storage pressure'),
        ...row('persistence asked', s.persistGranted === undefined ? 'not asked or unsupported' : s.persistGranted ? 'granted' : 'refused'),
        ...row('usage', bytes(s.usage)),
        ...row('quota', bytes(s.quota)),
      );
    } catch (error) {
      dl.replaceChildren(...row('error', errorText(error)));
    }
  };
  refresh.addEventListener('click', () => void update());
  return { element, onShow: () => void update() };
}
