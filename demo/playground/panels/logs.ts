// Logs panel: the module's log (console.* in reducers, errors, panics), live: read every second
// while the panel is shown, and right after each call and publish.
import type { LogEntry } from 'lightcone';
import { h } from '../dom.ts';
import type { Runtime } from '../runtime.ts';

const POLL_MS = 1000;
const LIMIT = 500;

export function logsPanel(runtime: Runtime): { element: HTMLElement; onShow: () => void; onHide: () => void } {
  const list = h('ol', { className: 'logs', 'aria-label': 'module log', 'aria-live': 'polite' });
  const clear = h('button', { type: 'button' }, 'Clear log view');
  const element = h('div', {}, h('div', { className: 'actions' }, clear), list);
  let shownUpTo = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  let last = '';

  const refresh = async () => {
    const db = runtime.db;
    if (!db) return;
    let entries: LogEntry[];
    try {
      entries = await db.logs({ limit: LIMIT });
    } catch {
      return; // the engine is restarting: the next poll reads them
    }
    const visible = entries.filter((e) => e.ts >= shownUpTo);
    const key = JSON.stringify(visible.at(-1) ?? null) + visible.length;
    if (key === last) return;
    last = key;
    list.replaceChildren(
      ...visible.map((e) =>
        h(
          'li',
          { className: `log-${e.level}` },
          h('time', { datetime: new Date(e.ts).toISOString() }, new Date(e.ts).toLocaleTimeString()),
          h('span', { className: 'level' }, e.level),
          h('span', { className: 'message' }, e.message),
        ),
      ),
    );
    list.scrollTop = list.scrollHeight;
  };

  clear.addEventListener('click', () => {
    shownUpTo = Date.now();
    void refresh();
  });
  runtime.on((event) => {
    if (timer !== undefined && (event.type === 'call' || event.type === 'publish' || event.type === 'connected')) void refresh();
  });
  return {
    element,
    onShow: () => {
      void refresh();
      timer ??= setInterval(() => void refresh(), POLL_MS);
    },
    onHide: () => {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
