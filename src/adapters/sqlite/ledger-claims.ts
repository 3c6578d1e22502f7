/** The ledger's live dedupe claims, indexed in memory. */
import type Database from 'better-sqlite3';
import { deviceLessTrackerKeyToday } from '../../domain/decide-hit.js';
import { ClaimIndex, claimKey } from './claim-index.js';

/**
 * How long before the load time `loadClaims` still loads expired claims (and before a batch's
 * first event the claim index still keeps them, its slots unreused): longer than a notice can
 * wait between being received and being recorded by a counting thread that is starting (well
 * under a second), with room for a clock stepped back a few seconds. Each second of margin costs
 * the memory of a second's counted impressions until the table reuses their slots.
 */
export const CLAIM_LOAD_MARGIN_MS = 10_000;

/**
 * The live dedupe claims of a ledger, indexed in memory: built from its counted events at the
 * first batch recorded, pruning step or `loadClaims`, and kept up as batches commit. Indexed by
 * one connection, so one process may record into a database at a time.
 */
export class LedgerClaims {
  private readonly eventKey: Database.Statement;
  private readonly eventDevice: Database.Statement;
  private claims: ClaimIndex | undefined;
  /**
   * The live tracker claims an older Tally keyed without the device (see
   * `deviceLessTrackerKeyToday`), by event id: the key stored, and the one it is indexed and
   * confirmed under (while the event keeps the key stored: an id SQLite gives again is not it).
   */
  private readonly keysToday = new Map<number, { stored: string; today: string }>();
  /**
   * The claim index holds every claim that expires at or after this time: it drops (reuses the
   * slots of) only those that expired before the latest time a batch or the build kept them from.
   */
  private claimsKeptSinceMs = -Infinity;

  constructor(private readonly db: Database.Database) {
    this.eventKey = db.prepare('SELECT dedupe_key FROM event_rows WHERE id = ?').pluck();
    this.eventDevice = db.prepare(
      'SELECT device_ip AS ip, user_agent AS userAgent FROM event_rows WHERE id = ?',
    );
  }

  /** The dedupe key of the event `eventId`, if it is kept: what the index confirms a match with. */
  readonly keyOf = (eventId: number) => {
    const stored = this.eventKey.get(eventId) as string | undefined;
    const rekeyed = this.keysToday.get(eventId);
    return rekeyed !== undefined && rekeyed.stored === stored ? rekeyed.today : stored;
  };

  /**
   * Notes that the index, as a batch's claims were added, kept every claim that expires at or
   * after `ms` (see `forgetClaimsDroppedBefore`).
   */
  keptClaimsSince(ms: number): void {
    this.claimsKeptSinceMs = Math.max(this.claimsKeptSinceMs, ms);
  }

  /**
   * Forgets the claim index when it may have dropped a claim live at `ms`: a clock stepped back
   * further than the margin since the index last kept claims, it may have reused the slots of
   * claims that expired by the later time and live at `ms`. The index is then built again from the
   * ledger's claims (seconds with millions of them, once per step back), rather than let such an
   * impression count twice, or its delivery be pruned while its claim lives.
   */
  forgetClaimsDroppedBefore(ms: number): void {
    if (ms < this.claimsKeptSinceMs) this.claims = undefined;
  }

  /**
   * The claim index, built if it is not yet from the claims live at `nowMs` less the margin, or
   * at the last event's receipt less the margin if that is earlier (see `loadClaims`).
   */
  claimIndex(nowMs: number): ClaimIndex {
    // A clock ahead at start (a machine booted before its clock was set) must not leave out the
    // claims live when the last notice was received: the earlier of the two times is taken.
    const horizonMs = Math.min(nowMs, this.newestReceivedMs() ?? nowMs);
    return this.liveClaims(horizonMs - CLAIM_LOAD_MARGIN_MS);
  }

  /** When the last event recorded was received, if there is one: events are appended as received. */
  newestReceivedMs(): number | undefined {
    // The last row found by its id, as pruning asks at each step: never read as a scan.
    return this.db
      .prepare('SELECT received_ms FROM event_rows WHERE id = (SELECT MAX(id) FROM event_rows)')
      .pluck()
      .get() as number | undefined;
  }

  /**
   * The claim index, built from the counted events whose claims are still live at `nowMs`. The
   * rows are streamed, one at a time: hours of counted impressions can be millions of claims.
   */
  liveClaims(nowMs: number): ClaimIndex {
    if (this.claims !== undefined) return this.claims;
    // The load time's bound first: of two lower bounds on the column, SQLite seeks by the first it
    // finds, and `> 0` (which the partial index needs to be used at all) would have the load read
    // every claim kept, each counted impression's since the ledger began, ended long ago or not.
    const live = `FROM event_rows WHERE claim_expires_ms >= ? AND claim_expires_ms > 0`;
    const count = this.db.prepare(`SELECT COUNT(*) ${live}`).pluck().get(nowMs) as number;
    const claims = new ClaimIndex(count * 4);
    this.claimsKeptSinceMs = nowMs;
    const rows = this.db.prepare(`SELECT id, dedupe_key, claim_expires_ms ${live}`).raw().iterate(nowMs);
    this.keysToday.clear();
    for (const [eventId, key, expiresMs] of rows as Iterable<[number, string, number]>) {
      claims.add(claimKey(this.keyToday(eventId, key)), eventId, expiresMs, nowMs);
    }
    this.claims = claims;
    return claims;
  }

  /** The key the claim of event `eventId`, stored as `key`, is indexed under (see `keysToday`). */
  private keyToday(eventId: number, key: string): string {
    if (!key.startsWith('imptr') && !key.startsWith('clktr')) return key;
    // The row's device is read only for a key of the older form: today's tracker keys, a live
    // claim for each hit of the last five minutes, cost no query.
    const today = deviceLessTrackerKeyToday(
      key,
      () => this.eventDevice.get(eventId) as { ip: string; userAgent: string },
    );
    if (today === undefined) return key;
    this.keysToday.set(eventId, { stored: key, today });
    return today;
  }
}
