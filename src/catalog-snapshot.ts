import type { CatalogTables } from './catalog-tables.js';
import { tablesOf, viewOf, withChange } from './catalog-tables.js';
import type { Logger } from './lib/log.js';
import type { CatalogChange, CatalogSource, CatalogView } from './ports/catalog.js';

/** How the snapshot follows the catalog. */
interface CatalogSnapshotOptions {
  /** How often to read the catalog version (one single-row read), e.g. 250. */
  pollIntervalMs: number;
}

/**
 * The catalog in memory, for the hot path: `current()` answers a frozen `CatalogView` at one
 * catalog version, with map lookups only.
 *
 * Contract:
 * - Writes made through the same `CatalogSource` instance are visible to the next
 *   `current()` call: each is applied as its listener hears of it, by reading again only the
 *   objects it can have touched (a tracker edit costs well under a millisecond with tens of
 *   thousands of trackers, where reading the whole catalog costs tens).
 * - Writes from anywhere else (another process on the same database, the CLI) are visible
 *   within `pollIntervalMs` plus one rebuild: the snapshot reads the catalog version every
 *   `pollIntervalMs` and rebuilds from the whole catalog when it moved. A local write that does
 *   not follow the snapshot's version at once (one from elsewhere came between) also rebuilds.
 * - A failed rebuild keeps the previous view (logged) and is retried at the next poll.
 * - A view never changes once returned; hold it for the length of one request.
 */
export class CatalogSnapshot {
  private tables: CatalogTables | undefined;
  private view: CatalogView | undefined;
  private stale = false;
  private rebuildQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly source: CatalogSource,
    private readonly options: CatalogSnapshotOptions,
    private readonly log?: Logger,
  ) {}

  /** Builds the first view and starts following changes. */
  start(): void {
    if (this.timer !== undefined) return;
    this.rebuild();
    this.unsubscribe = this.source.subscribe((change) => {
      if (this.apply(change)) return;
      this.stale = true;
      if (this.rebuildQueued) return;
      this.rebuildQueued = true;
      setImmediate(() => {
        this.rebuildQueued = false;
        if (this.stale) this.tryRebuild();
      });
    });
    this.timer = setInterval(() => this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** Stops following changes; `current()` keeps answering the last view. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The latest view. Builds it first when the snapshot was never built or is stale. */
  current(): CatalogView {
    if (this.view === undefined || this.stale) return this.rebuild();
    return this.view;
  }

  private poll(): void {
    try {
      if (this.view === undefined || this.source.version() !== this.view.version) this.rebuild();
    } catch (error) {
      this.log?.error('catalog_snapshot_failed', { error: String(error) });
    }
  }

  private tryRebuild(): void {
    try {
      this.rebuild();
    } catch (error) {
      this.log?.error('catalog_snapshot_failed', { error: String(error) });
    }
  }

  /** Applies a local write to the current tables; false when it must be rebuilt instead. */
  private apply(change: CatalogChange): boolean {
    const tables = this.tables;
    if (tables === undefined || this.stale || change.version !== tables.version + 1) return false;
    try {
      this.publish(withChange(tables, change, this.source));
      return true;
    } catch (error) {
      this.log?.error('catalog_snapshot_failed', { error: String(error), change });
      return false;
    }
  }

  private rebuild(): CatalogView {
    this.stale = false;
    return this.publish(tablesOf(this.source.load()));
  }

  private publish(tables: CatalogTables): CatalogView {
    const view = viewOf(tables);
    this.tables = tables;
    this.view = view;
    return view;
  }
}
