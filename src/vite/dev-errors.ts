// The dev server's side of module errors found in the browser (a refused migration when the app
// publishes its edited module over the database in IndexedDB): only the page can find them, so
// `connect` announces each as a `lightcone:error` DOM event (src/client/refused.ts); a script this
// plugin adds to the app's pages in dev forwards it to the dev server as a custom HMR event, and
// the server shows it in Vite's error overlay and prints it in the terminal. Builds have none of this.
import type { HtmlTagDescriptor, Plugin, ViteDevServer } from 'vite';

/** The custom HMR event the page sends. */
export const DEV_ERROR_EVENT = 'lightcone:error';

/** What the page sends (src/client/refused.ts `ErrorEventDetail`). */
interface DevError {
  database?: unknown;
  code?: unknown;
  message?: unknown;
}

/** Hooks of the `lightcone` plugin for dev-server error reporting (spread into the plugin). */
export function devErrors(): Pick<Plugin, 'configureServer' | 'transformIndexHtml'> {
  let base = '/';
  return {
    configureServer(server: ViteDevServer) {
      base = server.config.base;
      server.ws.on(DEV_ERROR_EVENT, (data: DevError) => {
        const database = typeof data?.database === 'string' ? data.database : '?';
        const text = typeof data?.message === 'string' ? data.message : 'unknown error';
        const code = typeof data?.code === 'string' ? data.code : 'ERROR';
        const message = `Lightcone: database ${database} in the browser: ModuleError ${code}\n${text}`;
        server.config.logger.error(message, { timestamp: true });
        server.ws.send({ type: 'error', err: { message, stack: '', plugin: 'lightcone', id: `database ${database}` } });
      });
    },
    transformIndexHtml: {
      order: 'post',
      handler(_html, ctx): HtmlTagDescriptor[] {
        if (!ctx.server) return []; // dev only
        return [{ tag: 'script', attrs: { type: 'module' }, children: forwarder(base), injectTo: 'head' }];
      },
    },
  };
}

/** The page's script: each `lightcone:error` event goes to the dev server. */
function forwarder(base: string): string {
  const client = JSON.stringify(`${base.endsWith('/') ? base : `${base}/`}@vite/client`);
  return `import { createHotContext } from ${client};
const hot = createHotContext('/@lightcone/dev-errors');
addEventListener(${JSON.stringify(DEV_ERROR_EVENT)}, (e) => hot.send(${JSON.stringify(DEV_ERROR_EVENT)}, e.detail));`;
}
