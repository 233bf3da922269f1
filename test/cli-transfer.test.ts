// A database moves between the browser and the CLI: the browser's worker (WorkerHost, the code
// behind `db.export()` / `db.import()`, here on fake-indexeddb) writes an image that `lightcone
// import` turns into a data-directory database, and `lightcone export` writes one the worker
// imports, with the identity and every row kept both ways.
import 'fake-indexeddb/auto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleModule } from '../src/host/bundle.ts';
import { WorkerHost } from '../worker/worker-host.ts';
import { lightcone, type CliResult } from './helpers/cli.ts';
import { CHAT, removeTempDirs, tempDir } from './helpers/paths.ts';

afterAll(removeTempDirs);

function ok(r: CliResult): string {
  expect(r, `stderr: ${r.stderr}`).toMatchObject({ code: 0 });
  return r.stdout;
}

const host = () => new WorkerHost({ mode: 'shared', lock: 'cli-transfer', lockHeld: Promise.resolve(), testHooks: false });
const browserTexts = async (h: WorkerHost, name: string) => (await h.query(name, 'SELECT text FROM message', undefined)).rows.map((r) => String(r.text)).sort();

describe('images between the browser worker and the CLI', () => {
  it("the browser's export imports with `lightcone import`, identity and rows kept", async () => {
    const h = host();
    const info = await h.open('from-browser', (await bundleModule(CHAT)).code);
    await h.call('from-browser', 'send_message', { text: 'written in the browser' }, {});
    await h.call('from-browser', 'send_message', { text: 'and a second' }, {});
    const file = join(tempDir(), 'browser.lcdb');
    writeFileSync(file, await h.exportDatabase('from-browser'));

    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    const out = ok(await lightcone(['import', file, 'chat'], { env }));
    expect(out).toContain(`with identity: ${info.identity}`);
    const rows = JSON.parse(ok(await lightcone(['sql', 'chat', 'SELECT text FROM message', '--json'], { env }))) as { text: string }[];
    expect(rows.map((r) => r.text).sort()).toEqual(['and a second', 'written in the browser']);
    // It runs here: a call through the CLI commits on the imported data.
    ok(await lightcone(['call', 'chat', 'send_message', '"then the CLI"'], { env }));
    expect(ok(await lightcone(['sql', 'chat', 'SELECT COUNT(*) AS n FROM message', '--json'], { env }))).toMatch(/"n": 3/);
  });

  it('`lightcone export` writes an image the browser worker imports, identity and rows kept', async () => {
    const env = { LIGHTCONE_DATA_DIR: tempDir() };
    const published = ok(await lightcone(['publish', '--module-path', CHAT, 'chat'], { env }));
    const identity = /identity: ([0-9a-f]{64})/.exec(published)![1]!;
    ok(await lightcone(['call', 'chat', 'send_message', '"written by the CLI"'], { env }));
    const file = join(tempDir(), 'cli.lcdb');
    ok(await lightcone(['export', 'chat', file], { env }));

    const h = host();
    const info = await h.importDatabase('from-cli', new Uint8Array(readFileSync(file)));
    expect(info.identity).toBe(identity);
    expect(await browserTexts(h, 'from-cli')).toEqual(['written by the CLI']);
    await h.call('from-cli', 'send_message', { text: 'then the browser' }, {});
    expect(await browserTexts(h, 'from-cli')).toEqual(['then the browser', 'written by the CLI']);
  });
});
