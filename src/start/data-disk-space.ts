import type { StatsFs } from 'node:fs';
import { statfs } from 'node:fs/promises';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';

/** How often the data directory's free disk space is read. */
export const DATA_DISK_CHECK_INTERVAL_MS = 5000;

/** The bytes of a MB of `TALLY_MIN_FREE_DISK_MB`: a MiB. */
const MB_BYTES = 1024 * 1024;

/** Reads the sizes of the file system holding `path`, as `fs.promises.statfs` does. */
export type ReadFileSystem = (path: string) => Promise<Pick<StatsFs, 'bavail' | 'bsize'>>;

/** The free space of the data directory's disk, read now and then off the hot path. */
export interface DataDiskSpace {
  /**
   * Reads the free space now, logging when it falls below the floor (`data_disk_low`, warn) and
   * when it is back (`data_disk_space_back`, info), each once a crossing. A check called while
   * one reads waits for that one rather than reading again (a slow disk, a hung network mount).
   */
  check(): Promise<void>;
  /**
   * The bytes free to Tally at the last reading (`bavail`: without the blocks kept for root); NaN
   * until a reading succeeded.
   */
  freeBytes(): number;
  /** Why `/readyz` answers 503 for the disk: less than the floor free; `undefined` otherwise. */
  lowReason(): string | undefined;
  /** Checks every {@link DATA_DISK_CHECK_INTERVAL_MS} until {@link DataDiskSpace.stop}. */
  start(): void;
  /** Stops the periodic checks. */
  stop(): void;
}

/**
 * Watches the free space of the disk holding `dataDir` against `minFreeMb`
 * (`TALLY_MIN_FREE_DISK_MB`; 0: never low). A Tally restarted on a full disk would otherwise say it
 * is ready until its first commit fails. Readings run on libuv's thread pool, never blocking the
 * HTTP thread; a reading that fails keeps the state last read and is logged
 * (`data_disk_check_failed`, warn) once until one succeeds.
 */
export function dataDiskSpace(
  dataDir: string,
  minFreeMb: number,
  log: Logger,
  readFileSystem: ReadFileSystem = statfs,
): DataDiskSpace {
  const minFreeBytes = minFreeMb * MB_BYTES;
  let freeBytes = Number.NaN;
  let low = false;
  let failing = false;
  let reading: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  const read = async (): Promise<void> => {
    let stats: Pick<StatsFs, 'bavail' | 'bsize'>;
    try {
      stats = await readFileSystem(dataDir);
    } catch (error) {
      if (!failing)
        log.warn('data_disk_check_failed', {
          dataDir,
          error: String(error),
          note: "the free space of the data directory's disk could not be read: /readyz keeps what it last read",
        });
      failing = true;
      return;
    }
    failing = false;
    freeBytes = stats.bavail * stats.bsize;
    const nowLow = freeBytes < minFreeBytes;
    if (nowLow && !low)
      log.warn('data_disk_low', {
        dataDir,
        freeBytes,
        minFreeMb,
        note: 'the data directory has less free space than TALLY_MIN_FREE_DISK_MB: /readyz answers 503 until it has; notices are still counted while space remains: free space on its volume',
      });
    else if (!nowLow && low) log.info('data_disk_space_back', { dataDir, freeBytes, minFreeMb });
    low = nowLow;
  };

  const check = (): Promise<void> => {
    reading ??= read().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  return {
    check,
    freeBytes: () => freeBytes,
    lowReason: () =>
      low
        ? `the disk of the data directory has less than ${minFreeMb} MiB free (TALLY_MIN_FREE_DISK_MB; logged as data_disk_low): free space on its volume; notices are still counted while space remains`
        : undefined,
    start() {
      timer ??= setInterval(() => void check(), DATA_DISK_CHECK_INTERVAL_MS);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}

/** Shows the data directory's free disk space on `/metrics`, as `disk` last read it. */
export function showDataDiskFree(metrics: Metrics, disk: DataDiskSpace): void {
  metrics.gauge(
    'tally_data_disk_free_bytes',
    "Bytes free to Tally on the data directory's disk, read every 5 s; /readyz answers 503 below TALLY_MIN_FREE_DISK_MB",
    () => disk.freeBytes(),
  );
}
