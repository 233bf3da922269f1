// `lightcone generate` as a user runs it (its own Node process): writes the bindings and says
// what it wrote; a missing --out-dir, a module path that does not exist, or another language exits
// non-zero with the error on stderr and nothing written.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lightcone } from './helpers/cli.ts';
import { CHAT, removeTempDirs, tempDir } from './helpers/paths.ts';

afterAll(removeTempDirs);

describe('lightcone generate', () => {
  it('writes TypeScript bindings with --lang typescript --out-dir --module-path, and with -l -o -p', async () => {
    const dir = tempDir();
    const out = join(dir, 'module_bindings');
    const r = await lightcone(['generate', '--lang', 'typescript', '--out-dir', out, '--module-path', CHAT]);
    expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`Wrote ${join(out, 'index.ts')}`);
    expect(r.stdout).toMatch(/Generated TypeScript bindings for .*chat.* 8 files, 8 changed/);
    expect(readdirSync(out).sort()).toEqual(['index.ts', 'message_table.ts', 'send_message_reducer.ts', 'set_name_reducer.ts', 'types', 'types.ts', 'user_table.ts']);

    const again = await lightcone(['generate', '-l', 'ts', '-o', out, '-p', CHAT]);
    expect(again, again.stderr).toMatchObject({ code: 0, stderr: '' });
    expect(again.stdout).toMatch(/8 files, 0 changed/);
  });

  it('exits non-zero naming the problem: no --out-dir, a module path that does not exist, another language', async () => {
    const dir = tempDir();
    const noOut = await lightcone(['generate', '--lang', 'typescript', '--module-path', CHAT]);
    expect([noOut.code, noOut.stdout]).toEqual([1, '']);
    expect(noOut.stderr).toContain('error: generate needs --out-dir <dir>');

    const out = join(dir, 'b');
    const missing = join(dir, 'no-such-module');
    const badPath = await lightcone(['generate', '--lang', 'typescript', '--out-dir', out, '--module-path', missing]);
    expect([badPath.code, badPath.stdout]).toEqual([1, '']);
    expect(badPath.stderr).toContain(`error: module path ${missing} does not exist`);
    expect(existsSync(out)).toBe(false);

    const csharp = await lightcone(['generate', '--lang', 'csharp', '--out-dir', out, '--module-path', CHAT]);
    expect([csharp.code, csharp.stdout]).toEqual([1, '']);
    expect(csharp.stderr).toContain('writes TypeScript bindings only');
    expect(existsSync(out)).toBe(false);
  });
});
