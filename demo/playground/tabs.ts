// Panels as tabs (WAI-ARIA tabs pattern): role=tablist/tab/tabpanel, arrow keys move between
// tabs, the selected tab alone is in the tab order. `onShow`/`onHide` tell a panel it was shown or hidden.
import { h } from './dom.ts';

export interface TabSet {
  readonly list: HTMLElement;
  add(id: string, label: string, panel: HTMLElement, hooks?: { onShow?: () => void; onHide?: () => void }): void;
  select(id: string): void;
  readonly selected: string | undefined;
}

export function createTabs(container: HTMLElement, label: string): TabSet {
  const list = h('div', { role: 'tablist', 'aria-label': label, className: 'tablist' });
  const panels = h('div', { className: 'tabpanels' });
  container.append(list, panels);
  const tabs = new Map<string, { tab: HTMLButtonElement; panel: HTMLElement; hooks: { onShow?: () => void; onHide?: () => void } }>();
  let selected: string | undefined;
  const select = (id: string, focus = false) => {
    const target = tabs.get(id);
    if (!target) return;
    if (selected !== undefined && selected !== id) tabs.get(selected)?.hooks.onHide?.();
    selected = id;
    for (const [other, t] of tabs) {
      const on = other === id;
      t.tab.setAttribute('aria-selected', String(on));
      t.tab.tabIndex = on ? 0 : -1;
      t.panel.hidden = !on;
    }
    if (focus) target.tab.focus();
    target.hooks.onShow?.();
  };
  list.addEventListener('keydown', (event) => {
    const ids = [...tabs.keys()];
    const at = ids.indexOf(selected ?? '');
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (at + 1) % ids.length;
    else if (event.key === 'ArrowLeft') next = (at - 1 + ids.length) % ids.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = ids.length - 1;
    if (next === undefined) return;
    event.preventDefault();
    select(ids[next]!, true);
  });
  return {
    list,
    get selected() {
      return selected;
    },
    add(id, text, panel, hooks = {}) {
      const tab = h('button', { type: 'button', role: 'tab', id: `tab-${id}`, 'aria-controls': `panel-${id}`, 'aria-selected': 'false', tabindex: -1 }, text);
      panel.id = `panel-${id}`;
      panel.setAttribute('role', 'tabpanel');
      panel.setAttribute('aria-labelledby', tab.id);
      panel.hidden = true;
      tab.addEventListener('click', () => select(id));
      tabs.set(id, { tab, panel, hooks });
      list.append(tab);
      panels.append(panel);
      if (selected === undefined) select(id);
    },
    select: (id) => select(id),
  };
}
