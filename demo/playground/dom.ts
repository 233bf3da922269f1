// Tiny DOM helpers for the playground (plain DOM, no framework).

type Attrs = Record<string, string | number | boolean | undefined | ((event: Event) => void)>;
type Child = Node | string | number | false | null | undefined;

/** `h('button', { type: 'button', onclick }, 'Run')`: attributes, `on*` listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'className') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    el.append(typeof c === 'number' ? String(c) : c);
  }
}

/** An error's text as people read it: `SenderError: Names must not be empty`, `InternalError TIME_LIMIT: …` (the code when it says more than the class). */
export function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const named = typeof code === 'string' && !['SENDER_ERROR', 'INTERNAL_ERROR', 'ERROR'].includes(code);
  return `${error.name}${named ? ` ${code}` : ''}: ${error.message}`;
}
