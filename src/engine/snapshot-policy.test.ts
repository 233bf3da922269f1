// When a snapshot is due: by records, by the log's size against the image while calls run, and
// when the database goes idle; never two at once.
import { describe, expect, it } from 'vitest';
import { SnapshotPolicy } from './snapshot-policy.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('SnapshotPolicy', () => {
  it('is due after `every` records, or once the log outweighs an eighth of the image (at least 1 MiB)', () => {
    const p = new SnapshotPolicy(3, 0, 0, 80 * MiB);
    expect(p.due()).toBe(false); // nothing logged
    p.logged(100);
    p.logged(100);
    expect(p.due()).toBe(false);
    p.logged(100);
    expect(p.due()).toBe(true);

    const big = new SnapshotPolicy(1_000_000, 0, 0, 80 * MiB);
    big.logged(9 * MiB);
    expect(big.due()).toBe(false); // under 10 MiB = 80 MiB / 8
    big.logged(1 * MiB);
    expect(big.due()).toBe(true);

    const small = new SnapshotPolicy(1_000_000, 0, 0, 100 * KiB);
    small.logged(MiB - 1);
    expect(small.due()).toBe(false); // the 1 MiB floor
    small.logged(1);
    expect(small.due()).toBe(true);
  });

  it('when idle, is due once the log outweighs a 512th of the image (at least 64 KiB)', () => {
    const p = new SnapshotPolicy(1_000_000, 0, 0, 512 * MiB);
    expect(p.dueWhenIdle()).toBe(false);
    p.logged(MiB - 1);
    expect(p.dueWhenIdle()).toBe(false);
    expect(p.due()).toBe(false);
    p.logged(1);
    expect(p.dueWhenIdle()).toBe(true);
    expect(p.due()).toBe(false); // while calls run, the eighth still rules

    const small = new SnapshotPolicy(1_000_000, 0, 0, 8 * MiB);
    small.logged(64 * KiB - 1);
    expect(small.dueWhenIdle()).toBe(false);
    small.logged(1);
    expect(small.dueWhenIdle()).toBe(true);
  });

  it('after a snapshot that could not start, waits for as much log again (by load or idle), while close still counts from the last snapshot', () => {
    const p = new SnapshotPolicy(4, 0, 0, 512 * MiB);
    for (let i = 0; i < 4; i++) p.logged(100);
    expect(p.due()).toBe(true);
    p.deferred(); // the copy could not start
    for (let i = 0; i < 2; i++) {
      p.logged(100);
      expect(p.due()).toBe(false);
    }
    p.logged(MiB); // over the idle rule's 512th of the image
    expect(p.due()).toBe(false);
    expect(p.dueWhenIdle()).toBe(false); // the idle rule waits too
    expect(p.dueAtClose()).toBe(true); // 7 records since the last snapshot
    expect(p.due(true)).toBe(true); // close forces it
    p.logged(100);
    expect(p.due()).toBe(true); // 4 more records: try again
    expect(p.dueWhenIdle()).toBe(true);
    p.started(512 * MiB);
    p.settled(true);
    p.logged(100);
    expect(p.due()).toBe(false); // counting restarted at the snapshot
  });

  it('counts the log a reopen replayed, and none of the rules fire while an image is being written', () => {
    const p = new SnapshotPolicy(1_000_000, 10, 2 * MiB, 64 * MiB);
    expect(p.dueWhenIdle()).toBe(true);
    p.started(64 * MiB);
    p.logged(20 * MiB);
    expect(p.due()).toBe(false);
    expect(p.dueWhenIdle()).toBe(false);
    expect(p.due(true)).toBe(false);
    p.settled(true);
    expect(p.due()).toBe(true);
    expect(p.stats).toEqual({ started: 1, written: 1 });
  });
});
