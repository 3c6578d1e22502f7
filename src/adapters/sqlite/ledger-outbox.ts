/** The burl outbox's side of the ledger: leasing the deliveries due, and settling their calls. */
import type Database from 'better-sqlite3';
import type { CallsInFlight, DeliverySettlement, LeasedDelivery } from '../../ports/ledger.js';
import { writeTransaction } from './database.js';
import type { DeliveryRow } from './delivery-row.js';
import { toDelivery } from './delivery-row.js';

/**
 * How long the hosts of the pending deliveries, read for a lease host by host (one index seek a
 * host), serve the leases after it, so that thousands of hosts are not read at every lease.
 */
const PENDING_HOSTS_MAX_AGE_MS = 1000;

/** No calls in flight, and no limit to one host's. */
const NO_CALLS_IN_FLIGHT: CallsInFlight = { ids: new Set(), byHost: new Map(), hostLimit: () => Infinity };

/**
 * The outbox's statements on the ledger's connection: the deliveries due are leased, a batch of
 * leases in one transaction, and their calls settled, a batch of settlements in one.
 */
export class LedgerOutbox {
  /** The ids, due times and hosts of the deliveries due at a time and not leased, due first first. */
  private readonly firstDue: Database.Statement;
  /** The hosts of the pending deliveries, and when the first of each falls due: an index seek each. */
  private readonly pendingHosts: Database.Statement;
  /** `pendingHosts`' last answer, due first first, and when it was read (`performance.now()`). */
  private pendingHostsRead: { atMs: number; hosts: [string, number][] } = { atMs: -Infinity, hosts: [] };
  /** The ids and due times of a host's deliveries due at a time and not leased, due first first. */
  private readonly dueOfHost: Database.Statement;
  private readonly deliveriesById: Database.Statement;
  private readonly lease: Database.Statement;
  private readonly delivered: Database.Statement;
  private readonly dead: Database.Statement;
  private readonly dueAgain: Database.Statement;
  /** Ends every pending delivery's lease (see `endLeasesOfKilledProcess`). */
  private readonly leasesEnded: Database.Statement;
  /** Ends a delivery's lease, due as it was, with its last error: its call was abandoned. */
  private readonly givenBack: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.firstDue = db
      .prepare(
        `SELECT id, due_ms, host FROM deliveries INDEXED BY deliveries_due
         WHERE status = 'pending' AND due_ms <= ? AND lease_until_ms <= ?
         ORDER BY due_ms LIMIT ?`,
      )
      .raw();
    this.pendingHosts = db
      .prepare(
        `WITH RECURSIVE hosts(host) AS (
           SELECT MIN(host) FROM deliveries INDEXED BY deliveries_host_due WHERE status = 'pending'
           UNION ALL
           SELECT (
             SELECT MIN(host) FROM deliveries INDEXED BY deliveries_host_due
             WHERE status = 'pending' AND host > hosts.host
           )
           FROM hosts WHERE hosts.host IS NOT NULL
         )
         SELECT host, (
           SELECT MIN(due_ms) FROM deliveries INDEXED BY deliveries_host_due
           WHERE status = 'pending' AND host = hosts.host
         )
         FROM hosts WHERE host IS NOT NULL`,
      )
      .raw();
    this.dueOfHost = db
      .prepare(
        `SELECT id, due_ms FROM deliveries INDEXED BY deliveries_host_due
         WHERE status = 'pending' AND host = ? AND due_ms <= ? AND lease_until_ms <= ?
         ORDER BY due_ms LIMIT ?`,
      )
      .raw();
    this.deliveriesById = db.prepare(
      'SELECT * FROM deliveries WHERE id IN (SELECT value FROM json_each(?)) ORDER BY due_ms, id',
    );
    this.lease = db.prepare('UPDATE deliveries SET lease_until_ms = ?, attempts = attempts + 1 WHERE id = ?');
    this.delivered = db.prepare(
      `UPDATE deliveries SET status = 'delivered', delivered_ms = ?, lease_until_ms = 0, last_error = '' WHERE id = ?`,
    );
    this.dead = db.prepare(
      `UPDATE deliveries SET status = 'dead', last_error = ?, first_failed_ms = COALESCE(first_failed_ms, ?),
         lease_until_ms = 0 WHERE id = ?`,
    );
    this.leasesEnded = db.prepare(
      `UPDATE deliveries INDEXED BY deliveries_due SET lease_until_ms = 0
         WHERE status = 'pending' AND lease_until_ms > 0`,
    );
    // Its lease ended, due as it was: an abandoned call is no failure.
    this.givenBack = db.prepare(`UPDATE deliveries SET lease_until_ms = 0, last_error = ? WHERE id = ?`);
    this.dueAgain = db.prepare(
      `UPDATE deliveries SET due_ms = ?, last_error = ?, first_failed_ms = COALESCE(first_failed_ms, ?),
         lease_until_ms = 0 WHERE id = ?`,
    );
  }

  /**
   * The SQL of a statement whose query plan the tests check against the index it is written for
   * (`EXPLAIN QUERY PLAN`), as prepared.
   */
  sqlOf(statement: 'pendingHosts' | 'dueOfHost'): string {
    return this[statement].source;
  }

  /**
   * Ends the lease of every pending delivery, due as it was, and answers how many it ended: at a
   * start holding the data directory's lock, any lease left is that of a process killed with its
   * calls in flight, which are then made again at once, not when their leases run out (twice the
   * burl time limit, up to 4 min). Never while another process may lease from this ledger.
   */
  endLeasesOfKilledProcess(): number {
    return this.leasesEnded.run().changes;
  }

  leaseDeliveries(
    nowMs: number,
    limit: number,
    leaseMs: number,
    inFlight: CallsInFlight = NO_CALLS_IN_FLIGHT,
  ): LeasedDelivery[] {
    return writeTransaction(this.db, () => {
      const ids = this.dueFirst(nowMs, limit, inFlight) ?? this.dueFirstHostByHost(nowMs, limit, inFlight);
      const rows = this.deliveriesById.all(JSON.stringify(ids)) as DeliveryRow[];
      for (const row of rows) this.lease.run(nowMs + leaseMs, row.id);
      return rows.map((row) => ({
        ...toDelivery({ ...row, attempts: row.attempts + 1 }),
        host: row.host,
        firstFailedMs: row.first_failed_ms,
      }));
    });
  }

  /**
   * The ids of the deliveries to lease, read in one pass over those due first; `undefined` when
   * that pass would not do: it passed over deliveries of hosts at their limit, and the others may
   * lie beyond it.
   */
  private dueFirst(nowMs: number, limit: number, inFlight: CallsInFlight): number[] | undefined {
    // Read past the calls in flight whose lease ran out, which are due again.
    const window = limit + inFlight.ids.size;
    const rows = this.firstDue.all(nowMs, nowMs, window) as [number, number, string][];
    const ids: number[] = [];
    const leasedByHost = new Map<string, number>();
    let passedOver = false;
    for (const [id, , host] of rows) {
      if (ids.length === limit) break;
      if (inFlight.ids.has(id)) continue;
      const calls = (inFlight.byHost.get(host) ?? 0) + (leasedByHost.get(host) ?? 0);
      if (calls >= inFlight.hostLimit(host)) {
        passedOver = true;
        continue;
      }
      ids.push(id);
      leasedByHost.set(host, (leasedByHost.get(host) ?? 0) + 1);
    }
    return passedOver && ids.length < limit && rows.length === window ? undefined : ids;
  }

  /**
   * The ids of the deliveries to lease, found host by host through the index on their hosts: a
   * host whose calls fill its limit is passed over however many of its deliveries are due.
   */
  private dueFirstHostByHost(nowMs: number, limit: number, inFlight: CallsInFlight): number[] {
    // The hosts are read at most once in `PENDING_HOSTS_MAX_AGE_MS`: a host with nothing due may be
    // passed over, one whose first delivery came due since found late, by that much at most.
    if (performance.now() - this.pendingHostsRead.atMs >= PENDING_HOSTS_MAX_AGE_MS) {
      const hosts = (this.pendingHosts.all() as [string, number][]).sort((a, b) => a[1] - b[1]);
      this.pendingHostsRead = { atMs: performance.now(), hosts };
    }
    const { hosts } = this.pendingHostsRead;
    // [id, due_ms] of the deliveries due first, those due first first: once `limit` are found, a
    // host whose first delivery falls due after the last of them has none to add.
    let due: [number, number][] = [];
    for (const [host, firstDueMs] of hosts) {
      if (firstDueMs > nowMs || (due.length >= limit && firstDueMs > (due[limit - 1]?.[1] ?? 0))) break;
      const calls = inFlight.byHost.get(host) ?? 0;
      const room = Math.min(limit, inFlight.hostLimit(host) - calls);
      if (room <= 0) continue;
      // A call in flight whose lease ran out is due again: read past as many as the host has.
      const found = (this.dueOfHost.all(host, nowMs, nowMs, room + calls) as [number, number][])
        .filter(([id]) => !inFlight.ids.has(id))
        .slice(0, room);
      if (found.length > 0) {
        due = [...due, ...found].sort((a, b) => a[1] - b[1] || a[0] - b[0]).slice(0, limit);
      }
    }
    return due.map(([id]) => id);
  }

  markDelivered(id: number, nowMs: number): void {
    this.delivered.run(nowMs, id);
  }

  settleDeliveries(settlements: readonly DeliverySettlement[]): void {
    writeTransaction(this.db, () => {
      for (const settlement of settlements) {
        if ('deliveredMs' in settlement) this.markDelivered(settlement.id, settlement.deliveredMs);
        else if ('abandoned' in settlement) this.givenBack.run(settlement.abandoned, settlement.id);
        else this.markFailed(settlement.id, settlement.error, settlement.nextDueMs, settlement.firstFailedMs);
      }
    });
  }

  markFailed(id: number, error: string, nextDueMs: number | null, firstFailedMs?: number): void {
    if (nextDueMs === null) this.dead.run(error, firstFailedMs ?? null, id);
    else this.dueAgain.run(nextDueMs, error, firstFailedMs ?? null, id);
  }

  oldestDueMs(nowMs: number): number | undefined {
    const row = this.db
      .prepare(
        `SELECT MIN(due_ms) AS due_ms FROM deliveries
         WHERE status = 'pending' AND due_ms <= ? AND lease_until_ms <= ?`,
      )
      .get(nowMs, nowMs) as { due_ms: number | null };
    return row.due_ms ?? undefined;
  }
}
