// The `lightcone` CLI against a running server (`--server`): each command is its own process, the
// server (`lightcone start`'s) runs in this test process. The CLI keeps one identity per server in
// its config directory (LIGHTCONE_CONFIG_DIR); `subscribe` and `logs -f` are watched while they run.
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lightcone, type CliResult } from './helpers/cli.ts';
import { killCliChildren, spawnCli } from './helpers/cli-child.ts';
import { killLineChildren, spawnLineChild } from './helpers/line-child.ts';
import { CHAT, CLI, removeTempDirs, tempDir } from './helpers/paths.ts';
import { openServer, type TestServer } from './server/harness.ts';

afterAll(removeTempDirs);

function ok(r: CliResult): string {
  expect(r, `stderr: ${r.stderr}`).toMatchObject({ code: 0 });
  return r.stdout;
}

/** A failed run: non-zero exit, nothing on stdout; returns stderr. */
function failed(r: CliResult): string {
  expect(r.code, `stdout: ${r.stdout}`).not.toBe(0);
  expect(r.stdout).toBe('');
  return r.stderr;
}

describe('the CLI with --server', () => {
  let s: TestServer;
  let config: string;
  let run: (args: string[], configDir?: string) => Promise<CliResult>;
  /** The identity the CLI saved for the server, and the database's. */
  let me: string;
  let dbIdentity: string;

  beforeAll(async () => {
    s = await openServer();
    config = tempDir('lightcone-config-');
    // Line children (subscribe, logs -f) inherit this process's environment.
    process.env.LIGHTCONE_CONFIG_DIR = config;
    run = (args, configDir = config) => lightcone([...args, '--server', s.url], { env: { LIGHTCONE_CONFIG_DIR: configDir } });
    const out = ok(await run(['publish', '--module-path', CHAT, 'chat']));
    dbIdentity = /^Created new database chat with identity: ([0-9a-f]{64})\n$/.exec(out)![1]!;
    ok(await run(['call', 'chat', 'send_message', '"hi"']));
  });

  afterAll(async () => {
    killLineChildren();
    delete process.env.LIGHTCONE_CONFIG_DIR;
    await s?.close();
  });

  it('keeps the identity the server gave it in credentials.json (mode 0600), and uses it again', async () => {
    const file = join(config, 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { identity: string; token: string }>;
    expect(Object.keys(saved)).toEqual([s.url]);
    me = saved[s.url]!.identity;
    expect(me).toMatch(/^[0-9a-f]{64}$/);
    // Publishing over the database again is allowed: the same identity owns it.
    expect(ok(await run(['publish', '--module-path', CHAT, 'chat']))).toBe(`Database is unchanged: chat with identity: ${dbIdentity}\n`);
    // The message sent in beforeAll has this identity as its sender.
    const rows = JSON.parse(ok(await run(['sql', 'chat', 'SELECT * FROM message', '--json'])));
    expect(rows).toEqual([{ id: 1, sender: `0x${me}`, sent: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), text: 'hi' }]);
  });

  it('call: a reducer prints nothing; its SenderError is exactly its text on stderr; a bad argument is named', async () => {
    expect(ok(await run(['call', 'chat', 'set_name', '"Ada"']))).toBe('');
    expect(failed(await run(['call', 'chat', 'send_message', '""']))).toBe('Messages must not be empty\n');
    expect(failed(await run(['call', 'chat', 'send_message', '1']))).toBe('error: reducer send_message argument text: expected string, got 1\n');
    expect(failed(await run(['call', 'chat', 'nope']))).toMatch(/^error: database chat has no reducer or procedure named nope/);
  });

  it('sql prints the table as the embedded mode does; errors are one line', async () => {
    const out = ok(await run(['sql', 'chat', 'SELECT name, online FROM user']));
    expect(out).toBe(' name  | online\n-------+--------\n "Ada" | false\n');
    expect(failed(await run(['sql', 'chat', 'SELECT * FROM nope']))).toBe('error: no such table: nope (tables: user, message)\n');
  });

  it('logs (text, -n, --json) and describe', async () => {
    expect(ok(await run(['logs', 'chat']))).toMatch(new RegExp(`^\\S+Z  INFO: User ${me}: hi$`, 'm'));
    const last = JSON.parse(ok(await run(['logs', 'chat', '-n', '1', '--json'])));
    expect(last).toEqual([{ ts: expect.any(Number), level: 'info', message: expect.any(String) }]);
    const d = ok(await run(['describe', 'chat']));
    expect(d).toContain(`database chat (identity ${dbIdentity})`);
    expect(d).toContain('  message (public) 1 row(s)\n    id: u64 (primary key) (auto-inc)\n');
    expect(d).toContain('  send_message(text: string)\n');
  });

  it('another config directory is another identity: the server refuses it what only the owner may do', async () => {
    const other = tempDir('lightcone-config-');
    const refused = failed(await run(['publish', '--module-path', CHAT, 'chat'], other));
    const stranger = (JSON.parse(readFileSync(join(other, 'credentials.json'), 'utf8')) as Record<string, { identity: string }>)[s.url]!.identity;
    expect(stranger).not.toBe(me);
    expect(refused).toBe(
      `error: database chat on ${s.url} belongs to another identity; you are ${stranger} (saved in ${join(other, 'credentials.json')}): publish under another name, or with the owner's credentials\n`,
    );
    expect(failed(await run(['logs', 'chat'], other))).toMatch(/^error: only the owner of database chat may read its logs/);
    expect(failed(await run(['delete', 'chat'], other))).toMatch(/^error: database chat is owned by another identity/);
    expect(ok(await run(['list'], other))).toBe(`no databases owned by ${stranger} on ${s.url}\n`);
  });

  it('--identity does not apply with --server', async () => {
    expect(failed(await run(['sql', 'chat', 'SELECT * FROM user', '--identity', me]))).toMatch(/^error: --identity does not apply with --server/);
  });

  it('subscribe -n 2 --json: the initial rows, then the two updates calls make, then it exits', async () => {
    const sub = spawnLineChild(CLI, ['subscribe', 'chat', 'SELECT * FROM message', '-n', '2', '--json', '--server', s.url]);
    await sub.until(() => sub.lines.length >= 1);
    ok(await run(['call', 'chat', 'send_message', '"one"']));
    ok(await run(['call', 'chat', 'send_message', '"two"']));
    const end = await sub.exited;
    expect(end, end.stderr).toMatchObject({ code: 0 });
    const row = (id: number, text: string) => ({ id, sender: `0x${me}`, sent: expect.any(String), text });
    expect(end.lines.map((l) => JSON.parse(l))).toEqual([
      { type: 'initial', table: 'message', rows: [row(1, 'hi')] },
      { type: 'update', table: 'message', inserts: [row(2, 'one')], deletes: [] },
      { type: 'update', table: 'message', inserts: [row(3, 'two')], deletes: [] },
    ]);
  });

  it('subscribe: a refused query is a one-line error', async () => {
    expect(failed(await run(['subscribe', 'chat', 'SELECT * FROM nope']))).toBe('error: no such table: nope (tables: user, message)\n');
  });

  it('logs -f prints an entry logged after it started, until interrupted', async () => {
    const follow = spawnLineChild(CLI, ['logs', 'chat', '-f', '--server', s.url]);
    await follow.until(() => follow.lines.some((l) => l.endsWith(`User ${me}: hi`)));
    ok(await run(['call', 'chat', 'send_message', '"later"']));
    await follow.until(() => follow.lines.some((l) => l.endsWith(`User ${me}: later`)));
    follow.child.kill('SIGINT');
    expect(await follow.exited).toMatchObject({ code: 0 });
  });

  it('list, then delete; the deleted database is gone', async () => {
    expect(ok(await run(['list']))).toContain(`\t${dbIdentity}\n`);
    expect(ok(await run(['delete', 'chat']))).toBe('Deleted database chat\n');
    expect(failed(await run(['sql', 'chat', 'SELECT * FROM user']))).toMatch(/^error: no database named chat on this server/);
    expect(failed(await run(['delete', 'chat']))).toMatch(/^error: no database named chat on this server/);
  });
});

describe('the CLI and a server that is not there', () => {
  it('says which server it could not reach and that `lightcone start` starts one', async () => {
    // A port that was free a moment ago: nothing listens on it.
    const probe = createServer();
    await new Promise<void>((ok) => probe.listen(0, '127.0.0.1', ok));
    const port = (probe.address() as { port: number }).port;
    await new Promise((ok) => probe.close(ok));
    const config = tempDir('lightcone-config-');
    const r = await lightcone(['list', '--server', `http://127.0.0.1:${port}`], { env: { LIGHTCONE_CONFIG_DIR: config } });
    expect(failed(r)).toBe(`error: could not reach the server at http://127.0.0.1:${port} (connection refused): is it running? \`lightcone start\` starts one\n`);
    expect(existsSync(join(config, 'credentials.json'))).toBe(false);
  });
});

describe('subscribe on the data directory', () => {
  it('prints the initial rows and stays until interrupted (SIGINT: exit 0)', async () => {
    const dir = tempDir();
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat', '--data-dir', dir]));
    const sub = spawnLineChild(CLI, ['subscribe', 'chat', 'SELECT * FROM user', '--data-dir', dir]);
    await sub.until(() => sub.lines.includes('user: 0 rows'));
    sub.child.kill('SIGINT');
    expect(await sub.exited).toMatchObject({ code: 0, lines: ['user: 0 rows'] });
  });

  it('prints the initial rows (-n 0: then exits)', async () => {
    const dir = tempDir();
    ok(await lightcone(['publish', '--module-path', CHAT, 'chat', '--data-dir', dir]));
    ok(await lightcone(['call', 'chat', 'send_message', '"hi"', '--data-dir', dir]));
    const out = ok(await lightcone(['subscribe', 'chat', 'SELECT * FROM message', '-n', '0', '--data-dir', dir]));
    expect(out).toMatch(/^message: 1 row\n id \| sender +\| sent +\| text\n[-+]+\n 1 {2}\| 0x[0-9a-f]{64} \| \S+Z \| "hi"\n$/);
  });
});

describe('dev, the SQL prompt and publish -c with --server', () => {
  let s: TestServer;
  let env: Record<string, string>;
  const run = (args: string[]) => lightcone([...args, '--server', s.url], { env });

  beforeAll(async () => {
    s = await openServer();
    env = { LIGHTCONE_CONFIG_DIR: tempDir('lightcone-config-') };
  });

  afterAll(async () => {
    killCliChildren();
    await s?.close();
  });

  it("dev publishes to the server on every save, prints the migration and each refusal, and follows the server's log", async () => {
    const module = join(tempDir(), 'module');
    cpSync(dirname(CHAT), module, { recursive: true });
    const file = join(module, 'index.ts');
    const original = readFileSync(file, 'utf8');
    const dev = spawnCli(['dev', '--module-path', module, 'chat', '--server', s.url], { env });
    await dev.until((out) => /Created database chat with identity [0-9a-f]{64}/.test(out));
    await dev.until((out) => out.includes('INFO: Chat module initialised'));
    const withNote = original.replace(
      'const spacetimedb = schema({ user, message });',
      'const note = table({ public: true }, { body: t.string() });\nconst spacetimedb = schema({ user, message, note });',
    );
    writeFileSync(file, withNote);
    await dev.until((out) => /Updated database chat:\n(?: {2}\+ .*\n)*? {2}\+ add table note\n/.test(out));
    ok(await run(['call', 'chat', 'send_message', '"via the server"']));
    await dev.until((out) => out.includes(': via the server'));
    writeFileSync(file, original);
    await dev.until((out) => /Refused: .*still runs the previous module:\n {2}- table note was removed/.test(out));
    expect(ok(await run(['sql', 'chat', 'SELECT * FROM note']))).toContain('body');
    dev.child.kill('SIGINT');
    const end = await dev.exited;
    expect(end.code, end.stderr).toBe(0);
  });

  it('sql without a query reads statements from stdin against the server', async () => {
    const sql = spawnCli(['sql', 'chat', '--server', s.url], { env });
    sql.write('\\dt\nSELECT text FROM message\n');
    sql.end();
    const end = await sql.exited;
    expect(end.code, end.stderr).toBe(0);
    expect(end.stdout).toMatch(/^ message +\| public +\| 1$/m);
    expect(end.stdout).toMatch(/^ note +\| public +\| 0$/m);
    expect(end.stdout).toMatch(/^ "via the server"$/m);
  });

  it('publish -c needs --yes without a terminal, and keeps the data until it gets it; export and import say they are for data directories', async () => {
    expect(failed(await run(['publish', '-c', '--module-path', CHAT, 'chat']))).toMatch(/This will DESTROY database chat on http:\/\/127\.0\.0\.1:\d+ and ALL its data\. .*add --yes/);
    expect(ok(await run(['sql', 'chat', 'SELECT text FROM message']))).toContain('"via the server"');
    ok(await run(['publish', '-c', '--yes', '--module-path', CHAT, 'chat']));
    expect(ok(await run(['sql', 'chat', 'SELECT text FROM message']))).not.toContain('"via the server"');
    expect(failed(await run(['export', 'chat', join(tempDir(), 'x.lcdb')]))).toMatch(/^error: export works on the data directory/);
    expect(failed(await run(['import', join(tempDir(), 'x.lcdb'), 'chat']))).toMatch(/^error: import works on the data directory/);
  });
});
