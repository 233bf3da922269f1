// The owner of a database is read from its description (meta/database.meta), whose binary header
// (length, checksum) may hold any byte, '{' included. Misreading it made the owner vanish now
// and then: owner-only routes answered "no database" and publish treated the database as new.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeMeta } from '../../src/durability/file-format.ts';
import { databaseDir, databaseInfo } from '../../src/node/open-database.ts';
import { removeTempDirs, tempDir } from '../helpers/paths.ts';

afterAll(removeTempDirs);

describe('databaseInfo', () => {
  it("reads the owner when the meta header holds a '{' byte (a description of 379 bytes)", () => {
    const dataDir = tempDir();
    const owner = 'c2'.padEnd(64, 'a');
    const base = { format: 1, name: 'x', identity: 'c2'.padEnd(64, 'b'), owner, createdAt: 1 };
    const pad = 379 - new TextEncoder().encode(JSON.stringify({ ...base, pad: '' })).length;
    const json = JSON.stringify({ ...base, pad: 'p'.repeat(pad) });
    expect(json.length).toBe(379); // 0x17B: the header's length field starts with 0x7B, '{'
    const dir = join(databaseDir(dataDir, 'x'), 'meta');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'database.meta'), encodeMeta(new TextEncoder().encode(json)));
    expect(databaseInfo(dataDir, 'x')).toMatchObject({ name: 'x', owner, createdAt: 1 });
  });
});
