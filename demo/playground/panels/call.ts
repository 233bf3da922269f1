// Call panel: a form per reducer and procedure, built from its parameter types (describe()), each
// field checked before the call (values.ts); the call goes through the runtime (the one entry
// point, so the session records it) as the identity chosen in the header. The result, a
// SenderError's message, or a time limit shows under the form.
import type { SchemaDescription } from 'lightcone';
import { errorText, h } from '../dom.ts';
import type { CallOutcome, Runtime } from '../runtime.ts';
import { type FieldKind, fieldHint, fieldKind, formatValue, type IdentityNames, parseField } from '../values.ts';

type Fn = { kind: 'reducer' | 'procedure'; name: string; params: { name: string; type: string }[]; returns?: string };

export function callPanel(runtime: Runtime, names: IdentityNames): { element: HTMLElement } {
  const element = h('div', { className: 'calls' });
  let shownFor: string | undefined;

  const render = (schema: SchemaDescription | undefined) => {
    const fns: Fn[] = [
      ...(schema?.reducers ?? []).filter((r) => r.lifecycle === undefined).map((r) => ({ kind: 'reducer' as const, name: r.name, params: r.params })),
      ...(schema?.procedures ?? []).map((p) => ({ kind: 'procedure' as const, name: p.name, params: p.params, returns: p.returns })),
    ];
    const signature = JSON.stringify(fns);
    if (signature === shownFor) return; // same functions: keep what was typed
    shownFor = signature;
    if (!schema) return element.replaceChildren(h('p', { className: 'hint' }, 'No module is running: publish one.'));
    if (fns.length === 0) return element.replaceChildren(h('p', { className: 'hint' }, 'The module has no reducers or procedures to call.'));
    const scheduled = new Set(schema.tables.map((t) => t.scheduled).filter((s): s is string => s !== undefined));
    element.replaceChildren(...fns.map((fn) => form(fn, scheduled.has(fn.name))));
  };

  const form = (fn: Fn, scheduled: boolean): HTMLElement => {
    const fields = fn.params.map((p) => field(fn, p));
    const result = h('output', { className: 'result', 'aria-live': 'polite' });
    const button = h('button', { type: 'submit' }, 'Call');
    const el = h(
      'form',
      { className: 'call', 'aria-label': `${fn.kind} ${fn.name}`, 'data-fn': fn.name },
      h('h3', {}, fn.name, h('span', { className: 'type' }, ` ${fn.kind}${fn.returns ? ` → ${fn.returns}` : ''}${scheduled ? ' · scheduled' : ''}`)),
      ...fields.map((f) => f.element),
      h('div', { className: 'actions' }, button, result),
    );
    el.addEventListener('submit', async (event) => {
      event.preventDefault();
      const args: unknown[] = [];
      let bad = false;
      for (const f of fields) {
        const parsed = f.read();
        if (!parsed.ok) {
          bad = true;
          continue;
        }
        args.push(parsed.value);
      }
      if (bad) {
        result.className = 'result error';
        result.textContent = 'Fix the fields marked above.';
        return;
      }
      button.disabled = true;
      result.className = 'result';
      result.textContent = `calling as ${runtime.identity.label}…`;
      const outcome = await runtime.call(fn.name, args);
      button.disabled = false;
      show(result, outcome);
    });
    return el;
  };

  const show = (result: HTMLOutputElement, outcome: CallOutcome) => {
    if (outcome.ok) {
      result.className = 'result ok';
      result.textContent = outcome.value === undefined ? 'ok' : `returned ${formatValue(outcome.value, names).text}`;
      return;
    }
    result.className = outcome.senderError ? 'result sender-error' : 'result error';
    result.textContent = outcome.timeLimit
      ? `${errorText(outcome.error)} — the engine was stopped and restarted from durable state.`
      : outcome.senderError
        ? `SenderError: ${outcome.error.message}`
        : errorText(outcome.error);
  };

  const field = (fn: Fn, p: { name: string; type: string }) => {
    const kind = fieldKind(p.type);
    const id = `arg-${fn.name}-${p.name}`;
    const hint = h('small', { id: `${id}-hint`, className: 'hint' }, fieldHint(kind));
    const error = h('small', { id: `${id}-error`, className: 'field-error', role: 'alert' });
    const { input, wrapper } = control(kind, id);
    input.setAttribute('aria-describedby', `${id}-hint ${id}-error`);
    const element = h('div', { className: 'field' }, h('label', { for: id }, p.name, h('span', { className: 'type' }, ` ${p.type}`)), wrapper, hint, error);
    const read = () => {
      const text = input instanceof HTMLInputElement && input.type === 'checkbox' ? String(input.checked) : input.value;
      const parsed = parseField(kind, text);
      error.textContent = parsed.ok ? '' : parsed.error;
      input.setAttribute('aria-invalid', String(!parsed.ok));
      return parsed;
    };
    input.addEventListener('change', () => void read());
    return { element, read };
  };

  type Input = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  const control = (kind: FieldKind, id: string): { input: Input; wrapper: HTMLElement } => {
    const plain = (input: Input) => ({ input, wrapper: input });
    switch (kind.kind) {
      case 'bool':
        return plain(h('input', { id, type: 'checkbox' }));
      case 'enum':
        return plain(h('select', { id }, ...kind.variants.map((v) => h('option', { value: v }, v))));
      case 'identity': {
        const list = `${id}-identities`;
        const options = () => runtime.identities.map((i) => h('option', { value: i.hex }, i.label));
        const input = h('input', { id, type: 'text', list, spellcheck: 'false', autocomplete: 'off' });
        const datalist = h('datalist', { id: list }, ...options());
        input.addEventListener('focus', () => datalist.replaceChildren(...options()));
        return { input, wrapper: h('span', { className: 'identity-field' }, input, datalist) };
      }
      case 'json':
        return plain(h('textarea', { id, rows: 2, spellcheck: 'false' }));
      default:
        return plain(h('input', { id, type: 'text', spellcheck: 'false', autocomplete: 'off' }));
    }
  };

  runtime.on((event) => {
    if (event.type === 'connected' || event.type === 'schema') render(runtime.schema);
  });
  render(runtime.schema);
  return { element };
}
