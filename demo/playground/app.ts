// The playground app: wires the editor, the runtime and the panels (being built).
import { Runtime } from './runtime.ts';

export interface App {
  runtime: Runtime;
}

export async function startApp(): Promise<App> {
  const runtime = new Runtime();
  const app: App = { runtime };
  (globalThis as { playground?: App }).playground = app;
  await runtime.start();
  return app;
}
