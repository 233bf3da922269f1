// The call log panel: every publish and call in order (name, arguments, sender, time, outcome,
// rows changed), "Restore to before this call" on each call, and the session's file and link:
// "Export session", "Import session" (a file field), "Share link".
import { errorText, h } from '../dom.ts';
import { describeOutcome, type ReplayReport, type Session } from './session.ts';
import type { LocalEntry } from './store.ts';

export interface CallLogPanel {
  element: HTMLElement;
  /** Shows a message in the panel (`alert` for errors: read out at once). */
  say(kind: 'ok' | 'error' | 'info', text: string): void;
  /** Tells the result of a replay (how many ran, what differed). */
  report(what: string, report: ReplayReport): void;
}

/** The label of a call: `send_message("hello")`. */
export function callLabel(e: LocalEntry & { kind: 'call' }): string {
  return `${e.name}(${e.args.slice(1, -1)})`;
}

export function callLogPanel(session: Session, opts: { shareBase: () => string }): CallLogPanel {
  const list = h('ol', { className: 'call-log', 'aria-label': 'Call log entries' });
  const status = h('div', { className: 'message', role: 'status', 'aria-live': 'polite' });
  const alert = h('div', { className: 'message error', role: 'alert' });
  alert.hidden = true;
  const empty = h('p', { className: 'hint' }, 'No calls yet: publish a module and call a reducer (Call tab).');
  const shareBox = h('input', { type: 'text', readonly: true, 'aria-label': 'Share link', className: 'share-link' });
  shareBox.hidden = true;
  const previousButton = h('button', { type: 'button' }, 'Bring back the previous session');
  previousButton.hidden = true;

  const say = (kind: 'ok' | 'error' | 'info', text: string) => {
    if (kind === 'error') {
      alert.textContent = text;
      alert.hidden = false;
      status.textContent = '';
    } else {
      alert.hidden = true;
      status.className = `message ${kind}`;
      status.textContent = text;
    }
  };
  const report = (what: string, r: ReplayReport) => {
    if (r.mismatches.length === 0) say('ok', `${what}: ${r.replayed} step${r.replayed === 1 ? '' : 's'} replayed, every outcome as recorded.`);
    else say('error', `${what}, but ${r.mismatches.length} step${r.mismatches.length === 1 ? '' : 's'} went differently: ${r.mismatches.join(' | ')}`);
  };
  const guard = async (what: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (error) {
      say('error', `${what} failed: ${errorText(error)}`);
    }
  };

  const exportButton = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        const blob = new Blob([session.exportText()], { type: 'application/json' });
        const a = h('a', { href: URL.createObjectURL(blob), download: `lightcone-session-${new Date().toISOString().replace(/[:.]/g, '-')}.json` });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
        say('ok', `Exported ${session.entries.length} entries.`);
      },
    },
    'Export session',
  );
  const fileInput = h('input', { type: 'file', accept: 'application/json,.json', id: 'session-import' });
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    void guard(`Importing ${file.name}`, async () => {
      say('info', `Importing ${file.name}…`);
      const r = await session.importText(await file.text(), `the file ${file.name}`);
      report(`Imported ${file.name}`, r);
      await refreshPrevious();
    });
  });
  const shareButton = h(
    'button',
    {
      type: 'button',
      onclick: () =>
        void guard('Making the share link', async () => {
          const link = await session.shareLink(opts.shareBase());
          shareBox.value = link;
          shareBox.hidden = false;
          shareBox.select();
          const copied = await navigator.clipboard?.writeText(link).then(
            () => true,
            () => false,
          );
          say('ok', `Share link ready (${link.length} characters)${copied ? ', copied to the clipboard' : ''}: opening it replays this session.`);
        }),
    },
    'Share link',
  );
  previousButton.addEventListener('click', () =>
    guard('Bringing back the previous session', async () => {
      const r = await session.loadPrevious();
      if (r) report('The previous session is back', r);
      await refreshPrevious();
    }),
  );
  const refreshPrevious = async () => {
    previousButton.hidden = (await session.previous().catch(() => undefined)) === undefined;
  };

  const render = () => {
    const busy = session.activity !== undefined;
    if (busy) say('info', session.activity!);
    empty.hidden = session.entries.length > 0;
    let calls = 0;
    list.replaceChildren(
      ...session.entries.map((e, i) => {
        if (e.kind === 'publish') {
          const what =
            e.outcome === 'ok'
              ? e.reset
                ? 'Published on a fresh database (reset data)'
                : 'Published'
              : e.outcome === 'refused'
                ? 'Publish refused'
                : e.outcome === 'bundle'
                  ? 'Publish failed: does not compile'
                  : 'Publish failed: the module did not load';
          const lines = e.source.split('\n').length;
          return h(
            'li',
            { className: `entry publish ${e.outcome}` },
            h('span', { className: 'what' }, `${what} (${lines} line${lines === 1 ? '' : 's'})`),
            ' ',
            h('time', { dateTime: new Date(e.at).toISOString(), title: new Date(e.at).toISOString() }, new Date(e.at).toLocaleTimeString()),
            e.reasons?.length ? h('ul', {}, ...e.reasons.map((r) => h('li', {}, r))) : e.message && e.outcome !== 'ok' ? h('div', { className: 'hint' }, e.message) : null,
          );
        }
        calls++;
        const label = `#${calls} ${callLabel(e)}`;
        const micros = BigInt(e.timestamp);
        const changes = e.changes.filter((c) => c.inserts + c.deletes > 0);
        const restore = h('button', { type: 'button', className: 'restore', 'aria-label': `Restore to before this call: ${label} as ${e.sender}`, disabled: busy }, 'Restore to before this call');
        restore.addEventListener('click', () =>
          guard(`Restoring to before ${label}`, async () => {
            const r = await session.restoreBefore(e.id);
            if (r.replayed === 0 && r.mismatches.length === 0) say('ok', `Restored to before ${label}.`);
            else report(`Restored to before ${label}`, r);
          }),
        );
        return h(
          'li',
          { className: `entry call ${e.outcome.ok ? 'ok' : 'failed'}`, 'data-index': i },
          h('code', { className: 'what', title: e.args }, label),
          ' as ',
          h('span', { className: 'sender', title: e.senderHex }, e.sender),
          ' ',
          h('time', { dateTime: new Date(e.at).toISOString(), title: `ctx.timestamp ${micros} µs` }, new Date(e.at).toLocaleTimeString()),
          ' ',
          h('span', { className: 'outcome' }, describeOutcome(e.outcome)),
          ' · ',
          h(
            'span',
            { className: 'changes' },
            changes.length === 0 ? 'no rows changed' : changes.map((c) => `${c.table} ${[c.inserts ? `+${c.inserts}` : '', c.deletes ? `−${c.deletes}` : ''].filter(Boolean).join(' ')}`).join(', '),
          ),
          ' ',
          restore,
        );
      }),
    );
  };
  session.on(render);
  render();
  void session.ready.then(refreshPrevious);

  const element = h(
    'section',
    { className: 'session', 'aria-label': 'Call log' },
    h('div', { className: 'toolbar' }, exportButton, h('label', { for: 'session-import', className: 'file' }, 'Import session'), fileInput, shareButton, previousButton),
    shareBox,
    alert,
    status,
    empty,
    list,
  );
  return { element, say, report };
}
