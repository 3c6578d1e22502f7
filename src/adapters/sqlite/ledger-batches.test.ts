import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { COUNTED, duplicateOfRedirect, invalidTraffic, notCounted } from '../../domain/outcome.js';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { openSqlite } from './database.js';
import { SqliteLedger } from './ledger.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import type { EventDimensions, EventRecord } from '../../ports/ledger.js';
import { ledgerPerTest, T0_HOUR, HOUR_AROUND_T0 } from '../../../test/support/sqlite-ledgers.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-ledger-batches-', (opened) => {
  ledger = opened;
});
const { dir } = ledgers;

describe('the SQLite ledger recording batches', () => {
  it("fails the batch, recording nothing, when a counted impression's delivery cannot be stored, rather than calling it a duplicate", () => {
    const broken = event({
      dedupe: { key: 'k-broken', expiresMs: T0 + 600_000 },
      delivery: { url: 'https://dsp.example/b', deadlineMs: Number.NaN },
    });
    assert.throws(() => ledger.record([broken]), /NOT NULL constraint failed: deliveries\.deadline_ms/);
    assert.deepEqual(ledger.countEvents(), { total: 0, counted: 0 });
    // The impression was not claimed: once its delivery can be stored, it counts.
    assert.deepEqual(
      ledger.record([{ ...broken, delivery: { url: 'https://dsp.example/b', deadlineMs: T0 + HOUR_MS } }]),
      [COUNTED],
    );
  });

  it('says of a repeated burl notice whether the count it repeats sent the publisher on to the DSP, within one batch and across batches', () => {
    const claim = { key: 'k1', expiresMs: T0 + 600_000 };
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const burlNotice = (overrides: Partial<EventRecord> = {}) =>
      event({ dims: burlDims, dedupe: claim, ...overrides });
    // Counted on the publisher's burl, the DSP's burl relayed by the 302 (kept as redirected, not
    // queued): each repeat carries the time of the notice that counted, the impression's.
    const countedMs = T0 + 1000;
    const redirect = { url: 'https://dsp.example/r', deadlineMs: countedMs, redirected: true } as const;
    assert.deepEqual(
      ledger.record([
        burlNotice({ receivedMs: countedMs, delivery: redirect }),
        burlNotice({ receivedMs: countedMs + 5, delivery: redirect }),
      ]),
      [COUNTED, duplicateOfRedirect(countedMs, redirect.url)],
    );
    assert.deepEqual(ledger.record([burlNotice({ receivedMs: countedMs + 60_000 })]), [
      duplicateOfRedirect(countedMs, redirect.url),
    ]);
    // A duplicate of another kind is only a duplicate.
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [notCounted('duplicate')]);

    // Counted on the publisher's burl, the DSP's burl queued for delivery (unfit for a Location).
    const queued = { key: 'k2', expiresMs: T0 + 600_000 };
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    assert.deepEqual(
      ledger.record([burlNotice({ dedupe: queued, delivery }), burlNotice({ dedupe: queued })]),
      [COUNTED, notCounted('duplicate')],
    );
    // Counted on the pixel of the markup: the DSP's burl went to the outbox.
    const pixel = { key: 'k3', expiresMs: T0 + 600_000 };
    ledger.record([
      event({ dedupe: pixel, delivery: { url: 'https://dsp.example/b', deadlineMs: T0 + HOUR_MS } }),
    ]);
    assert.deepEqual(ledger.record([burlNotice({ dedupe: pixel })]), [notCounted('duplicate')]);
    // Counted on an app banner's pixel, whose markup fires the DSP's burl itself.
    const inMarkup = { key: 'k4', expiresMs: T0 + 600_000 };
    ledger.record([event({ dedupe: inMarkup })]);
    assert.deepEqual(ledger.record([burlNotice({ dedupe: inMarkup })]), [notCounted('duplicate')]);
    // Counted on the publisher's burl by a Tally that kept no delivery of a 302 (an older
    // version's ledger): a repeat is sent on to the DSP all the same.
    const beforeKept = { key: 'k5', expiresMs: T0 + 600_000 };
    ledger.record([burlNotice({ dedupe: beforeKept, receivedMs: countedMs })]);
    assert.deepEqual(ledger.record([burlNotice({ dedupe: beforeKept, delivery: redirect })]), [
      duplicateOfRedirect(countedMs),
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 12, counted: 5 });
  });

  it('sends a repeat of a burl counted by a 302 to the URL that 302 named, not to the one its own notice would, within the claim, after it and after the TTL', () => {
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const claim = { key: 'two-registrations', expiresMs: T0 + 600_000 };
    const counted = { url: 'https://dsp.example/b?price=1.25', deadlineMs: T0, redirected: true } as const;
    // The same impression registered again, at another price: its notices fill another URL.
    const other = {
      url: 'https://other.example/b?price=9.99',
      deadlineMs: T0 + 5,
      redirected: true,
    } as const;
    const burlNotice = (overrides: Partial<EventRecord>) =>
      event({ dims: burlDims, dedupe: claim, ...overrides });
    assert.deepEqual(
      ledger.record([
        burlNotice({ receivedMs: T0, delivery: counted }),
        burlNotice({ receivedMs: T0 + 5, delivery: other }),
      ]),
      [COUNTED, { ...duplicateOfRedirect(T0), location: counted.url }],
    );
    // After the claim, through a registration whose claim is live, and after the TTL.
    const later = T0 + 600_001;
    assert.deepEqual(
      ledger.record([
        burlNotice({ receivedMs: later, dedupe: { ...claim, expiresMs: later + 600_000 }, delivery: other }),
        burlNotice({ receivedMs: later + 600_001, outcome: notCounted('late'), delivery: other }),
      ]),
      [
        { ...duplicateOfRedirect(T0), location: counted.url },
        { ...duplicateOfRedirect(T0), location: counted.url },
      ],
    );
  });

  it('sends a repeated burl notice that arrives after the TTL on to the DSP, as a duplicate, when the count it repeats did', () => {
    const expiresMs = T0 + 600_000;
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const burlNotice = (key: string, overrides: Partial<EventRecord> = {}) =>
      event({ dims: burlDims, dedupe: { key, expiresMs }, ...overrides });
    const redirect = { url: 'https://dsp.example/r', deadlineMs: T0, redirected: true } as const;
    ledger.record([burlNotice('redirected', { receivedMs: T0, delivery: redirect })]);
    // The publisher retries after the TTL (the 302 was lost): the impression counted, and its
    // DSP's burl is owed; the retry is that impression again, not a late one.
    const late = { receivedMs: expiresMs + 1, outcome: notCounted('late'), delivery: redirect };
    assert.deepEqual(ledger.record([burlNotice('redirected', late)]), [
      duplicateOfRedirect(T0, redirect.url),
    ]);
    // Late with no count behind it, or behind a count whose burl went to the outbox: late.
    assert.deepEqual(ledger.record([burlNotice('never-counted', late)]), [notCounted('late')]);
    ledger.record([
      burlNotice('queued', { delivery: { url: 'https://dsp.example/b', deadlineMs: T0 + HOUR_MS } }),
    ]);
    assert.deepEqual(ledger.record([burlNotice('queued', late)]), [notCounted('late')]);
    // Nor is a late notice of another kind, nor another reason, made a duplicate.
    assert.deepEqual(ledger.record([event({ dedupe: { key: 'redirected', expiresMs }, ...late })]), [
      notCounted('late'),
    ]);
    const preview = { ...late, outcome: notCounted('preview') };
    assert.deepEqual(ledger.record([burlNotice('redirected', preview)]), [notCounted('preview')]);
  });

  it('queues, once, the DSP burl a count sent the publisher on to by a 302 when a repeat comes after the allow-list stopped admitting its host, and sends none on', () => {
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const countedMs = T0 + 1000;
    const claim = (key: string) => ({ key, expiresMs: countedMs + 600_000 });
    /** The 302 the count answered: the DSP's burl, the impression's time in its macros. */
    const redirect = (key: string) =>
      ({
        url: `https://dsp.example/r?k=${key}&ts=${countedMs}`,
        deadlineMs: countedMs,
        redirected: true,
      }) as const;
    /** A repeat's delivery where the allow-list no longer admits the host: to queue, by its deadline. */
    const toQueue = (key: string, receivedMs: number) => ({
      url: `https://dsp.example/r?k=${key}&ts=${receivedMs}`,
      deadlineMs: T0 + 3 * HOUR_MS,
    });
    const burlNotice = (key: string, overrides: Partial<EventRecord> = {}) =>
      event({ dims: burlDims, dedupe: claim(key), ...overrides });
    ledger.record(
      ['repeat', 'late', 'registered-again'].map((key) =>
        burlNotice(key, { receivedMs: countedMs, delivery: redirect(key) }),
      ),
    );
    const deliveryOf = (key: string) =>
      ledger.listDeliveries(1, undefined, 10).find((row) => row.dedupeKey === key);
    const keptId = deliveryOf('repeat')?.id;
    // Within the claim: a duplicate, not sent on; the kept delivery is pending, due now.
    const retryMs = countedMs + 60_000;
    assert.deepEqual(
      ledger.record([burlNotice('repeat', { receivedMs: retryMs, delivery: toQueue('repeat', retryMs) })]),
      [notCounted('duplicate')],
    );
    const pending = {
      id: keptId,
      dedupeKey: 'repeat',
      url: redirect('repeat').url,
      deviceIp: '198.51.100.1',
      userAgent: 'Mozilla/5.0',
      status: 'pending',
      attempts: 0,
      createdMs: countedMs,
      dueMs: retryMs,
      deadlineMs: T0 + 3 * HOUR_MS,
      lastError: '',
      deliveredMs: null,
    };
    assert.deepEqual(
      deliveryOf('repeat'),
      pending,
      'the URL the 302 sent, the impression’s time and id kept',
    );
    // Once: a later repeat finds no redirect to queue, whether the allow-list admits the host again
    // or not (the outbox is relaying the burl: no 302 beside it), and changes nothing.
    assert.deepEqual(
      ledger.record([
        burlNotice('repeat', { receivedMs: retryMs + 1, delivery: toQueue('repeat', retryMs + 1) }),
        burlNotice('repeat', { receivedMs: retryMs + 2, delivery: redirect('repeat') }),
      ]),
      [notCounted('duplicate'), notCounted('duplicate')],
    );
    assert.deepEqual(deliveryOf('repeat'), pending);
    assert.deepEqual(
      ledger.leaseDeliveries(retryMs, 10, 5000).map((leased) => [leased.dedupeKey, leased.url]),
      [['repeat', redirect('repeat').url]],
    );
    // After the TTL: a duplicate of the redirected count all the same, and queued.
    const lateMs = countedMs + 600_001;
    const late = { receivedMs: lateMs, outcome: notCounted('late'), delivery: toQueue('late', lateMs) };
    assert.deepEqual(ledger.record([burlNotice('late', late)]), [notCounted('duplicate')]);
    assert.deepEqual(
      [deliveryOf('late')?.status, deliveryOf('late')?.url, deliveryOf('late')?.dueMs],
      ['pending', redirect('late').url, lateMs],
    );
    // The win registered again after the claim, a count of its own: the impression once, queued.
    const againMs = lateMs + 1;
    assert.deepEqual(
      ledger.record([
        burlNotice('registered-again', {
          receivedMs: againMs,
          dedupe: { key: 'registered-again', expiresMs: againMs + 600_000 },
          delivery: toQueue('registered-again', againMs),
        }),
      ]),
      [notCounted('duplicate')],
    );
    assert.deepEqual(
      [deliveryOf('registered-again')?.status, deliveryOf('registered-again')?.url],
      ['pending', redirect('registered-again').url],
    );
    assert.deepEqual(ledger.countEvents(), { total: 8, counted: 3 });
    assert.deepEqual(ledger.countDeliveries(), { pending: 3, delivered: 0, dead: 0, redirected: 0 });
  });

  it('stores each distinct set of dims once, whatever characters seats and publishers hold', () => {
    const path = join(dir, 'dims.db');
    const own = new SqliteLedger(openSqlite(path));
    const dims = event().dims;
    own.record([
      event({ dims: { ...dims, seat: 'a\u001fb', publisher: 'c' } }),
      event({ dims: { ...dims, seat: 'a', publisher: 'b\u001fc' } }),
      event({ dims: { ...dims, seat: 'a', publisher: 'b\u001fc' } }),
    ]);
    own.record([event({ dims: { ...dims, seat: 'a\u001fb', publisher: 'c' } })]);
    own.close();
    const reader = new Database(path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT seat, publisher FROM events ORDER BY id').all(), [
      { seat: 'a\u001fb', publisher: 'c' },
      { seat: 'a', publisher: 'b\u001fc' },
      { seat: 'a', publisher: 'b\u001fc' },
      { seat: 'a\u001fb', publisher: 'c' },
    ]);
    assert.equal(reader.prepare('SELECT COUNT(*) FROM event_dims').pluck().get(), 2);
    reader.close();
  });

  it('records every event with its own dims and outcome, however consecutive events of a batch differ (property)', () => {
    const path = join(dir, 'dims-property.db');
    const own = new SqliteLedger(openSqlite(path));
    const reader = new Database(path, { readonly: true });
    const columns =
      'account_id, impression_type, outcome, reason, ivt_rule, kind, format, channel, method, seat, publisher, ' +
      'currency, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing';
    const read = reader.prepare(`SELECT ${columns} FROM events WHERE id > ? ORDER BY id`);
    let lastId = 0;
    // Each event is the base dims with at most one field changed, so that consecutive events
    // often differ in exactly one place: each field and the outcome must tell dims rows apart.
    const base = { ...event().dims, accountId: 1 };
    const changes: Partial<EventDimensions>[] = [
      { accountId: 2 },
      { impressionType: 'external_impression' },
      { kind: 'burl' },
      { format: 'video' },
      { channel: 'app' },
      { method: 'burl' },
      { seat: 's2' },
      { publisher: 'p2' },
      { currency: 'EUR' },
      { advertiserId: 3 },
      { lineItemId: 4 },
      { trackerId: 5 },
      { placementId: 6 },
      { paymentRuleId: 7 },
      { cachebusterMissing: true },
    ];
    const eventArb = fc.record({
      outcome: fc.constantFrom(
        COUNTED,
        notCounted('late'),
        notCounted('preview'),
        invalidTraffic('bot_user_agent'),
        invalidTraffic('blocked_ip'),
      ),
      change: fc.option(fc.constantFrom(...changes), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(eventArb, { minLength: 1, maxLength: 12 }), (generated) => {
        // No dedupe claims: every event keeps the outcome it was given.
        const batch = generated.map(({ outcome, change }) =>
          event({ outcome, dims: { ...base, ...change } }),
        );
        own.record(batch);
        const rows = read.all(lastId) as Record<string, unknown>[];
        lastId += rows.length;
        assert.deepEqual(
          rows,
          batch.map(({ outcome, dims: d }) => ({
            account_id: d.accountId,
            impression_type: d.impressionType,
            outcome: outcome.outcome,
            reason: outcome.outcome === 'counted' ? '' : outcome.reason,
            ivt_rule:
              outcome.outcome === 'not_counted' && outcome.reason === 'invalid_traffic' ? outcome.rule : '',
            kind: d.kind,
            format: d.format,
            channel: d.channel,
            method: d.method,
            seat: d.seat,
            publisher: d.publisher,
            currency: d.currency,
            advertiser_id: d.advertiserId,
            line_item_id: d.lineItemId,
            tracker_id: d.trackerId,
            placement_id: d.placementId,
            payment_rule_id: d.paymentRuleId,
            cachebuster_missing: d.cachebusterMissing ? 1 : 0,
          })),
        );
      }),
      { numRuns: 300 },
    );
    reader.close();
    own.close();
  });

  it('forgets the dims a failed batch added: the next batch with them records them again', () => {
    const path = join(dir, 'dims-rollback.db');
    const own = new SqliteLedger(openSqlite(path));
    const fresh = { ...event().dims, seat: 'seat-only-in-the-failed-batch' };
    // Fault injection: the second event breaks a NOT NULL constraint, so the whole batch rolls back.
    const broken = event({ receivedMs: null as unknown as number });
    assert.throws(() => own.record([event({ dims: fresh }), broken]), /NOT NULL/);
    own.record([event({ dims: fresh })]);
    own.close();
    const reader = new Database(path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT seat FROM events').pluck().all(), [
      'seat-only-in-the-failed-batch',
    ]);
    reader.close();
  });

  it('queues a delivery only for a counted event, once per impression: due when received, called until its deadline', () => {
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    ledger.record([
      event({ dedupe: { key: 'd1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'd1', expiresMs: T0 + 1 }, delivery }),
      event({ outcome: invalidTraffic('blocked_ip'), dedupe: { key: 'd2', expiresMs: T0 + 1 }, delivery }),
    ]);
    assert.deepEqual(
      ledger.listDeliveries(1, undefined, 10).map((row) => row.dedupeKey),
      ['d1'],
    );
    // Due at once, and called until the deadline the notice set (the outbox gives up after it).
    const [queued] = ledger.listDeliveries(1, undefined, 10);
    assert.deepEqual(
      { status: queued?.status, dueMs: queued?.dueMs, deadlineMs: queued?.deadlineMs },
      { status: 'pending', dueMs: T0, deadlineMs: delivery.deadlineMs },
    );
    assert.deepEqual(ledger.listDeliveries(2, undefined, 10), [], 'another account sees none of them');
  });

  it('adds one batch’s amounts into an hourly rollup row exactly, even past 2^53 − 1 micros', () => {
    const path = join(dir, 'batch-sum.db');
    const own = new SqliteLedger(openSqlite(path));
    const amounts = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
    own.record(
      amounts.map((micros) => event({ priceMicros: micros, mediaCostMicros: micros, revenueMicros: micros })),
    );
    own.close();
    const db = new Database(path, { readonly: true });
    const sums = db
      .prepare('SELECT events, price_micros, media_cost_micros, revenue_micros FROM rollup_hourly')
      .raw()
      .safeIntegers(true)
      .all();
    db.close();
    assert.deepEqual(sums, [[3n, 10_000_000_000_000_001n, 10_000_000_000_000_001n, 10_000_000_000_000_001n]]);
  });

  it('gives a delivery made by a ledger restored from a backup an id above those made after the backup (X-Tally-Delivery-Ids the DSP saw)', () => {
    const path = ledgers.newPath('restored');
    const backupPath = `${path}.backup`;
    const db = openSqlite(path);
    const running = new SqliteLedger(db, T0);
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    const count = (on: SqliteLedger, keys: string[], receivedMs: number) =>
      on.record(
        keys.map((key) => event({ receivedMs, dedupe: { key, expiresMs: receivedMs + 1 }, delivery })),
      );
    count(running, ['a1', 'a2'], T0);
    db.exec(`VACUUM INTO '${backupPath}'`);
    count(running, ['b1', 'b2', 'b3'], T0 + 1000);
    const seen = running.leaseDeliveries(T0 + 1000, 10, 5000).map(({ id }) => id);
    assert.equal(seen.length, 5);
    running.close();

    // Restored a minute later: the backup has a1 and a2, and none of the deliveries made since.
    const restored = new SqliteLedger(openSqlite(backupPath), T0 + 60_000);
    count(restored, ['c1', 'c2'], T0 + 60_000);
    const leased = restored.leaseDeliveries(T0 + 60_000, 10, 5000);
    const fresh = leased.filter(({ id }) => !seen.slice(0, 2).includes(id)).map(({ id }) => id);
    assert.equal(fresh.length, 2);
    for (const id of fresh)
      assert.ok(
        seen.every((old) => old < id),
        `${id} is above ${seen.join(', ')}`,
      );
    restored.close();
  });

  it('leaves 100 delivery ids to each millisecond: a ledger restored one millisecond after its backup reuses none of the 100 ids given out since', () => {
    const path = ledgers.newPath('restored');
    const backupPath = `${path}.backup`;
    const db = openSqlite(path);
    const running = new SqliteLedger(db, T0);
    const count = (on: SqliteLedger, keys: string[], receivedMs: number) =>
      on.record(
        keys.map((key) =>
          event({
            receivedMs,
            dedupe: { key, expiresMs: receivedMs + 1 },
            delivery: { url: 'u', deadlineMs: T0 + HOUR_MS },
          }),
        ),
      );
    db.exec(`VACUUM INTO '${backupPath}'`);
    count(
      running,
      Array.from({ length: 100 }, (_, index) => `b${index}`),
      T0,
    );
    const seen = running.leaseDeliveries(T0, 200, 5000).map(({ id }) => id);
    assert.equal(seen.length, 100);
    running.close();

    const restored = new SqliteLedger(openSqlite(backupPath), T0 + 1);
    count(restored, ['c1'], T0 + 1);
    const [fresh] = restored.leaseDeliveries(T0 + 1, 10, 5000);
    assert.ok(fresh !== undefined, 'the restored ledger’s new delivery is leased');
    assert.ok(
      seen.every((old) => old < fresh.id),
      `${fresh.id} is above ${Math.max(...seen)}`,
    );
    restored.close();
  });

  it('hands out delivery ids one by one from its opening millisecond × 100, and on from its last when that is higher', () => {
    const path = ledgers.newPath('floor');
    const count = (on: SqliteLedger, key: string) =>
      on.record([
        event({ dedupe: { key, expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + HOUR_MS } }),
      ]);
    const first = new SqliteLedger(openSqlite(path), T0);
    count(first, 'a1');
    count(first, 'a2');
    const firstIds = first.leaseDeliveries(T0, 10, 5000).map(({ id }) => id);
    assert.deepEqual(firstIds, [T0 * 100, T0 * 100 + 1]);
    first.close();

    // Opened with its clock a minute behind: the floor is below the last id.
    const reopened = new SqliteLedger(openSqlite(path), T0 - 60_000);
    count(reopened, 'a3');
    const ids = reopened.leaseDeliveries(T0 + 10_000, 10, 5000).map(({ id }) => id);
    assert.deepEqual(
      ids.filter((id) => !firstIds.includes(id)),
      [T0 * 100 + 2],
    );
    reopened.close();
  });

  it('keeps the delivery ids of a ledger opened up to the year 2286 within 15 digits, well inside the 2^53 - 1 of an `after` cursor', () => {
    const late = new SqliteLedger(openSqlite(ledgers.newPath('late')), Date.UTC(2286, 0, 1));
    late.record([
      event({ dedupe: { key: 'late', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + HOUR_MS } }),
    ]);
    const [delivery] = late.leaseDeliveries(T0, 10, 5000);
    assert.ok(delivery !== undefined, 'the delivery is leased');
    assert.match(String(delivery.id), /^[1-9]\d{0,14}$/);
    late.close();
  });

  it('takes the wall clock as its opening time when given none, so that its delivery ids start above the present × 100', () => {
    const before = Date.now();
    const plain = new SqliteLedger(openSqlite(ledgers.newPath('plain')));
    plain.record([
      event({ dedupe: { key: 'now', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + HOUR_MS } }),
    ]);
    const [delivery] = plain.leaseDeliveries(T0, 10, 5000);
    assert.ok(delivery !== undefined, 'the delivery is leased');
    assert.ok(delivery.id >= before * 100, `${delivery.id} is at least ${before * 100}`);
    plain.close();
  });

  it('records an event whose dims another connection added since this one read them, rather than fail every batch', () => {
    const path = ledgers.path;
    ledger.record([event()]);
    const other = new SqliteLedger(openSqlite(path));
    const seat = { ...event().dims, seat: 'added-elsewhere' };
    assert.deepEqual(other.record([event({ dims: seat })]), [COUNTED]);
    assert.deepEqual(ledger.record([event({ dims: seat })]), [COUNTED]);
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, groupBy: ['seat'] }).map((row) => [row.seat, row.events]),
      [
        ['added-elsewhere', 2],
        ['seat', 1],
      ],
    );
    other.close();
  });

  it('keeps apart VAST error notices that differ in their code alone, one right after the other in a batch, in any order', () => {
    const vastError = (code: number | null) =>
      event({
        outcome: notCounted('not_billing_method'),
        dims: { ...event().dims, kind: 'vast_error', method: 'vast', vastError: code },
      });
    const codes = [null, 303, null, 402, 303, 402, null];
    ledger.record(codes.map(vastError));
    const reader = new Database(ledgers.path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT vast_error FROM events ORDER BY id').pluck().all(), codes);
    reader.close();
    const byCode = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['vastError'] });
    assert.deepEqual(
      byCode.map((row) => [row.vastError, row.events]),
      [
        ['', 3],
        [303, 2],
        [402, 2],
      ],
    );
  });

  it('adds each amount of one batch into its hourly rollup exactly past 2^53 − 1, when only that amount is large', () => {
    const path = join(dir, 'batch-sum-each.db');
    const own = new SqliteLedger(openSqlite(path));
    const amounts = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
    const fields = ['priceMicros', 'mediaCostMicros', 'revenueMicros'] as const;
    own.record(
      fields.flatMap((field, index) =>
        amounts.map((micros) => event({ servedHourMs: T0_HOUR + index * HOUR_MS, [field]: micros })),
      ),
    );
    own.close();
    const db = new Database(path, { readonly: true });
    const sums = db
      .prepare('SELECT price_micros, media_cost_micros, revenue_micros FROM rollup_hourly ORDER BY hour_ms')
      .raw()
      .safeIntegers(true)
      .all();
    db.close();
    // The event helper's price is 1.00 CPM (1,000,000 micros) where another amount is the large one.
    assert.deepEqual(sums, [
      [10_000_000_000_000_001n, 0n, 0n],
      [3_000_000n, 10_000_000_000_000_001n, 0n],
      [3_000_000n, 0n, 10_000_000_000_000_001n],
    ]);
  });

  it('adds each batch into the rollup row the batches before it made: two batches of two events are four', () => {
    const batch = () => [
      event({ mediaCostMicros: 100, revenueMicros: 300 }),
      event({ mediaCostMicros: 100, revenueMicros: 300 }),
    ];
    ledger.record(batch());
    ledger.record(batch());
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: [] })
        .map((row) => [
          row.events,
          row.priceMicros,
          row.mediaCostMicros,
          row.revenueMicros,
          row.profitMicros,
        ]),
      [[4, 4_000_000, 400, 1200, 800]],
    );
  });
});
