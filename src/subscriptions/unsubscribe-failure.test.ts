// Removing one query set of a live client runs inside an engine turn and returns nothing, so what
// goes wrong there must reach the client through onError: a half-removed set leaves a cache that
// can no longer be trusted. A database that is closed meanwhile is not such a failure.
import { afterEach, expect, it, vi } from 'vitest';
import { randomIdentity } from '../engine/engine.ts';
import { ClosedError, InternalError } from '../errors.ts';
import { bundleModule } from '../host/bundle.ts';
import { liveHarness } from './fixtures/harness.ts';
import { Subscriber } from './subscriber.ts';

const code = (await bundleModule('src/subscriptions/fixtures/live.ts')).code;
const owner = randomIdentity();
const open = liveHarness('unsubscribe-failure', code, owner);

afterEach(() => {
  vi.restoreAllMocks();
});

async function twoSets() {
  const h = await open();
  const errors: Error[] = [];
  const client = h.live.connect({ sender: owner.__identity__, confirmedReads: false, onError: (e) => errors.push(e) });
  const a = client.subscribe(['SELECT * FROM message WHERE room_id = 1']);
  const b = client.subscribe(['SELECT * FROM message WHERE room_id = 2']);
  await Promise.all([a.applied, b.applied]);
  return { h, client, a, errors };
}

it('ends the client with an InternalError when removing a set fails inside the engine', async () => {
  const { h, client, a, errors } = await twoSets();
  vi.spyOn(Subscriber.prototype, 'finish').mockImplementationOnce(() => {
    throw new Error('injected: the cache could not be updated');
  });
  a.unsubscribe();
  await h.engine.exclusive(() => {}); // queued behind the unsubscribe's turn
  expect(client.active).toBe(false);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(InternalError);
  expect(errors[0]!.message).toMatch(/^removing a query set failed, so the subscription ended \(subscribe again\): injected: the cache could not be updated/);
});

it('reports nothing when the database closed before the set could be removed', async () => {
  const { h, client, a, errors } = await twoSets();
  await h.engine.close();
  a.unsubscribe();
  // Queued behind the unsubscribe's turn, which a closed engine refuses the same way.
  await expect(h.engine.exclusive(() => {})).rejects.toBeInstanceOf(ClosedError);
  expect(errors).toEqual([]);
  expect(client.active).toBe(true); // until the manager closes
});
