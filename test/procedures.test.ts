// Procedures: `ctx.withTx` runs its own transactions, `ctx.http.fetch` is synchronous (against a
// local HTTP server on loopback, never the internet) with a timeout and HttpError, it is refused
// inside a transaction, and the return value reaches the caller.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InternalError } from '../src/errors.ts';
import { openDatabase } from '../src/node/open-database.ts';

// The server runs in a child process: the calling thread blocks during a synchronous fetch, so an
// in-process server could never answer.
const SERVER = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    if (req.url === '/hang') return;
    res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' });
    res.end(req.url === '/missing' ? 'nope' : req.url === '/echo' ? req.method + ' ' + req.headers['x-test'] + ' ' + body : 'pong');
  });
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;
let server: ChildProcess;
let base = '';

beforeAll(async () => {
  server = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => server.stdout!.once('data', (d: Buffer) => resolve(d.toString().trim())));
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  server.kill();
});

const module = 'test/fixtures/procedures.ts';

describe('procedures', () => {
  it('fetch is synchronous, withTx commits, and the return value reaches the caller', async () => {
    const db = await openDatabase({ name: 'p', module });
    expect(await db.call('fetch_and_store', [`${base}/hello`])).toBe('status=200 body=pong');
    expect(await db.call('fetch_and_store', [`${base}/echo`])).toBe('status=200 body=POST yes ping');
    expect(await db.call('fetch_and_store', [`${base}/missing`])).toBe('status=404 body=nope');
    expect((await db.sql('SELECT url, status FROM hit')).map((r) => r.status)).toEqual([200, 200, 404]);
    expect(await db.call('count_hits', [])).toBe(3n);
    await db.close();
  });

  it('a request that hangs fails with HttpError after its timeout', async () => {
    const db = await openDatabase({ name: 'p', module });
    const out = (await db.call('fetch_with_timeout', [`${base}/hang`, 200])) as string;
    expect(out).toMatch(/^HttpError: .*timed out after 200 ms/);
    await db.close();
  });

  it('an unreachable host fails with HttpError', async () => {
    const db = await openDatabase({ name: 'p', module });
    const out = (await db.call('fetch_with_timeout', ['http://127.0.0.1:1/', 2000])) as string;
    expect(out).toMatch(/^HttpError: /);
    await db.close();
  });

  it('fetch inside withTx is refused (WouldBlockTransaction) and the transaction is rolled back', async () => {
    const db = await openDatabase({ name: 'p', module });
    expect(await db.call('fetch_in_tx', [`${base}/x`])).toBe('WouldBlockTransaction');
    await db.close();
  });

  it('each withTx is its own transaction: the first commits even when the second throws', async () => {
    const db = await openDatabase({ name: 'p', module });
    await expect(db.call('tx_then_throw', [])).rejects.toBeInstanceOf(InternalError);
    expect((await db.sql('SELECT url FROM hit')).map((r) => r.url)).toEqual(['kept']);
    await db.close();
  });
});
