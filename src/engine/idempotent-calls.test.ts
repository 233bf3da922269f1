// Idempotent call ids (CallOptions.callId) and database images: a call id that committed is never
// applied again, in the same engine, after a reopen from the log, and after a snapshot truncated
// the log; `exportImage`/`importImage` recreate a database with its identity and rows.
import { describe, expect, it } from 'vitest';
import { memoryDurability, MemoryStore } from '../durability/memory.ts';
import { bundleModule } from '../host/bundle.ts';
import { Engine, randomIdentity } from './engine.ts';
import { decodeDelta, encodeDelta } from './delta-codec.ts';

const code = (await bundleModule('examples/chat')).code;
const owner = randomIdentity();
const count = async (e: Engine) => (await e.sql('SELECT * FROM message')).rows.length;

describe('idempotent calls', () => {
  it('a call id that committed does not run again, before and after a reopen', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(store), code, owner });
    await e.call('send_message', { text: 'once' }, { callId: 'c-1' });
    await e.call('send_message', { text: 'once' }, { callId: 'c-1' });
    await Promise.all([e.call('send_message', { text: 'twice?' }, { callId: 'c-2' }), e.call('send_message', { text: 'twice?' }, { callId: 'c-2' })]);
    expect(await count(e)).toBe(2);
    await e.close();
    const again = await Engine.open({ name: 'chat', durability: memoryDurability(store), owner });
    await again.call('send_message', { text: 'once' }, { callId: 'c-1' });
    expect(await count(again)).toBe(2);
    await again.call('send_message', { text: 'new' }, { callId: 'c-3' });
    expect(await count(again)).toBe(3);
    await again.close();
  });

  it('a call that failed may be retried with its id; a call without an id always runs', async () => {
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(), code, owner });
    await expect(e.call('send_message', { text: '' }, { callId: 'f-1' })).rejects.toMatchObject({ name: 'SenderError' });
    await e.call('send_message', { text: 'now' }, { callId: 'f-1' });
    await e.call('send_message', { text: 'x' });
    await e.call('send_message', { text: 'x' });
    expect(await count(e)).toBe(3);
    await e.close();
  });

  it('ids survive a snapshot that truncates the log', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(store), code, owner, snapshotEvery: 2 });
    for (let i = 0; i < 6; i++) await e.call('send_message', { text: `m${i}` }, { callId: `s-${i}` });
    await e.close();
    expect(store.snapshot?.lsn ?? 0n).toBeGreaterThan(0n);
    const again = await Engine.open({ name: 'chat', durability: memoryDurability(store), owner });
    for (let i = 0; i < 6; i++) await again.call('send_message', { text: `m${i}` }, { callId: `s-${i}` });
    expect(await count(again)).toBe(6);
    await again.close();
  });

  it('ids survive a republish, whose snapshot covers the log that held them', async () => {
    const store = new MemoryStore();
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(store), code, owner });
    for (let i = 0; i < 3; i++) await e.call('send_message', { text: `r${i}` }, { callId: `r-${i}` });
    await e.close();
    const republished = await Engine.open({ name: 'chat', durability: memoryDurability(store), code: `${code}\n// v2`, owner });
    expect(republished.publishResult).toBe('updated');
    await republished.close();
    const again = await Engine.open({ name: 'chat', durability: memoryDurability(store), owner });
    for (let i = 0; i < 3; i++) await again.call('send_message', { text: `r${i}` }, { callId: `r-${i}` });
    expect(await count(again)).toBe(3);
    await again.close();
  });

  it('records without a call id keep format 1; with one, format 2 round-trips', () => {
    const delta = { tables: [], sequences: [] };
    const plain = encodeDelta(delta, { timestamp: 1n, reducer: 'r', sender: 2n });
    expect(plain[0]).toBe(1);
    expect(decodeDelta(plain).info.callId).toBeUndefined();
    const tagged = encodeDelta(delta, { timestamp: 1n, reducer: 'r', sender: 2n, callId: 'abc' });
    expect(tagged[0]).toBe(2);
    expect(decodeDelta(tagged).info).toEqual({ timestamp: 1n, reducer: 'r', sender: 2n, callId: 'abc' });
  });
});

describe('database images', () => {
  it('exportImage/importImage recreate the database with its identity and rows', async () => {
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(), code, owner });
    await e.call('send_message', { text: 'exported' });
    const image = await e.exportImage();
    const identity = e.identity.toHexString();
    await e.close();
    const store = new MemoryStore();
    await Engine.importImage(memoryDurability(store), 'copy', image);
    const copy = await Engine.open({ name: 'copy', durability: memoryDurability(store), owner });
    expect(copy.identity.toHexString()).toBe(identity);
    expect((await copy.sql('SELECT text FROM message')).rows).toEqual([{ text: 'exported' }]);
    await copy.call('send_message', { text: 'more' });
    expect(await count(copy)).toBe(2);
    await copy.close();
  });

  it('an exported image carries the call ids committed so far: a retry against the imported copy does not run again', async () => {
    const e = await Engine.open({ name: 'chat', durability: memoryDurability(), code, owner });
    for (let i = 0; i < 3; i++) await e.call('send_message', { text: `x${i}` }, { callId: `x-${i}` }); // in the log only
    const image = await e.exportImage();
    await e.close();
    const store = new MemoryStore();
    await Engine.importImage(memoryDurability(store), 'copy', image);
    const copy = await Engine.open({ name: 'copy', durability: memoryDurability(store), owner });
    for (let i = 0; i < 3; i++) await copy.call('send_message', { text: `x${i}` }, { callId: `x-${i}` });
    expect(await count(copy)).toBe(3);
    await copy.call('send_message', { text: 'new' }, { callId: 'x-3' });
    expect(await count(copy)).toBe(4);
    await copy.close();
  });

  it('bytes that are not an image are refused before anything is written', async () => {
    const store = new MemoryStore();
    await expect(Engine.importImage(memoryDurability(store), 'x', new Uint8Array([1, 2, 3]))).rejects.toMatchObject({ code: 'BAD_IMAGE' });
    expect(store.meta.size).toBe(0);
  });
});
