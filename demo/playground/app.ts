// The playground app: the editor (left), the panels as tabs (right), the header's identity
// picker and engine status, and the publish flow with what each failure offers: bundling errors
// marked in the editor, a refused migration's reasons with "Reset data", a module that failed to
// load or a runaway with "Stop and restart engine". See main.ts for what the session uses.
import vocabulary from 'virtual:spacetimedb-vocabulary';
import { errorText, h } from './dom.ts';
import { createEditor, type ModuleEditor } from './editor.ts';
import { callPanel } from './panels/call.ts';
import { logsPanel } from './panels/logs.ts';
import { sqlPanel } from './panels/sql.ts';
import { storagePanel } from './panels/storage.ts';
import { subscriptionsPanel } from './panels/subscriptions.ts';
import { tablesPanel } from './panels/tables.ts';
import { formatDiagnostic, type PublishOutcome, Runtime } from './runtime.ts';
import { STARTER } from './starter.ts';
import { createTabs, type TabSet } from './tabs.ts';
import { TypeService } from './typescript.ts';
import type { IdentityNames } from './values.ts';

export interface App {
  runtime: Runtime;
  editor: ModuleEditor;
  /** The editor's TypeScript language service (its own worker, loaded once the page is up). */
  types: TypeService;
  tabs: TabSet;
  /** Mounts one more panel as a tab. */
  addTab(id: string, label: string, panel: HTMLElement, hooks?: { onShow?: () => void; onHide?: () => void }): void;
  /** Publishes what the editor holds (what the Publish button does). */
  publish(opts?: { reset?: boolean }): Promise<PublishOutcome>;
  /** Resolves once the database is open (or known not to exist yet). */
  ready: Promise<void>;
}

const DRAFT_KEY = 'lightcone-playground:draft';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** How long a call may run before the page offers to stop it (the engine stops it anyway at CALL_TIMEOUT_MS). */
const BUSY_NOTICE_MS = 800;

export function startApp(): App {
  // ?db=<name>: another database; ?limit=<ms>: another call budget (CALL_TIMEOUT_MS by default).
  const params = new URLSearchParams(location.search);
  const limit = Number(params.get('limit'));
  const runtime = new Runtime(params.get('db') ?? 'playground', Number.isFinite(limit) && limit > 0 ? { callTimeoutMs: limit } : {});
  const names: IdentityNames = (hex) => runtime.identities.find((i) => i.hex === hex)?.label;

  // ── editor ──
  const source = localStorage.getItem(`${DRAFT_KEY}:${runtime.base}`) ?? STARTER;
  let draftTimer: ReturnType<typeof setTimeout> | undefined;
  const types = new TypeService();
  const startTypes = () => types.start(editor.source);
  const editor = createEditor({
    parent: $('editor'),
    source,
    bundle: (text) => runtime.bundler.bundle(text),
    vocabulary: () => vocabulary,
    schema: () => runtime.schema,
    types,
    onPublish: () => void publish(),
    onChange: (text) => {
      startTypes(); // the first edit starts the type checker if the page has not yet
      clearTimeout(draftTimer);
      draftTimer = setTimeout(() => localStorage.setItem(`${DRAFT_KEY}:${runtime.base}`, text), 300);
    },
  });

  // The type checker's state, quietly, in the editor's toolbar.
  const typesStatus = h('small', { id: 'types', className: 'hint', role: 'status', 'aria-label': 'type checker' });
  $('publish').parentElement?.append(typesStatus);
  types.onState((s) => {
    typesStatus.dataset.state = s.state;
    typesStatus.textContent =
      s.state === 'off' ? '' : s.state === 'loading' ? 'types: loading TypeScript…' : s.state === 'ready' ? `types: TypeScript ${s.version}` : 'types: unavailable (completion from the schema only)';
    typesStatus.title = s.state === 'failed' ? `The TypeScript worker did not load: ${s.reason}` : '';
  });

  // ── publish ──
  const publishButton = $<HTMLButtonElement>('publish');
  const message = $('message');
  const say = (kind: 'ok' | 'error' | 'info', ...content: (Node | string)[]) => {
    message.className = `message ${kind}`;
    message.replaceChildren(...content);
  };

  const restartButton = () =>
    h(
      'button',
      {
        type: 'button',
        onclick: async () => {
          say('info', 'Restarting the engine from durable state…');
          await runtime.restart().catch((e: unknown) => say('error', `The engine could not restart: ${errorText(e)}`));
          if (runtime.state === 'ready') say('ok', 'The engine restarted from durable state: committed data is intact.');
        },
      },
      'Stop and restart engine',
    );

  const showOutcome = (outcome: PublishOutcome) => {
    if (outcome.ok) {
      editor.showDiagnostics([]);
      const what = outcome.result === 'created' ? 'Published: a new database' : outcome.result === 'updated' ? 'Published: the module was updated, data kept' : 'Published: nothing changed';
      return say('ok', `${what}.`);
    }
    switch (outcome.stage) {
      case 'bundle':
        editor.showDiagnostics(outcome.diagnostics);
        return say('error', h('strong', {}, 'The module does not compile:'), h('ul', {}, ...outcome.diagnostics.map((d) => h('li', {}, formatDiagnostic(d)))));
      case 'refused':
        return say(
          'error',
          h('strong', {}, 'SpacetimeDB refuses this change; the database and its module are unchanged:'),
          h('ul', { 'aria-label': 'refused changes' }, ...outcome.reasons.map((r) => h('li', {}, r))),
          h('p', {}, 'Change the module back, or start over with an empty database (this deletes the data):'),
          h('button', { type: 'button', className: 'danger', onclick: () => void publish({ reset: true }) }, 'Reset data'),
        );
      case 'load': {
        const code = (outcome.error as { code?: string }).code;
        const limit = code === 'TIME_LIMIT';
        return say(
          'error',
          h('strong', {}, limit ? 'The module ran too long while loading and was stopped:' : 'The module failed to load:'),
          h('pre', {}, errorText(outcome.error)),
          h('p', {}, runtime.db ? 'The module that ran before is still running.' : 'No module is running.'),
          restartButton(),
          ' ',
          // The way out when the stored data itself keeps the engine from starting (an overdue scheduled reducer that loops).
          resetButton(),
        );
      }
    }
  };

  const publish = async (opts: { reset?: boolean } = {}): Promise<PublishOutcome> => {
    publishButton.disabled = true;
    say('info', opts.reset ? 'Deleting the data and publishing…' : 'Bundling and publishing…');
    try {
      const outcome = await runtime.publish(editor.source, opts);
      if (outcome.ok) localStorage.setItem(`${DRAFT_KEY}:${runtime.base}`, editor.source);
      showOutcome(outcome);
      return outcome;
    } finally {
      publishButton.disabled = false;
    }
  };
  publishButton.addEventListener('click', () => void publish());

  // ── header: identity and engine status ──
  const identity = $<HTMLSelectElement>('identity');
  const fillIdentities = () => {
    identity.replaceChildren(...runtime.identities.map((i) => h('option', { value: i.label, title: i.hex, selected: i.label === runtime.identity.label }, i.label)));
  };
  identity.addEventListener('change', () => runtime.setIdentity(identity.value));
  fillIdentities();

  const engine = $('engine');
  let busyTimer: ReturnType<typeof setTimeout> | undefined;
  runtime.on((event) => {
    if (event.type === 'connected') fillIdentities();
    if (event.type === 'identity') identity.value = event.identity.label;
    if (event.type !== 'engine') return;
    clearTimeout(busyTimer);
    engine.dataset.state = event.state;
    if (event.state === 'busy') {
      engine.textContent = 'engine: busy';
      busyTimer = setTimeout(() => engine.replaceChildren('engine: still busy… ', restartButton()), BUSY_NOTICE_MS);
    } else if (event.state === 'stopped') {
      engine.replaceChildren(`engine: stopped${event.message ? ` (${event.message})` : ''} `, restartButton(), ' ', resetButton());
    } else {
      engine.textContent = `engine: ${event.state}`;
    }
  });
  /** Ends the engine even if it is stuck, then publishes the last module over an empty database. */
  const resetButton = () =>
    h(
      'button',
      {
        type: 'button',
        className: 'danger',
        onclick: async () => {
          say('info', 'Deleting the data and publishing…');
          await runtime.stop();
          const outcome = await runtime.resetData();
          if (runtime.publishedSource !== undefined) showOutcome(outcome);
          else say('info', 'The data was deleted: publish a module.');
        },
      },
      'Reset data',
    );

  runtime.on((event) => {
    if (event.type === 'call' && !event.outcome.ok && event.outcome.timeLimit) {
      say(
        'error',
        h('strong', {}, `${event.name} ran longer than the playground's budget and was stopped.`),
        h('p', {}, errorText(event.outcome.error)),
        h('p', {}, 'If the engine stays busy after a restart (a scheduled reducer that loops runs again when the engine starts), start over with an empty database:'),
        resetButton(),
      );
    }
  });

  // ── panels ──
  const tabs = createTabs($('panels'), 'Panels');
  const tables = tablesPanel(runtime, names);
  tabs.add('tables', 'Tables', tables.element, { onShow: tables.onShow });
  tabs.add('call', 'Call', callPanel(runtime, names).element);
  tabs.add('sql', 'SQL', sqlPanel(runtime, names).element);
  const logs = logsPanel(runtime);
  tabs.add('logs', 'Logs', logs.element, logs);
  tabs.add('subscriptions', 'Subscriptions', subscriptionsPanel(runtime, names).element);
  const storage = storagePanel(runtime);
  tabs.add('storage', 'Storage', storage.element, storage);

  // ── start ──
  const ready = (async () => {
    // esbuild-wasm loads in its worker while the engine opens the database.
    runtime.bundler.warm();
    try {
      await runtime.start();
    } catch (error) {
      say('error', h('strong', {}, 'The database could not open:'), h('pre', {}, errorText(error)), restartButton());
      return;
    }
    runtime.publishedSource = localStorage.getItem(`${DRAFT_KEY}:${runtime.base}:published`) ?? undefined;
    // A first visit publishes the starter module; a shared link (#…) is the session's to load.
    if (!runtime.db && location.hash === '') await publish();
    else if (runtime.db) say('ok', 'The database is open: edit the module and Publish.');
  })();
  // The type checker (a few MB of TypeScript) loads once the page is up and idle: never before
  // the first paint, nor in the way of opening the database and the first publish.
  void ready.finally(() => {
    if ('requestIdleCallback' in globalThis) requestIdleCallback(startTypes, { timeout: 2000 });
    else setTimeout(startTypes, 200);
  });
  runtime.on((event) => {
    if (event.type === 'publish' && event.outcome.ok) localStorage.setItem(`${DRAFT_KEY}:${runtime.base}:published`, event.source);
  });

  const app: App = { runtime, editor, types, tabs, addTab: (id, label, panel, hooks) => tabs.add(id, label, panel, hooks), publish, ready };
  (globalThis as { playground?: App }).playground = app;
  return app;
}
