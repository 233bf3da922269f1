// The examples menu (in the editor's toolbar): "Load example" puts an example module's source in
// the editor; then Publish (another schema than the running one asks for Reset data). Loading
// replaces the editor's text only: the call log keeps everything until the next publish.
import { h } from '../dom.ts';
import { EXAMPLES } from './examples.ts';

export function examplesMenu(opts: { setSource(text: string): void; say(text: string): void }): HTMLElement {
  const select = h('select', { id: 'load-example' }, h('option', { value: '' }, 'Choose…'), ...EXAMPLES.map((e) => h('option', { value: e.id, title: e.description }, e.label)));
  select.addEventListener('change', () => {
    const example = EXAMPLES.find((e) => e.id === select.value);
    select.value = '';
    if (!example) return;
    opts.setSource(example.source);
    const first = `${example.tryIt.reducer}(${Object.values(example.tryIt.args)
      .map((v) => JSON.stringify(v))
      .join(', ')})`;
    opts.say(`The ${example.label} example is in the editor: Publish it (a different schema asks for Reset data), then try ${first} in the Call tab.`);
  });
  return h('span', { className: 'examples-menu' }, h('label', { for: 'load-example' }, 'Load example'), ' ', select);
}
