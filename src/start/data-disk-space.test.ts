import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonLogger } from '../lib/log.js';
import { dataDiskSpace } from './data-disk-space.js';

const MIB = 1024 * 1024;
const BLOCK_BYTES = 4096;

/**
 * A data directory's file system whose free space the test sets (`freeMib`), or whose reading
 * fails (`failure`): the one fault injected, everything else (the log, the state) is Tally's own.
 */
function fileSystem(freeMib: number) {
  const disk = {
    freeMib,
    failure: undefined as Error | undefined,
    paths: [] as string[],
    read: (path: string) => {
      disk.paths.push(path);
      if (disk.failure !== undefined) return Promise.reject(disk.failure);
      return Promise.resolve({ bavail: (disk.freeMib * MIB) / BLOCK_BYTES, bsize: BLOCK_BYTES });
    },
  };
  return disk;
}

/** A JSON logger whose lines are kept, each as `level event`. */
function keptLog() {
  const lines: Record<string, unknown>[] = [];
  const log = jsonLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { log, lines, events: () => lines.map((line) => `${String(line.level)} ${String(line.event)}`) };
}

describe("the data directory's free disk space", () => {
  it('says not ready while less than the floor is free, logging at warn once on entering that state and at info once on leaving it', async () => {
    const disk = fileSystem(1000);
    const kept = keptLog();
    const space = dataDiskSpace('/data', 512, kept.log, disk.read);
    await space.check();
    assert.equal(space.lowReason(), undefined, '1000 MiB free, 512 asked for');
    assert.equal(space.freeBytes(), 1000 * MIB);
    assert.deepEqual(kept.events(), []);

    disk.freeMib = 400;
    await space.check();
    assert.equal(
      space.lowReason(),
      'the disk of the data directory has less than 512 MiB free (TALLY_MIN_FREE_DISK_MB; logged as data_disk_low): free space on its volume; notices are still counted while space remains',
    );
    assert.equal(space.freeBytes(), 400 * MIB);
    disk.freeMib = 300;
    await space.check();
    assert.equal(space.freeBytes(), 300 * MIB);
    assert.match(space.lowReason() ?? '', /less than 512 MiB free/);
    assert.deepEqual(kept.events(), ['warn data_disk_low'], 'once, not at every check');
    assert.deepEqual(
      [kept.lines[0]?.freeBytes, kept.lines[0]?.minFreeMb, kept.lines[0]?.dataDir],
      [400 * MIB, 512, '/data'],
    );

    disk.freeMib = 512;
    await space.check();
    assert.equal(space.lowReason(), undefined, 'exactly the floor free is enough');
    disk.freeMib = 2000;
    await space.check();
    assert.deepEqual(kept.events(), ['warn data_disk_low', 'info data_disk_space_back']);
    assert.equal(kept.lines[1]?.freeBytes, 512 * MIB);
    assert.deepEqual(new Set(disk.paths), new Set(['/data']), 'reads the data directory');
  });

  it('never says not ready with a floor of 0, while still reading the free space', async () => {
    const disk = fileSystem(0);
    const kept = keptLog();
    const space = dataDiskSpace('/data', 0, kept.log, disk.read);
    await space.check();
    assert.equal(space.lowReason(), undefined);
    assert.equal(space.freeBytes(), 0);
    assert.deepEqual(kept.events(), []);
  });

  it('keeps the state it last read when a reading fails, logging the failure at warn once until a reading succeeds', async () => {
    const disk = fileSystem(100);
    const kept = keptLog();
    const space = dataDiskSpace('/data', 512, kept.log, disk.read);
    await space.check();
    disk.failure = Object.assign(new Error('EIO: i/o error, statfs'), { code: 'EIO' });
    await space.check();
    await space.check();
    assert.match(space.lowReason() ?? '', /less than 512 MiB free/, 'still low: nothing says otherwise');
    assert.equal(space.freeBytes(), 100 * MIB);
    disk.failure = undefined;
    disk.freeMib = 1000;
    await space.check();
    assert.equal(space.lowReason(), undefined);
    assert.deepEqual(kept.events(), [
      'warn data_disk_low',
      'warn data_disk_check_failed',
      'info data_disk_space_back',
    ]);
    assert.equal(kept.lines[1]?.error, 'Error: EIO: i/o error, statfs');
  });

  it('reads once at a time: a check called while a reading is under way waits for that one', async () => {
    const disk = fileSystem(1000);
    let release = (): void => {};
    const space = dataDiskSpace('/data', 512, keptLog().log, (path) => {
      disk.paths.push(path);
      return new Promise((resolve) => {
        release = () => resolve({ bavail: 10, bsize: MIB });
      });
    });
    const first = space.check();
    const second = space.check();
    release();
    await Promise.all([first, second]);
    assert.equal(disk.paths.length, 1);
    assert.equal(space.freeBytes(), 10 * MIB);
  });
});
