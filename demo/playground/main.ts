// The playground (demo/index.html): write a SpacetimeDB module, publish it into this browser's
// worker, and use it (tables, calls, SQL, logs, subscriptions, storage) with no server.
//
// For the session (demo/playground/session/, the call log, export/import, the share URL):
// - ONE entry point for everything that changes the database: `app.runtime` (runtime.ts).
//   `runtime.publish(source, { reset?, replay? })` bundles (esbuild-wasm, in a worker) and
//   publishes; `runtime.call(name, positionalArgs, { sender?, replay? })` calls a reducer or
//   procedure; `runtime.resetData()` deletes the data and publishes the last module again;
//   `runtime.restart()` stops the engine and starts it from durable state. None of them throws:
//   each resolves with an outcome ({ ok: true, … } or { ok: false, stage/error, … }). They run
//   one at a time, in order.
// - `runtime.on(listener)` tells every `PlaygroundEvent`: 'publish' (source, outcome, reset),
//   'call' (id, at, kind, name, args, sender { label, hex }, outcome, changes: TableUpdate[]),
//   'connected' (a new db handle), 'schema', 'engine' (state), 'identity'. Events of calls and
//   publishes made with `replay: true` carry `replay: true`: do not record those again.
// - App state: `runtime.db` (BrowserDatabase or undefined before the first publish),
//   `runtime.publishedSource` (the module running now), `app.editor.source` / `app.editor.setSource(text)`
//   (the editor's text, possibly unpublished), `runtime.identity` ({ label, hex }; labels 'owner',
//   'alice', 'bob', 'carol'; the guests' hex is fixed in every browser, the owner's is the origin's,
//   so record the label), `runtime.setIdentity(label)`, `runtime.schema` (db.describe()).
// - Tabs: `app.addTab(id, label, panel)` mounts a panel as one more tab (role=tab/tabpanel).
// - `window.playground` is `app` (for tests and the console).
import { startApp } from './app.ts';
import { installSession } from './session/index.ts';

// The session listens from the start (it records the first publish too).
installSession(startApp());
