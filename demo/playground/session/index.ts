// The session in the playground: `installSession(app)` (call it right after `startApp()`, before
// the runtime's first event) records every publish and call, mounts the "Session" tab (the call log, export, import, share), and opens
// a share link (`#session=…`) once the app is ready, or when one is pasted into the address bar,
// and adds the examples menu ("Load example") to the editor's toolbar.
// `window.playgroundSession` is the Session (for tests and the console).
import type { App } from '../app.ts';
import { errorText } from '../dom.ts';
import { examplesMenu } from './examples-menu.ts';
import { callLogPanel } from './panel.ts';
import { Session } from './session.ts';
import { hasSharedSession } from './share.ts';
import { SessionStore } from './store.ts';
import './session.css';

export { Session } from './session.ts';
export { EXAMPLES, exampleById, type Example } from './examples.ts';

export function installSession(app: App): Session {
  const session = new Session(app.runtime, app.editor, new SessionStore(app.runtime.base));
  const panel = callLogPanel(session, { shareBase: () => location.href });
  // "Session", not "Call log": a tab name holding "call" would also match the Call tab's name (getByRole matches substrings).
  app.addTab('session', 'Session', panel.element);
  const openLink = async () => {
    if (!hasSharedSession(location.hash)) return;
    app.tabs.select('session');
    panel.say('info', 'Opening the shared session…');
    try {
      const report = await session.openHash(location.hash);
      // Done: a reload now keeps what is here instead of replaying the link again.
      history.replaceState(null, '', `${location.pathname}${location.search}`);
      if (report) panel.report('Opened the shared session', report);
    } catch (error) {
      panel.say('error', `This share link cannot be opened: ${errorText(error)}`);
    }
  };
  // The examples menu goes in the editor's toolbar (demo/index.html's Module section).
  const toolbar = document.querySelector('.editor-pane .toolbar');
  const status = document.getElementById('message');
  toolbar?.append(
    examplesMenu({
      setSource: (text) => app.editor.setSource(text),
      say: (text) => {
        if (!status) return;
        status.className = 'message info';
        status.textContent = text;
      },
    }),
  );
  void app.ready.then(openLink);
  addEventListener('hashchange', () => void openLink());
  (globalThis as { playgroundSession?: Session }).playgroundSession = session;
  return session;
}
