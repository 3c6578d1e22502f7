import type Database from 'better-sqlite3';
import type {
  CatalogChange,
  CatalogData,
  CatalogStore,
  LineItem,
  PaymentRule,
  RedirectAllowlist,
  Tracker,
} from '../../ports/catalog.js';
import { SqliteAdvertisers, SqliteLineItems } from './catalog-advertising.js';
import type { CatalogWriter } from './catalog-entity.js';
import { SqlitePaymentRules, SqlitePlacements, SqlitePublishers } from './catalog-publishing.js';
import { SqliteTrackers } from './catalog-trackers.js';
import { writeTransaction } from './database.js';

/**
 * The catalog on SQLite. Every write is one transaction that also bumps the single-row
 * `catalog_version`, so any process sharing the file can tell that the catalog changed; this
 * instance's listeners also hear which object changed, at which version.
 */
export class SqliteCatalogStore implements CatalogStore {
  readonly advertisers: SqliteAdvertisers;
  readonly lineItems: SqliteLineItems;
  readonly publishers: SqlitePublishers;
  readonly placements: SqlitePlacements;
  readonly paymentRules: SqlitePaymentRules;
  readonly trackers: SqliteTrackers;
  private readonly listeners = new Set<(change: CatalogChange) => void>();
  private readonly readVersion: Database.Statement;
  private readonly bumpVersion: Database.Statement;
  private readonly readHighestTrackerId: Database.Statement;

  constructor(private readonly db: Database.Database) {
    // What name filters compare, "any case" beyond ASCII ("école" finds "École").
    db.function('casefold', { deterministic: true }, (text: unknown) =>
      typeof text === 'string' ? text.normalize('NFC').toLowerCase() : text,
    );
    this.readVersion = db.prepare('SELECT version FROM catalog_version WHERE id = 1').pluck();
    this.bumpVersion = db.prepare('UPDATE catalog_version SET version = version + 1 WHERE id = 1');
    // AUTOINCREMENT keeps the highest id it gave in `sqlite_sequence`, the deleted tracker's too.
    this.readHighestTrackerId = db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'trackers'").pluck();
    const write: CatalogWriter = (kind, changedId, work) => {
      let version = 0;
      const result = writeTransaction(db, () => {
        const outcome = work();
        if (outcome.ok) version = this.bump();
        return outcome;
      });
      if (result.ok) this.notify({ version, kind, id: changedId(result) });
      return result;
    };
    this.advertisers = new SqliteAdvertisers(db, write);
    this.lineItems = new SqliteLineItems(db, write);
    this.publishers = new SqlitePublishers(db, write);
    this.placements = new SqlitePlacements(db, write);
    this.paymentRules = new SqlitePaymentRules(db, write);
    this.trackers = new SqliteTrackers(db, write);
  }

  redirectAllowlist(accountId: number): RedirectAllowlist {
    return this.trackers.redirectAllowlist(accountId);
  }

  setRedirectAllowlist(accountId: number, allowlist: RedirectAllowlist, nowMs: number): RedirectAllowlist {
    const version = writeTransaction(this.db, () => {
      this.db
        .prepare(
          `INSERT INTO redirect_allowlists (account_id, enabled, domains, updated_ms) VALUES (?, ?, ?, ?)
           ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled, domains = excluded.domains,
             updated_ms = excluded.updated_ms`,
        )
        .run(accountId, allowlist.enabled ? 1 : 0, JSON.stringify(allowlist.domains), nowMs);
      return this.bump();
    });
    this.notify({ version, kind: 'redirectAllowlist', id: accountId });
    return this.redirectAllowlist(accountId);
  }

  trackerById(id: number): Tracker | undefined {
    return this.trackers.byId(id);
  }

  lineItemById(id: number): LineItem | undefined {
    return this.lineItems.byId(id);
  }

  paymentRuleById(id: number): PaymentRule | undefined {
    return this.paymentRules.byId(id);
  }

  paymentRulesOfPublisher(publisherId: number): PaymentRule[] {
    return this.paymentRules.ofPublisher(publisherId);
  }

  version(): number {
    return this.readVersion.get() as number;
  }

  load(): CatalogData {
    return this.db.transaction((): CatalogData => {
      const redirectAllowlists = new Map<number, RedirectAllowlist>();
      const rows = this.db.prepare('SELECT account_id, enabled, domains FROM redirect_allowlists').all() as {
        account_id: number;
        enabled: number;
        domains: string;
      }[];
      for (const row of rows) {
        redirectAllowlists.set(row.account_id, {
          enabled: row.enabled === 1,
          domains: JSON.parse(row.domains) as string[],
        });
      }
      return {
        version: this.version(),
        lineItems: this.lineItems.all(),
        paymentRules: this.paymentRules.all(),
        trackers: this.trackers.all(),
        highestTrackerId: (this.readHighestTrackerId.get() as number | undefined) ?? 0,
        redirectAllowlists,
      };
    })();
  }

  subscribe(listener: (change: CatalogChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Bumps the catalog version, inside the caller's transaction; answers the new version. */
  private bump(): number {
    this.bumpVersion.run();
    return this.version();
  }

  private notify(change: CatalogChange): void {
    for (const listener of this.listeners) listener(change);
  }
}
