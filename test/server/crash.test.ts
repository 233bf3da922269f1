// `lightcone start` killed with SIGKILL under load, then started again on the same data
// directory: every call the server acknowledged (HTTP 200, or the SDK's reducer promise, which
// waits for the durable commit) is there, and the server serves again. Then a clean stop (SIGTERM)
// closes connections and leaves the data durable.
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { killLineChildren, spawnLineChild, type LineChild } from '../helpers/line-child.ts';
import { CLI, removeTempDirs, tempDir } from '../helpers/paths.ts';
import { bundle, CHAT_MODULE, connectSdk, type SdkClient } from './harness.ts';

afterEach(killLineChildren);
afterAll(removeTempDirs);

const json = { 'content-type': 'application/json' };

/** `lightcone start` in a child process; resolves with its URL once it listens. */
async function startChild(dataDir: string): Promise<{ child: LineChild; url: string }> {
  const child = spawnLineChild(CLI, ['start', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  await child.until(() => child.lines.some((l) => l.includes('listening on')));
  const url = /listening on (http:\/\/[^ ]+)/.exec(child.lines.find((l) => l.includes('listening on'))!)![1]!;
  return { child, url };
}

describe('lightcone start, killed and restarted', () => {
  it('loses no acknowledged call to SIGKILL under load, and a restart serves them', async () => {
    const dataDir = tempDir('lightcone-server-crash-');
    const first = await startChild(dataDir);
    const put = await fetch(`${first.url}/v1/database/chat?host_type=Js`, { method: 'PUT', body: await bundle(CHAT_MODULE) });
    expect(put.status).toBe(200);
    const owner = put.headers.get('spacetime-identity-token')!;
    const acked = new Set<number>();
    let stop = false;
    let next = 1;
    // Eight HTTP writers and two SDK clients, each with one call in flight at a time.
    const httpWriter = async () => {
      while (!stop) {
        const id = next++;
        try {
          const r = await fetch(`${first.url}/v1/database/chat/call/add_room`, { method: 'POST', headers: json, body: JSON.stringify([id, `room ${id}`]) });
          if (r.status === 200) acked.add(id);
        } catch {
          return; // the server is gone
        }
      }
    };
    const sdks: SdkClient[] = [await connectSdk(first.url, 'chat'), await connectSdk(first.url, 'chat')];
    const sdkWriter = async (c: SdkClient) => {
      while (!stop) {
        const id = next++;
        try {
          await c.conn.reducers.addRoom({ id, name: `room ${id}` });
          acked.add(id);
        } catch {
          return;
        }
      }
    };
    const writers = [...Array.from({ length: 8 }, httpWriter), ...sdks.map(sdkWriter)];
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
    first.child.child.kill('SIGKILL');
    await first.child.exited;
    stop = true;
    // SDK calls in flight never settle once the socket is gone: do not wait for those writers.
    await Promise.race([Promise.all(writers), new Promise((r) => setTimeout(r, 2000))]);
    for (const c of sdks) c.conn.disconnect();

    const second = await startChild(dataDir);
    const r = await fetch(`${second.url}/v1/database/chat/sql`, { method: 'POST', body: 'SELECT id FROM room', headers: { authorization: `Bearer ${owner}` } });
    expect(r.status).toBe(200);
    const ids = new Set(((await r.json()) as { rows: [number][] }[])[0]!.rows.map((row) => row[0]));
    const lost = [...acked].filter((id) => !ids.has(id));
    expect(lost).toEqual([]);
    expect(ids.size).toBeGreaterThanOrEqual(acked.size);
    // It serves again: a new call commits, the old owner token still owns the database.
    expect((await fetch(`${second.url}/v1/database/chat/call/add_room`, { method: 'POST', headers: json, body: '[0, "after"]' })).status).toBe(200);
    expect((await fetch(`${second.url}/v1/database/chat/logs`, { headers: { authorization: `Bearer ${owner}` } })).status).toBe(200);

    // SIGTERM: the SDK connection is closed, the process exits 0, and the data stays.
    const c = await connectSdk(second.url, 'chat');
    second.child.child.kill('SIGTERM');
    const exit = await second.child.exited;
    expect(exit.code).toBe(0);
    expect(exit.lines.join('\n')).toMatch(/SIGTERM: closing connections and databases\nstopped/);
    await c.disconnected;
    const third = await startChild(dataDir);
    const after = await fetch(`${third.url}/v1/database/chat/sql`, { method: 'POST', body: 'SELECT id FROM room WHERE id = 0' });
    expect(((await after.json()) as { rows: unknown[] }[])[0]!.rows).toEqual([[0]]);
    third.child.child.kill('SIGTERM');
    await third.child.exited;
  }, 120_000);
});
