import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { COUNTED, duplicateOfRedirect, invalidTraffic, notCounted } from '../../domain/outcome.js';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { parseBurlHost } from '../../domain/delivery-host.js';
import { openSqlite } from './database.js';
import { idBoundsSql } from './id-window.js';
import { CLAIM_LOAD_MARGIN_MS } from './ledger-claims.js';
import { SqliteLedger } from './ledger.js';
import { openAsOlderTally } from '../../../test/support/older-schema.js';
import { SqliteAccountStore } from './accounts.js';
import { SqliteCatalogStore } from './catalog.js';
import { impressionKey } from '../../domain/impression-key.js';
import { bannerClaims } from '../../../test/support/claims.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import type {
  DeadDeliveryFilter,
  EventDimensions,
  EventRecord,
  ReportAmount,
  ReportDimension,
} from '../../ports/ledger.js';
import { MixedCurrenciesError, REPORT_DIMENSIONS, ReportTooLargeError } from '../../ports/ledger.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-ledger-'));
const HOUR_MS = 3_600_000;
/** The start of `T0`'s hour. */
const T0_HOUR = T0 - (T0 % HOUR_MS);
let ledger: SqliteLedger;
let sequence = 0;

const event = exchangeEvent;

/** A counted event received at `receivedMs` whose burl `url` is queued, due then. */
function queued(key: string, url: string, receivedMs: number) {
  return event({
    receivedMs,
    dedupe: { key, expiresMs: receivedMs + 1 },
    delivery: { url, deadlineMs: T0 + 1000 },
  });
}

beforeEach(() => {
  ledger = new SqliteLedger(openSqlite(join(dir, `ledger-${++sequence}.db`)));
});

after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Records a counted impression for each burl of `burlsByKey` (by its dedupe key), lets every
 * delivery die, and answers the function giving, for a `--host` as `replay-dead` reads it, the
 * sorted keys of the dead deliveries it would replay.
 */
function deadBurlsReplayedFor(burlsByKey: Record<string, string>): (host: string) => string[] {
  ledger.record(
    Object.entries(burlsByKey).map(([key, url]) =>
      event({ dedupe: { key, expiresMs: T0 + 1 }, delivery: { url, deadlineMs: T0 + 1000 } }),
    ),
  );
  for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 10, 5000))
    ledger.markFailed(leased.id, 'HTTP 500', null);
  const keysOf = new Map(ledger.listDeliveries(1, 'dead', 10).map((row) => [row.id, row.dedupeKey]));
  return (host) =>
    ledger
      .deadDeliveries({ host: parseBurlHost(host) })
      .map(({ id }) => keysOf.get(id) ?? `unlisted delivery ${id}`)
      .sort();
}

describe('the SQLite ledger', () => {
  it('counts the first claim of an impression and marks the others duplicate, within one batch and across batches', () => {
    const claim = { key: 'k1', expiresMs: T0 + 600_000 };
    const outcomes = ledger.record([event({ dedupe: claim }), event({ dedupe: claim })]);
    assert.deepEqual(outcomes, [COUNTED, { outcome: 'not_counted', reason: 'duplicate' }]);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 3, counted: 1 });
  });

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

  it('makes a claim last as long as a duplicate notice of the impression could still count, across a restart', () => {
    // Counted through a win with a 600 s TTL; a second registration of the same impression has 3 h.
    const path = join(dir, 'extended-claim.db');
    const first = new SqliteLedger(openSqlite(path));
    const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
    const longer = (receivedMs: number) =>
      event({ receivedMs, dedupe: { key: 'k', expiresMs: T0 + 3 * HOUR_MS } });
    assert.deepEqual(first.record([event({ dedupe: { key: 'k', expiresMs: T0 + 600_000 } })]), [COUNTED]);
    assert.deepEqual(first.record([longer(T0 + 10_000)]), [duplicate]);
    assert.deepEqual(first.record([longer(T0 + 700_000)]), [duplicate], 'after the first win’s TTL');
    first.close();
    const reopened = new SqliteLedger(openSqlite(path));
    assert.deepEqual(reopened.record([longer(T0 + 2 * HOUR_MS)]), [duplicate]);
    // Once no notice of it could count any more, the claim ends.
    const fresh = event({
      receivedMs: T0 + 3 * HOUR_MS + 1,
      dedupe: { key: 'k', expiresMs: T0 + 4 * HOUR_MS },
    });
    assert.deepEqual(reopened.record([fresh]), [COUNTED]);
    reopened.close();
  });

  it('makes a claim last as long as a win whose notice did not count (invalid traffic, a prefetch, another method’s notice) could still count, across a restart', () => {
    // Each impression counted through a win with a 600 s TTL; while that claim lives, a notice of
    // a second registration of it (3 h) comes that does not count, and its billing notice comes
    // once the first claim would have ended.
    const path = join(dir, 'extended-by-uncounted.db');
    const first = new SqliteLedger(openSqlite(path));
    const uncounted = [
      invalidTraffic('head_request'),
      notCounted('prefetch'),
      notCounted('not_billing_method'),
    ];
    const keys = uncounted.map((_, index) => `uncounted-${index}`);
    const ofLongerWin = (key: string, receivedMs: number, outcome = COUNTED) =>
      event({ receivedMs, outcome, dedupe: { key, expiresMs: T0 + 3 * HOUR_MS } });
    assert.deepEqual(
      first.record(keys.map((key) => event({ dedupe: { key, expiresMs: T0 + 600_000 } }))),
      keys.map(() => COUNTED),
    );
    assert.deepEqual(
      first.record(keys.map((key, index) => ofLongerWin(key, T0 + 10_000, uncounted[index]))),
      uncounted,
    );
    const duplicates = keys.map(() => notCounted('duplicate'));
    assert.deepEqual(
      first.record(keys.map((key) => ofLongerWin(key, T0 + 700_000))),
      duplicates,
      'after the first win’s TTL',
    );
    first.close();
    const reopened = new SqliteLedger(openSqlite(path));
    assert.deepEqual(reopened.record(keys.map((key) => ofLongerWin(key, T0 + 2 * HOUR_MS))), duplicates);
    assert.deepEqual(reopened.countEvents(), { total: 12, counted: 3 });
    reopened.close();
  });

  it('never shortens a claim: a notice of the impression with an earlier expiry leaves it as long, in the batch and across a restart', () => {
    // Counted through a win with a 3 h TTL; a second registration of the same impression has 600 s.
    const path = join(dir, 'unshortened-claim.db');
    const first = new SqliteLedger(openSqlite(path));
    const duplicate = notCounted('duplicate');
    const shorter = (receivedMs: number) =>
      event({ receivedMs, dedupe: { key: 'k', expiresMs: T0 + 600_000 } });
    const longer = (receivedMs: number) =>
      event({ receivedMs, dedupe: { key: 'k', expiresMs: T0 + 3 * HOUR_MS } });
    assert.deepEqual(first.record([longer(T0), shorter(T0 + 10), longer(T0 + 700_000)]), [
      COUNTED,
      duplicate,
      duplicate,
    ]);
    assert.deepEqual(first.record([shorter(T0 + 20)]), [duplicate]);
    first.close();
    const reopened = new SqliteLedger(openSqlite(path));
    assert.deepEqual(reopened.record([longer(T0 + HOUR_MS)]), [duplicate], 'after the shorter TTL');
    assert.deepEqual(reopened.countEvents(), { total: 5, counted: 1 });
    reopened.close();
  });

  it('extends a claim from the index for the rest of the batch, before the index has it', () => {
    const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
    assert.deepEqual(ledger.record([event({ dedupe: { key: 'c', expiresMs: T0 + 600_000 } })]), [COUNTED]);
    const longer = (receivedMs: number) =>
      event({ receivedMs, dedupe: { key: 'c', expiresMs: T0 + 3 * HOUR_MS } });
    assert.deepEqual(ledger.record([longer(T0 + 10), longer(T0 + 700_000)]), [duplicate, duplicate]);
  });

  it('keeps a tracker hit’s dedupe window fixed from the first hit: repeats do not slide it', () => {
    const hit = (receivedMs: number) =>
      event({
        receivedMs,
        dims: { ...event().dims, impressionType: 'external_impression' },
        dedupe: { key: 'imptr-cb', expiresMs: receivedMs + 300_000 },
      });
    const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
    assert.deepEqual(ledger.record([hit(T0)]), [COUNTED]);
    assert.deepEqual(ledger.record([hit(T0 + 240_000)]), [duplicate]);
    assert.deepEqual(ledger.record([hit(T0 + 300_001)]), [COUNTED]);
  });

  it('extends a claim made earlier in the same batch', () => {
    const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
    assert.deepEqual(
      ledger.record([
        event({ dedupe: { key: 'b', expiresMs: T0 + 600_000 } }),
        event({ receivedMs: T0 + 1, dedupe: { key: 'b', expiresMs: T0 + 3 * HOUR_MS } }),
      ]),
      [COUNTED, duplicate],
    );
    const late = event({ receivedMs: T0 + 700_000, dedupe: { key: 'b', expiresMs: T0 + 3 * HOUR_MS } });
    assert.deepEqual(ledger.record([late]), [duplicate]);
  });

  it('keeps live claims across a restart: a reopened ledger still knows what was counted', () => {
    const path = join(dir, 'restart.db');
    const first = new SqliteLedger(openSqlite(path));
    first.record([
      event({ dedupe: { key: 'live', expiresMs: T0 + 600_000 } }),
      event({ dedupe: { key: 'expired', expiresMs: T0 + 10 } }),
    ]);
    first.close();
    const reopened = new SqliteLedger(openSqlite(path));
    const later = T0 + 1000;
    assert.deepEqual(
      reopened.record([
        event({ receivedMs: later, dedupe: { key: 'live', expiresMs: later + 600_000 } }),
        event({ receivedMs: later, dedupe: { key: 'expired', expiresMs: later + 600_000 } }),
      ]),
      [{ outcome: 'not_counted', reason: 'duplicate' }, COUNTED],
    );
    reopened.close();
  });

  it('still finds, after a restart, the claim of a notice received before it expired and recorded after the load', () => {
    const path = join(dir, 'restart-late-record.db');
    const expiresMs = T0 + 600_000;
    const first = new SqliteLedger(openSqlite(path));
    first.record([event({ dedupe: { key: 'k', expiresMs } })]);
    first.close();
    const reopened = new SqliteLedger(openSqlite(path));
    // The new counting thread loads its claims a little after the claim expired...
    reopened.loadClaims(expiresMs + CLAIM_LOAD_MARGIN_MS);
    // ...and then records a notice received at the claim's last live instant.
    assert.deepEqual(reopened.record([event({ receivedMs: expiresMs, dedupe: { key: 'k', expiresMs } })]), [
      notCounted('duplicate'),
    ]);
    assert.deepEqual(reopened.countEvents(), { total: 2, counted: 1 });
    reopened.close();
  });

  it('keeps a claim that expired moments ago through the index’s table replacements, for a clock stepped back', () => {
    const expiresMs = T0 + 600_000;
    assert.deepEqual(ledger.record([event({ dedupe: { key: 'k', expiresMs } })]), [COUNTED]);
    // Three seconds after the claim expired, enough new claims that the index replaces its table.
    const later = expiresMs + 3000;
    for (let index = 0; index < 64; index++) {
      const other = event({
        receivedMs: later,
        dims: { ...event().dims, auctionId: `other-${index}` },
        dedupe: { key: `other-${index}`, expiresMs: later + 600_000 },
      });
      assert.deepEqual(ledger.record([other]), [COUNTED]);
    }
    // Then the clock steps back: a notice received while the claim was live, by that clock.
    assert.deepEqual(ledger.record([event({ receivedMs: expiresMs, dedupe: { key: 'k', expiresMs } })]), [
      notCounted('duplicate'),
    ]);
  });

  it('finds a claim still live after the clock was stepped forward hours and back, however many claims came between', () => {
    const expiresMs = T0 + 600_000;
    assert.deepEqual(ledger.record([event({ dedupe: { key: 'k', expiresMs } })]), [COUNTED]);
    // The clock steps three hours forward: by it the claim has long expired, and enough new claims
    // come that the index reuses its slot and replaces its table.
    const ahead = T0 + 3 * HOUR_MS;
    for (let index = 0; index < 64; index++) {
      const other = event({
        receivedMs: ahead,
        dims: { ...event().dims, auctionId: `ahead-${index}` },
        dedupe: { key: `ahead-${index}`, expiresMs: ahead + 600_000 },
      });
      assert.deepEqual(ledger.record([other]), [COUNTED]);
    }
    // Then it is stepped back to the right time: a repeat while the claim lives is a duplicate.
    const repeat = event({ receivedMs: T0 + 60_000, dedupe: { key: 'k', expiresMs } });
    assert.deepEqual(ledger.record([repeat]), [notCounted('duplicate')]);
    assert.deepEqual(ledger.countEvents(), { total: 66, counted: 65 });
  });

  it('still finds, after a restart, a claim that expired before the first batch recorded when no load came first', () => {
    const path = join(dir, 'restart-record-first.db');
    const expiresMs = T0 + 600_000;
    const first = new SqliteLedger(openSqlite(path));
    first.record([event({ dedupe: { key: 'k', expiresMs } })]);
    first.close();
    // A new counting thread is handed batches that waited for it before it loaded its claims:
    // the first event was received the whole margin after the claim expired, a later one (the
    // clock stepped back between them) while it was live.
    const reopened = new SqliteLedger(openSqlite(path));
    const afterExpiry = event({
      receivedMs: expiresMs + CLAIM_LOAD_MARGIN_MS,
      dims: { ...event().dims, auctionId: 'other' },
      dedupe: { key: 'other', expiresMs: expiresMs + 600_000 },
    });
    const whileLive = event({ receivedMs: expiresMs, dedupe: { key: 'k', expiresMs } });
    assert.deepEqual(reopened.record([afterExpiry, whileLive]), [COUNTED, notCounted('duplicate')]);
    assert.deepEqual(reopened.countEvents(), { total: 3, counted: 2 });
    reopened.close();
  });

  it('counts each impression once while its claim lives, as a plain map of claims would, through failed batches, restarts and clocks stepped back (property)', () => {
    const notice = fc.record({
      key: fc.integer({ min: 0, max: 30 }),
      advanceMs: fc.integer({ min: 0, max: 300 }),
      // A clock stepped back (the ledger keeps claims for one stepped back less than its margin).
      stepBackMs: fc.option(fc.integer({ min: 1, max: CLAIM_LOAD_MARGIN_MS - 1000 }), { freq: 50 }),
      ttlMs: fc.integer({ min: 0, max: 20_000 }),
    });
    const step = fc.oneof(
      fc.record({ batch: fc.array(notice, { minLength: 1, maxLength: 20 }), fails: fc.boolean() }),
      // A restart: the new counting thread loads its claims (up to a few seconds after the last
      // notice), or is handed batches before it could.
      fc.record({ restart: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }) }),
    );
    let run = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 30 }), (steps) => {
        const path = join(dir, `claims-model-${++run}.db`);
        let own = new SqliteLedger(openSqlite(path));
        const claims = new Map<string, number>();
        let nowMs = T0;
        let newestMs = T0;
        for (const taken of steps) {
          if ('restart' in taken) {
            own.close();
            own = new SqliteLedger(openSqlite(path));
            if (taken.restart !== undefined) own.loadClaims(nowMs + taken.restart);
            continue;
          }
          const batch = taken.batch.map(({ key, advanceMs, stepBackMs, ttlMs }) => {
            nowMs = Math.max(nowMs + advanceMs - (stepBackMs ?? 0), newestMs - CLAIM_LOAD_MARGIN_MS / 2);
            newestMs = Math.max(newestMs, nowMs);
            const dedupe = { key: `k${key}`, expiresMs: nowMs + ttlMs };
            return event({ receivedMs: nowMs, dims: { ...event().dims, auctionId: dedupe.key }, dedupe });
          });
          if (taken.fails) {
            // Fault injection: a last event breaking a NOT NULL constraint rolls the batch back.
            const broken = event({ dims: { ...event().dims, seat: null as unknown as string } });
            assert.throws(() => own.record([...batch, broken]), /NOT NULL/);
            continue;
          }
          const outcomes = own.record(batch);
          batch.forEach(({ receivedMs, dedupe }, index) => {
            const { key, expiresMs } = dedupe!;
            const claim = claims.get(key);
            const live = claim !== undefined && claim >= receivedMs;
            assert.deepEqual(
              outcomes[index],
              live ? notCounted('duplicate') : COUNTED,
              `${key} at ${receivedMs}`,
            );
            claims.set(key, live ? Math.max(claim, expiresMs) : expiresMs);
          });
        }
        own.close();
      }),
      { numRuns: 60 },
    );
  });

  it('moves the claims of a database made before claims lived on events onto those events', () => {
    const path = join(dir, 'upgrade.db');
    const old = openAsOlderTally(path, 3);
    old.exec(`INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome, reason, ivt_rule,
        kind, format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency, advertiser_id, line_item_id,
        tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros, media_cost_micros, revenue_micros,
        device_ip, user_agent, dedupe_key)
      VALUES (${T0}, ${T0}, 1, 'exchange', 'counted', '', '', 'adm', 'banner', 'web', 'adm', 's', 'p', 'a', '1', 'b',
        'USD', 0, 0, 0, 0, 0, 0, 1, 0, 0, '', '', 'old-key');
      INSERT INTO claims (dedupe_key, expires_ms) VALUES ('old-key', ${T0 + 600_000});`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(upgraded.record([event({ dedupe: { key: 'old-key', expiresMs: T0 + 600_000 } })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    upgraded.close();
  });

  it('claims nothing for a batch whose transaction failed', () => {
    const claim = { key: 'rolled-back', expiresMs: T0 + 600_000 };
    // Fault injection: the second event breaks a NOT NULL constraint, so the whole batch rolls back.
    const broken = event({ dims: { ...event().dims, seat: null as unknown as string } });
    assert.throws(() => ledger.record([event({ dedupe: claim }), broken]), /NOT NULL/);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [COUNTED]);
  });

  it('keeps every column of every event through the move of shared dims to event_dims (migration 8)', () => {
    const path = join(dir, 'dims-upgrade.db');
    const old = openAsOlderTally(path, 7);
    const insert =
      old.prepare(`INSERT INTO events (received_ms, served_hour_ms, account_id, impression_type, outcome,
        reason, ivt_rule, kind, format, channel, method, seat, publisher, auction_id, imp_id, bid_id, currency,
        advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (?, ?, 1, 'exchange', ?, ?, ?, 'adm', 'banner', 'web', 'adm', ?, 'p', ?, '1', 'b', 'USD', 0, 0, 0, 0, 0, 0,
        ?, 0, 0, '203.0.113.9', 'UA/1', ?, ?)`);
    insert.run(T0, T0, 'counted', '', '', 's1', 'a1', 1000, 'key-a1', T0 + 600_000);
    insert.run(T0 + 1, T0, 'counted', '', '', 's1', 'a2', 2000, 'key-a2', T0 + 600_000);
    insert.run(T0 + 2, T0, 'not_counted', 'invalid_traffic', 'bot_user_agent', 's2', 'a3', 3000, null, 0);
    const before = old.prepare('SELECT * FROM events ORDER BY id').all();
    old.close();

    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(upgraded.record([event({ dedupe: { key: 'key-a1', expiresMs: T0 + 600_000 } })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    upgraded.close();
    const reader = new Database(path, { readonly: true });
    const after = reader.prepare('SELECT * FROM events ORDER BY id').all();
    // Every column it had, and no VAST error code (migration 20 added the column).
    assert.deepEqual(
      after.slice(0, 3),
      before.map((row) => ({ ...(row as object), vast_error: null })),
    );
    assert.equal(reader.prepare('SELECT COUNT(*) FROM event_dims').pluck().get(), 3);
    reader.close();
  });

  it('rewrites the dedupe keys of ids holding U+001F or a backslash as impressionKey now spells them (migration 9)', () => {
    const path = join(dir, 'rekey-upgrade.db');
    const old = openAsOlderTally(path, 8);
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', 'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0, 'adm', 'USD', '')`);
    const insert =
      old.prepare(`INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id,
        bid_id, price_micros, media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${T0}, 1, ?, ?, 'b', 1000, 0, 0, '', '', ?, ${T0 + 600_000})`);
    // Keys as they were spelled before: the ids joined as they are.
    const oldKey = (auctionId: string, impId: string) =>
      ['x', 1, auctionId, impId, 'b', 'seat'].join('\u001f');
    insert.run('a\u001fb', 'c', oldKey('a\u001fb', 'c'));
    insert.run('back\\slash', '1', oldKey('back\\slash', '1'));
    insert.run('plain', '1', oldKey('plain', '1'));
    insert.run('', '', 'imptr\u001f5\u001fcb\u001fx');
    // Its key as it was spelled is the first impression's key as it is spelled now: rewriting
    // the first must not trip over it.
    insert.run('a\\sb', 'c', oldKey('a\\sb', 'c'));
    const delivery =
      old.prepare(`INSERT INTO deliveries (account_id, dedupe_key, url, device_ip, user_agent, status,
        created_ms, due_ms, deadline_ms) VALUES (1, ?, 'https://dsp.example/burl', '', '', 'pending', 0, 0, 1)`);
    delivery.run(oldKey('a\u001fb', 'c'));
    delivery.run(oldKey('a\\sb', 'c'));
    old.close();

    const upgraded = new SqliteLedger(openSqlite(path));
    const key = (auctionId: string, impId: string) =>
      impressionKey(bannerClaims({ accountId: 1, auctionId, impId, bidId: 'b', seat: 'seat' }));
    const notice = (auctionId: string, impId: string) =>
      event({ dedupe: { key: key(auctionId, impId), expiresMs: T0 + 600_000 } });
    assert.deepEqual(
      upgraded.record([
        notice('a\u001fb', 'c'),
        notice('a', 'b\u001fc'),
        notice('back\\slash', '1'),
        notice('plain', '1'),
        notice('a\\sb', 'c'),
      ]),
      [
        { outcome: 'not_counted', reason: 'duplicate' },
        COUNTED,
        { outcome: 'not_counted', reason: 'duplicate' },
        { outcome: 'not_counted', reason: 'duplicate' },
        { outcome: 'not_counted', reason: 'duplicate' },
      ],
    );
    upgraded.close();
    const reader = new Database(path, { readonly: true });
    assert.deepEqual(reader.prepare('SELECT dedupe_key FROM deliveries ORDER BY id').pluck().all(), [
      key('a\u001fb', 'c'),
      key('a\\sb', 'c'),
    ]);
    assert.deepEqual(
      reader.prepare('SELECT dedupe_key FROM event_rows WHERE id <= 5 ORDER BY id').pluck().all(),
      [
        key('a\u001fb', 'c'),
        key('back\\slash', '1'),
        oldKey('plain', '1'),
        'imptr\u001f5\u001fcb\u001fx',
        key('a\\sb', 'c'),
      ],
    );
    reader.close();
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

  it('lets a claim be taken again once it expired (a tracker cachebuster after five minutes)', () => {
    ledger.record([event({ dedupe: { key: 'cb', expiresMs: T0 + 300_000 } })]);
    const later = T0 + 300_001;
    assert.deepEqual(
      ledger.record([event({ receivedMs: later, dedupe: { key: 'cb', expiresMs: later + 300_000 } })]),
      [COUNTED],
    );
  });

  it('does not claim the key for an event that does not count', () => {
    const claim = { key: 'k2', expiresMs: T0 + 600_000 };
    ledger.record([event({ outcome: invalidTraffic('bot_user_agent'), dedupe: claim })]);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [COUNTED]);
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

  it('leases a due delivery to one caller at a time and retries or kills it on failure', () => {
    ledger.record([
      event({ dedupe: { key: 'd', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 1000 } }),
    ]);
    const [leased] = ledger.leaseDeliveries(T0, 10, 5000);
    assert.equal(leased?.attempts, 1);
    assert.deepEqual(ledger.leaseDeliveries(T0 + 1, 10, 5000), [], 'hidden while leased');
    ledger.markFailed(leased?.id ?? 0, 'HTTP 500', T0 + 100);
    assert.deepEqual(ledger.leaseDeliveries(T0 + 50, 10, 5000), [], 'not due yet');
    const [again] = ledger.leaseDeliveries(T0 + 100, 10, 5000);
    assert.equal(again?.attempts, 2);
    ledger.markFailed(again?.id ?? 0, 'HTTP 500', null);
    assert.equal(ledger.listDeliveries(1, 'dead', 10)[0]?.lastError, 'HTTP 500');
    assert.equal(ledger.replayDead(ledger.deadDeliveries(), T0 + 200, T0 + 5000), 1);
    assert.equal(ledger.leaseDeliveries(T0 + 200, 10, 5000).length, 1);
  });

  it('ends the leases a killed process left, so that their deliveries are leased again at once, as due as they were', () => {
    ledger.record([
      event({ dedupe: { key: 'k1', expiresMs: T0 + 1 }, delivery: { url: 'u1', deadlineMs: T0 + HOUR_MS } }),
      event({ dedupe: { key: 'k2', expiresMs: T0 + 1 }, delivery: { url: 'u2', deadlineMs: T0 + HOUR_MS } }),
    ]);
    const [inFlight, settled] = ledger.leaseDeliveries(T0, 10, 240_000);
    ledger.markDelivered(settled?.id ?? 0, T0 + 5);
    assert.equal(ledger.endLeasesOfKilledProcess(), 1);
    const again = ledger.leaseDeliveries(T0 + 10, 10, 240_000);
    assert.deepEqual(
      again.map((delivery) => ({ id: delivery.id, attempts: delivery.attempts, dueMs: delivery.dueMs })),
      [{ id: inFlight?.id, attempts: 2, dueMs: inFlight?.dueMs }],
    );
    assert.equal(ledger.listDeliveries(1, 'delivered', 10).length, 1, 'a delivered one stays delivered');
  });

  it('leases the deliveries due first, but no host more than its calls in flight leave room for, and none in flight', () => {
    ledger.record([
      queued('a1', 'https://A.example/bill?n=1', T0),
      queued('a2', 'https://a.example/bill?n=2', T0 + 1),
      queued('a3', 'http://a.example/bill?n=3', T0 + 2),
      queued('b1', 'https://b.example/bill', T0 + 3),
      queued('c1', 'https://c.example/bill', T0 + 4),
    ]);
    const inFlightToA = {
      ids: new Set<number>(),
      byHost: new Map([['https://a.example', 1]]),
      hostLimit: () => 2,
    };
    const leased = ledger.leaseDeliveries(T0 + 10, 10, 1000, inFlightToA);
    assert.deepEqual(
      leased.map((delivery) => delivery.url),
      [
        'https://A.example/bill?n=1',
        'http://a.example/bill?n=3',
        'https://b.example/bill',
        'https://c.example/bill',
      ],
      'one of https://a.example (its port 443 too), whose second is due next; http://a.example is another host',
    );
    const [second] = ledger
      .listDeliveries(1, 'pending', 10)
      .filter((delivery) => delivery.url.endsWith('n=2'));
    const firstTwo = ledger.leaseDeliveries(T0 + 2000, 2, 1000, {
      ids: new Set([leased[0]?.id ?? 0]),
      byHost: new Map(),
      hostLimit: () => 10,
    });
    assert.deepEqual(
      firstTwo.map((delivery) => delivery.id),
      [second?.id, leased[1]?.id],
      'the one in flight is passed over though its lease ran out; the rest, due first first, up to the limit',
    );
  });

  it('passes over a host at its limit however many of its deliveries fall due first, and leases each with its host', () => {
    ledger.record([
      ...[1, 2, 3, 4, 5].map((n) => queued(`hung-${n}`, `https://Hung.example/bill?n=${n}`, T0 + n)),
      queued('fine', 'https://fine.example/bill', T0 + 10),
    ]);
    const hungFull = {
      ids: new Set<number>(),
      byHost: new Map([['https://hung.example', 1]]),
      hostLimit: (host: string) => (host === 'https://hung.example' ? 1 : 8),
    };
    const leased = ledger.leaseDeliveries(T0 + 20, 2, 1000, hungFull);
    assert.deepEqual(
      leased.map((delivery) => [delivery.url, delivery.host]),
      [['https://fine.example/bill', 'https://fine.example']],
    );
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 20, 1, 1000).map((delivery) => [delivery.url, delivery.host]),
      [['https://Hung.example/bill?n=1', 'https://hung.example']],
      'with room, the host’s first',
    );
  });

  it('writes the outcomes of many calls in one transaction: delivered, due again, or dead', () => {
    ledger.record(
      ['ok', 'again', 'gone'].map((key) =>
        event({
          dedupe: { key, expiresMs: T0 + 1 },
          delivery: { url: `https://dsp.example/${key}`, deadlineMs: T0 + 1000 },
        }),
      ),
    );
    const [ok, again, gone] = ledger.leaseDeliveries(T0, 10, 5000);
    ledger.settleDeliveries([
      { id: ok?.id ?? 0, deliveredMs: T0 + 1 },
      { id: again?.id ?? 0, error: 'HTTP 503', nextDueMs: T0 + 100, firstFailedMs: T0 },
      { id: gone?.id ?? 0, error: 'HTTP 410', nextDueMs: null, firstFailedMs: T0 },
    ]);
    const byUrl = new Map(
      ledger.listDeliveries(1, undefined, 10).map((delivery) => [delivery.url, delivery]),
    );
    assert.deepEqual(
      ['ok', 'again', 'gone'].map((key) => {
        const delivery = byUrl.get(`https://dsp.example/${key}`);
        return [delivery?.status, delivery?.dueMs, delivery?.lastError, delivery?.deliveredMs];
      }),
      [
        ['delivered', T0, '', T0 + 1],
        ['pending', T0 + 100, 'HTTP 503', null],
        ['dead', T0, 'HTTP 410', null],
      ],
    );
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 100, 10, 5000).map((delivery) => [delivery.url, delivery.firstFailedMs]),
      [['https://dsp.example/again', T0]],
      'the one due again is leased again once due, its lease released, with when it first failed',
    );
    // A later failure keeps when the first began; a replay of a dead one begins anew.
    ledger.markFailed(again?.id ?? 0, 'HTTP 502', T0 + 200, T0 + 100);
    ledger.replayDead(ledger.deadDeliveries(), T0 + 200, T0 + 5000);
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 200, 10, 5000).map((delivery) => [delivery.url, delivery.firstFailedMs]),
      [
        ['https://dsp.example/again', T0],
        ['https://dsp.example/gone', null],
      ],
    );
  });

  it('finds the oldest due delivery not being called, by its due time, and none before it falls due or while leased', () => {
    ledger.record([
      event({ dedupe: { key: 'first', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 1000 } }),
    ]);
    ledger.record([
      event({
        receivedMs: T0 + 10,
        dedupe: { key: 'second', expiresMs: T0 + 11 },
        delivery: { url: 'u', deadlineMs: T0 + 1000 },
      }),
    ]);
    assert.equal(ledger.oldestDueMs(T0 - 1), undefined, 'none due yet');
    assert.equal(ledger.oldestDueMs(T0 + 5), T0);
    const [leased] = ledger.leaseDeliveries(T0 + 5, 1, 100);
    assert.equal(ledger.oldestDueMs(T0 + 50), T0 + 10, 'the first is being called');
    assert.equal(ledger.oldestDueMs(T0 + 105), T0, 'its lease ran out');
    ledger.markDelivered(leased?.id ?? 0, T0 + 60);
    assert.equal(ledger.oldestDueMs(T0 + 105), T0 + 10);
  });

  it('finds when the pending delivery kept longest was created, being called or not, and none once none is pending', () => {
    assert.equal(ledger.oldestPendingCreatedMs(), undefined, 'none stored');
    for (const [key, receivedMs] of [
      ['older', T0],
      ['newer', T0 + 10],
    ] as const) {
      ledger.record([
        event({
          receivedMs,
          dedupe: { key, expiresMs: T0 + 1 },
          delivery: { url: 'u', deadlineMs: T0 + 1000 },
        }),
      ]);
    }
    const [leased] = ledger.leaseDeliveries(T0 + 5, 1, 100);
    assert.equal(ledger.oldestPendingCreatedMs(), T0, 'the older is being called, still pending');
    ledger.markDelivered(leased?.id ?? 0, T0 + 60);
    assert.equal(ledger.oldestPendingCreatedMs(), T0 + 10, 'the older delivered');
    const [last] = ledger.leaseDeliveries(T0 + 70, 1, 100);
    ledger.markDelivered(last?.id ?? 0, T0 + 80);
    assert.equal(ledger.oldestPendingCreatedMs(), undefined, 'none pending');
  });

  it('finds the oldest pending delivery by one seek per account, never reading every pending delivery, so that a scrape costs the same with millions pending', () => {
    // MIN(id) of the pending read the status index's every pending entry: 100 ms a scrape with
    // 2 M pending, after a DSP down for a few hours.
    const db = ledger['db'];
    const statements: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    };
    try {
      ledger.oldestPendingCreatedMs();
    } finally {
      db.prepare = prepare;
    }
    const plans = statements.map((sql) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[])
        .map((step) => step.detail)
        .filter((detail) => detail.includes(' deliveries ')),
    );
    assert.deepEqual(plans, [
      [
        'SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)',
        'SEARCH deliveries USING COVERING INDEX deliveries_account',
        'SEARCH deliveries USING COVERING INDEX deliveries_account (account_id>?)',
        'SEARCH deliveries USING COVERING INDEX deliveries_account_status (account_id=? AND status=?)',
      ],
    ]);
  });

  it('lists an auction’s deliveries through the dedupe keys’ index, of one seat or any, never a scan', () => {
    for (const seat of [null, 'seat']) {
      const plan = (
        ledger['db']
          .prepare(`EXPLAIN QUERY PLAN ${ledger['deliveries']['deliveriesOfAuction'].source}`)
          .all('a', 'b', 1, null, null, seat, seat, 10, 0, 10, 10) as { detail: string }[]
      ).map((step) => step.detail);
      assert.match(
        plan.join('; '),
        /^SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 \(dedupe_key>\? AND dedupe_key<\?\)/,
        String(seat),
      );
    }
  });

  it('leases host by host through the index on the pending deliveries’ hosts, one seek a host, never a scan', () => {
    const path = join(dir, 'lease-plan.db');
    const leasing = new SqliteLedger(openSqlite(path));
    const db = new Database(path, { readonly: true });
    const parameters = { pendingHosts: [], dueOfHost: ['h', 0, 0, 1] };
    for (const statement of ['pendingHosts', 'dueOfHost'] as const) {
      const steps = (
        db
          .prepare(`EXPLAIN QUERY PLAN ${leasing['outbox'][statement].source}`)
          .all(...parameters[statement]) as {
          detail: string;
        }[]
      ).map((step) => step.detail);
      const deliveriesSteps = steps.filter((step) => / deliveries /.test(`${step} `));
      assert.ok(deliveriesSteps.length > 0, steps.join('; '));
      for (const step of deliveriesSteps)
        assert.match(step, /^SEARCH deliveries USING (COVERING )?INDEX deliveries_host_due/, statement);
    }
    db.close();
    leasing.close();
  });

  it('lists an account’s deliveries newest first, all or of one status, in pages, each through an index', () => {
    const path = join(dir, 'listing.db');
    const listing = new SqliteLedger(openSqlite(path));
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    listing.record(['l1', 'l2', 'l3'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const [first] = listing.leaseDeliveries(T0, 1, 5000);
    listing.markFailed(first?.id ?? 0, 'HTTP 500', null);
    const ids = (status?: 'pending' | 'dead', afterId?: number) =>
      listing.listDeliveries(1, status, 10, { afterId }).map((listed) => listed.dedupeKey);
    assert.deepEqual(ids(), ['l3', 'l2', 'l1']);
    assert.deepEqual(ids('dead'), ['l1']);
    assert.deepEqual(ids('pending'), ['l3', 'l2']);
    const [newest] = listing.listDeliveries(1, undefined, 1);
    assert.deepEqual(ids('pending', newest?.id), ['l2']);
    listing.close();
    const db = new Database(path, { readonly: true });
    const plan = (sql: string, ...parameters: unknown[]) =>
      (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[])
        .map((step) => step.detail)
        .join('; ');
    assert.match(
      plan(
        'SELECT * FROM deliveries WHERE account_id = ? AND status = ? AND id < ? ORDER BY id DESC LIMIT ?',
        1,
        'dead',
        10,
        10,
      ),
      /USING INDEX deliveries_account_status/,
    );
    // A window of time, read as a range of ids.
    assert.match(
      plan(
        `SELECT * FROM deliveries WHERE account_id = ? AND id < ? AND id >= ? AND id < ? AND created_ms >= ?
           AND created_ms < ? ORDER BY id DESC LIMIT ?`,
        ...[1, 10, 0, 10, 0, 10, 10],
      ),
      /USING INDEX deliveries_account \(account_id=\? AND id>\? AND id<\?\)/,
    );
    db.close();
  });

  it('makes a leased delivery due again when its lease runs out (the process died mid-delivery)', () => {
    ledger.record([
      event({ dedupe: { key: 'x', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + 99_000 } }),
    ]);
    assert.equal(ledger.leaseDeliveries(T0, 10, 5000).length, 1);
    assert.equal(ledger.leaseDeliveries(T0 + 5000, 10, 5000).length, 1);
  });

  it('rolls events up by the hour they were served, with money from counted events only, by any dimension', () => {
    const nextHour = T0_HOUR + HOUR_MS;
    ledger.record([
      event({ priceMicros: 1_000_000 }),
      event({ priceMicros: 2_000_000, dims: { ...event().dims, seat: 'other' } }),
      event({ servedHourMs: nextHour, outcome: invalidTraffic('head_request') }),
    ]);
    const query = { accountId: 1, fromMs: T0_HOUR - HOUR_MS, toMs: T0_HOUR + 3 * HOUR_MS, filters: {} };
    assert.deepEqual(ledger.report({ ...query, groupBy: ['hour', 'outcome'] }), [
      {
        hour: new Date(T0_HOUR).toISOString(),
        outcome: 'counted',
        events: 2,
        priceMicros: 3_000_000,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
      {
        hour: new Date(nextHour).toISOString(),
        outcome: 'not_counted',
        events: 1,
        priceMicros: 0,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
    assert.equal(ledger.report({ ...query, groupBy: [], filters: { seat: 'other' } })[0]?.events, 1);
    assert.deepEqual(
      ledger.report({ ...query, accountId: 2, groupBy: [] }),
      [],
      'another account sees nothing',
    );
  });

  it('keeps each currency’s money apart in the rollups: no report adds EUR to USD unless asked to', () => {
    const path = join(dir, 'currencies.db');
    const own = new SqliteLedger(openSqlite(path));
    const inCurrency = (currency: string, priceMicros: number) =>
      event({ priceMicros, dims: { ...event().dims, currency } });
    own.record([inCurrency('USD', 300_000_000), inCurrency('EUR', 2_000_000), inCurrency('EUR', 1_000_000)]);
    own.record([
      event({ dims: { ...event().dims, currency: 'EUR' }, outcome: invalidTraffic('head_request') }),
    ]);
    assert.deepEqual(byOutcomeAndCurrency(own), [
      ['counted', 'EUR', 2, 3_000_000],
      ['counted', 'USD', 1, 300_000_000],
      ['not_counted', '', 1, 0],
    ]);
    const eur = own.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { currency: 'EUR' } });
    assert.equal(eur[0]?.priceMicros, 3_000_000);
    own.close();
  });

  it('refuses a report whose sum passes 2^53 − 1 micros instead of answering it a few micros off, while its rows by day still add up exactly', () => {
    // priceMicros adds up CPMs: 10^16 micros is a year of a few million impressions a day.
    const prices = [4_000_000_000_000_000, 4_000_000_000_000_000, 2_000_000_000_000_001];
    ledger.record(
      prices.map((priceMicros, index) => event({ priceMicros, servedHourMs: T0_HOUR + index * 86_400_000 })),
    );
    const year = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 300 * 86_400_000, filters: {} };
    const byDay = ledger.report({ ...year, groupBy: ['day'] });
    assert.deepEqual(
      byDay.map((row) => row.priceMicros),
      prices,
    );
    const exact = byDay.reduce((sum, row) => sum + BigInt(row.priceMicros), 0n);
    assert.equal(exact, 10_000_000_000_000_001n);
    assert.throws(
      () => ledger.report({ ...year, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError &&
        /priceMicros add up to 10000000000000001,/.test(error.message) &&
        /narrow from and to/.test(error.message),
    );
    assert.equal(
      ledger.report({ ...year, groupBy: [], filters: { seat: 'seat' }, fromMs: T0_HOUR + 86_400_000 })[0]
        ?.priceMicros,
      6_000_000_000_000_001,
    );
    // Asked for exact sums (CSV), the total comes as a bigint; the sums a number holds stay numbers.
    assert.deepEqual(ledger.report({ ...year, groupBy: [], exactSums: true }), [
      {
        events: 3,
        priceMicros: 10_000_000_000_000_001n,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
  });

  it('refuses, rather than failing as if a retry could help, a report whose sum passes SQLite’s 64-bit integers', () => {
    // Three hours of 700 impressions at 4.5 billion a thousand (a price a win takes): each hour's rollup row holds
    // its sum (3.15e18 micros), the three hours' (9.45e18) pass 2^63 − 1.
    const priceMicros = 4_500_000_000_000_000;
    for (let hour = 0; hour < 3; hour++) {
      ledger.record(
        Array.from({ length: 700 }, () => event({ priceMicros, servedHourMs: T0_HOUR + hour * HOUR_MS })),
      );
    }
    const window = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 3 * HOUR_MS, filters: {} };
    assert.throws(
      () => ledger.report({ ...window, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError &&
        /the report's sums pass 2\^63 - 1/.test(error.message) &&
        /narrow from and to/.test(error.message),
    );
    // Narrowed to one hour it is answered, or refused for its own size: never failed.
    assert.throws(
      () => ledger.report({ ...window, toMs: T0_HOUR + HOUR_MS, groupBy: [] }),
      (error: unknown) =>
        error instanceof ReportTooLargeError && /add up to 3150000000000000000,/.test(error.message),
    );
    assert.equal(
      ledger.report({ ...window, groupBy: ['hour'], filters: { outcome: 'not_counted' } }).length,
      0,
    );
  });

  it('stops an hourly rollup amount at 2^63 − 1 micros rather than let it turn inexact, and refuses reports over that hour, CSV too', () => {
    // 2100 impressions at 4.5 billion a thousand in one hour: 9.45e18 micros, past 2^63 − 1.
    const priceMicros = 4_500_000_000_000_000;
    for (let batch = 0; batch < 3; batch++)
      ledger.record(Array.from({ length: 700 }, () => event({ priceMicros, mediaCostMicros: 1 })));
    ledger.record([event({ priceMicros: 1, servedHourMs: T0_HOUR + HOUR_MS })]);
    const window = { accountId: 1, fromMs: T0_HOUR, toMs: T0_HOUR + 2 * HOUR_MS, filters: {} };
    for (const exactSums of [false, true]) {
      assert.throws(
        () => ledger.report({ ...window, toMs: T0_HOUR + HOUR_MS, groupBy: [], exactSums }),
        (error: unknown) =>
          error instanceof ReportTooLargeError &&
          /priceMicros include an hour whose sum reached 2\^63 - 1 micros/.test(error.message) &&
          /group by hour to find it/.test(error.message),
      );
    }
    // The hour's amounts stay integers, the one that reached the limit held there.
    assert.deepEqual(
      ledger['db']
        .prepare(
          'SELECT typeof(price_micros), price_micros, media_cost_micros FROM rollup_hourly ORDER BY hour_ms',
        )
        .safeIntegers(true)
        .raw()
        .all(),
      [
        ['integer', 9_223_372_036_854_775_807n, 2100n],
        ['integer', 1n, 0n],
      ],
    );
    // The hour after it is reported as ever.
    assert.equal(ledger.report({ ...window, fromMs: T0_HOUR + HOUR_MS, groupBy: [] })[0]?.priceMicros, 1);
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

  it('splits the counted rollups of an older database by currency, rebuilt from the billing records (migration 10)', () => {
    const path = join(dir, 'currency-upgrade.db');
    const hour = T0_HOUR;
    const old = openAsOlderTally(path, 9);
    const dims = `'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0`;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', ${dims}, 'adm', 'USD', ''), (2, 1, 'counted', '', ${dims}, 'adm', 'EUR', '');
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${hour}, 1, 'a1', '1', 'b', 300000000, 0, 0, '', '', NULL, 0),
        (${T0}, ${hour}, 2, 'a2', '1', 'b', 2000000, 0, 0, '', '', NULL, 0);
      -- As version 9 kept them: one row adding both currencies; the event that did not count is pruned.
      INSERT INTO rollup_hourly VALUES (${hour}, 1, 'counted', '', ${dims}, 2, 302000000, 0, 0),
        (${hour}, 1, 'not_counted', 'invalid_traffic', ${dims}, 1, 0, 0, 0);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    assert.deepEqual(byOutcomeAndCurrency(upgraded), [
      ['counted', 'EUR', 1, 2_000_000],
      ['counted', 'USD', 1, 300_000_000],
      ['not_counted', '', 1, 0],
    ]);
    upgraded.close();
  });

  it('reads one account’s rollups over a range of hours through the (account, hour) index, not every account’s rows of those hours', () => {
    const path = join(dir, 'rollup-plan.db');
    openSqlite(path).close();
    const db = new Database(path, { readonly: true });
    const plan = (
      db
        .prepare(
          'EXPLAIN QUERY PLAN SELECT SUM(events) FROM rollup_hourly WHERE account_id = ? AND hour_ms >= ? AND hour_ms < ?',
        )
        .all(2, T0, T0 + HOUR_MS) as { detail: string }[]
    )
      .map((step) => step.detail)
      .join('; ');
    db.close();
    assert.match(plan, /USING INDEX rollup_hourly_account \(account_id=\? AND hour_ms>\? AND hour_ms<\?\)/);
  });

  it('reads a report over 400 days, by any dimension, filtered, scoped or in a time zone, through the (account, hour) index of the rollups alone', () => {
    const path = join(dir, `report-plan-${++sequence}.db`);
    const db = openSqlite(path);
    const planned = new SqliteLedger(db);
    const statements: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    };
    const window = { accountId: 1, fromMs: T0_HOUR - 400 * 24 * HOUR_MS, toMs: T0_HOUR, filters: {} };
    for (const dimension of REPORT_DIMENSIONS) planned.report({ ...window, groupBy: [dimension] });
    planned.report({ ...window, groupBy: ['day'], timeZone: 'America/New_York' });
    planned.report({
      ...window,
      groupBy: ['seat'],
      filters: {
        publisherId: '3',
        day: new Date(T0_HOUR - 24 * HOUR_MS - (T0_HOUR % (24 * HOUR_MS))).toISOString(),
      },
    });
    planned.report({ ...window, groupBy: ['hour'], publisherScope: { catalogId: '3', externalId: 'pub' } });
    db.prepare = prepare;
    const reads = statements.filter((sql) => sql.includes('FROM rollup_hourly'));
    assert.equal(reads.length, REPORT_DIMENSIONS.length + 3);
    const plans = reads.map((sql) => {
      const parameters = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[];
      return plan
        .map((step) => step.detail)
        .filter((detail) => /\b(rollup_hourly|event_rows|event_dims|events)\b/.test(detail))
        .join('; ');
    });
    planned.close();
    assert.deepEqual(
      plans.filter(
        (plan) =>
          !/^SEARCH rollup_hourly USING INDEX rollup_hourly_account \(account_id=\? AND hour_ms/.test(plan),
      ),
      [],
    );
  });

  it('prunes raw events that did not count and delivered or redirected burls after the retention, but keeps the billing records', () => {
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    const redirected = { url: 'r', deadlineMs: T0, redirected: true } as const;
    ledger.record([
      event({ dedupe: { key: 'p1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p2', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p3', expiresMs: T0 + 1 }, delivery: redirected }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
    ]);
    ledger.record([event({ receivedMs: T0 + 60_000 })]);
    // The newest delivery, kept as the newest always is (see below).
    ledger.record([event({ receivedMs: T0 + 60_000, dedupe: { key: 'p4', expiresMs: T0 + 1 }, delivery })]);
    const [first] = ledger.leaseDeliveries(T0, 1, 5000);
    ledger.markDelivered(first?.id ?? 0, T0);
    assert.deepEqual(ledger.prune(T0 + 1, 100), { events: 1, deliveries: 2, done: true });
    assert.deepEqual(ledger.countEvents(), { total: 5, counted: 5 });
    assert.equal(ledger.listDeliveries(1, 'pending', 10).length, 2, 'pending deliveries stay');
  });

  it('answers the same report after pruning as before: reports read the rollups, which pruning leaves', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 30; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000, dedupe: { key: `r${minute}`, expiresMs: T0 + HOUR_MS } }),
        event({ receivedMs: T0 + minute * 60_000, outcome: bot, servedHourMs: T0_HOUR + HOUR_MS }),
      ]);
    }
    const query = {
      ...HOUR_AROUND_T0,
      toMs: T0_HOUR + 2 * HOUR_MS,
      groupBy: ['hour', 'outcome', 'reason'] as const,
    };
    const before = ledger.report(query);
    assert.equal(
      ledger.prune(T0 + 1000 * 60_000, 1000).events,
      29,
      'every event that did not count but the newest',
    );
    assert.deepEqual(ledger.report(query), before);
    assert.deepEqual(
      before.map((row) => [row.outcome, row.events, row.priceMicros]),
      [
        ['counted', 30, 30_000_000],
        ['not_counted', 30, 0],
      ],
    );
  });

  it('prunes exactly the events received before the cutoff, found by id without a time index', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 50; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000, outcome: bot }),
        event({ receivedMs: T0 + minute * 60_000 }),
      ]);
    }
    assert.deepEqual(ledger.prune(T0 + 20 * 60_000, 1000), { events: 20, deliveries: 0, done: true });
    assert.equal(ledger.prune(T0 + 20 * 60_000, 1000).events, 0, 'nothing left before the cutoff');
    assert.equal(ledger.prune(T0 + 1000 * 60_000, 1000).events, 30);
    assert.deepEqual(ledger.countEvents(), { total: 50, counted: 50 });
  });

  it('counts the deliveries of one status through the status index, never reading the others', () => {
    const steps = (
      ledger['db']
        .prepare(`EXPLAIN QUERY PLAN ${ledger['deliveries']['deliveriesWithStatus'].source}`)
        .all('dead') as {
        detail: string;
      }[]
    ).map((step) => step.detail);
    assert.match(steps.join('; '), /^SEARCH deliveries USING (COVERING )?INDEX \w+ \(status=\?\)/);
  });

  it('finds the first and last event or delivery ids for a pruning step or a window from the ends of the table, never scanning it', () => {
    for (const table of ['event_rows', 'deliveries'] as const) {
      const steps = (
        ledger['db'].prepare(`EXPLAIN QUERY PLAN ${idBoundsSql(table)}`).all() as {
          detail: string;
        }[]
      ).map((step) => step.detail);
      assert.notEqual(steps.length, 0, `${table}: the query plan has steps`);
      for (const step of steps) assert.doesNotMatch(step, new RegExp(`^SCAN ${table}`), steps.join('; '));
    }
  });

  it('prunes in bounded steps, each resuming where the last stopped, past the billing records it keeps', () => {
    const bot = invalidTraffic('bot_user_agent');
    for (let minute = 0; minute < 60; minute++) {
      ledger.record([
        event({ receivedMs: T0 + minute * 60_000 }),
        event({ receivedMs: T0 + minute * 60_000, outcome: bot }),
      ]);
    }
    const steps = [];
    for (let step = ledger.prune(T0 + 45 * 60_000, 10); ; step = ledger.prune(T0 + 45 * 60_000, 10)) {
      steps.push(step);
      if (step.done) break;
    }
    assert.equal(steps.length, 10, 'ids 1 to 90 precede the cutoff: ten windows of ten ids from id 0');
    assert.deepEqual(
      steps.filter((step) => step.events > 10),
      [],
      'no step prunes more than its window of ten ids',
    );
    assert.equal(
      steps.reduce((sum, step) => sum + step.events, 0),
      45,
    );
    assert.deepEqual(ledger.countEvents(), { total: 75, counted: 60 });
  });

  it('seeks the claims index to the load time as a start loads the claims, so that it reads the live claims alone, not every claim that ever ended', () => {
    const path = join(dir, `claims-load-plan-${++sequence}.db`);
    const db = openSqlite(path);
    new SqliteLedger(db).record([event({ dedupe: { key: 'ended', expiresMs: T0 + 1 } })]);
    // A new start on that ledger: its claims are not loaded yet.
    const loading = new SqliteLedger(db);
    const statements: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    };
    loading.loadClaims(T0 + HOUR_MS);
    db.prepare = prepare;
    // The seek into the index of claims of each statement reading it: SeekGE to the load time
    // (its parameter), where a SeekGT past 0 would read every claim kept, ended or not.
    const seeks = statements
      .filter((sql) => sql.includes('claim_expires_ms >'))
      .map((sql) =>
        (db.prepare(`EXPLAIN ${sql}`).all(T0) as { opcode: string }[])
          .map((step) => step.opcode)
          .filter((opcode) => opcode.startsWith('Seek') && opcode !== 'SeekRowid'),
      );
    loading.close();
    assert.deepEqual(seeks, [['SeekGE'], ['SeekGE']]);
  });

  it('reads no ledger table whole in a pruning step, so that a step costs its own rows, not the ledger’s dimensions or events', () => {
    const path = join(dir, `prune-plan-${++sequence}.db`);
    const db = openSqlite(path);
    const planned = new SqliteLedger(db);
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    planned.record([
      event({ dedupe: { key: 'p1', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'p2', expiresMs: T0 + 1 }, delivery }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
    ]);
    // The newest event, which pruning keeps.
    planned.record([event({ receivedMs: T0 + 60_000 })]);
    const [leased] = planned.leaseDeliveries(T0, 1, 5000);
    planned.markDelivered(leased?.id ?? 0, T0);
    planned.loadClaims(T0 + HOUR_MS);
    const statements: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    };
    assert.deepEqual(planned.prune(T0 + 1, 100, T0 + HOUR_MS), { events: 1, deliveries: 1, done: true });
    db.prepare = prepare;
    const scans = statements.flatMap((sql) => {
      const parameters = Array.from({ length: (sql.match(/\?/g) ?? []).length }, () => 0);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...parameters) as { detail: string }[];
      return plan
        .map((step) => step.detail)
        .filter((detail) => /^SCAN (event_rows|event_dims|deliveries|rollup_hourly)\b/.test(detail))
        .map((detail) => `${detail}: ${sql.replace(/\s+/g, ' ')}`);
    });
    planned.close();
    assert.deepEqual(scans, []);
  });

  it('keeps the newest delivery, so that a new delivery never takes the id of one pruned (its X-Tally-Delivery-Id)', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(['d1', 'd2'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const leased = ledger.leaseDeliveries(T0, 10, 5000);
    for (const { id } of leased) ledger.markDelivered(id, T0);
    assert.equal(ledger.prune(T0 + 1, 100).deliveries, 1, 'the older delivered one goes');
    ledger.record([
      event({ receivedMs: T0 + 60_000, dedupe: { key: 'd3', expiresMs: T0 + HOUR_MS }, delivery }),
    ]);
    const [fresh] = ledger.leaseDeliveries(T0 + 60_000, 10, 5000);
    assert.ok(fresh !== undefined, 'the new delivery is leased');
    assert.ok(
      leased.every(({ id }) => id < fresh.id),
      `a new impression's delivery ${fresh.id} must not reuse a pruned one's id (${leased.map(({ id }) => id).join(', ')})`,
    );
  });

  it('gives a delivery made by a ledger restored from a backup an id above those made after the backup (X-Tally-Delivery-Ids the DSP saw)', () => {
    const path = join(dir, `restored-${++sequence}.db`);
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
    const path = join(dir, `restored-${++sequence}.db`);
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
    const path = join(dir, `floor-${++sequence}.db`);
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
    const late = new SqliteLedger(openSqlite(join(dir, `late-${++sequence}.db`)), Date.UTC(2286, 0, 1));
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
    const plain = new SqliteLedger(openSqlite(join(dir, `plain-${++sequence}.db`)));
    plain.record([
      event({ dedupe: { key: 'now', expiresMs: T0 + 1 }, delivery: { url: 'u', deadlineMs: T0 + HOUR_MS } }),
    ]);
    const [delivery] = plain.leaseDeliveries(T0, 10, 5000);
    assert.ok(delivery !== undefined, 'the delivery is leased');
    assert.ok(delivery.id >= before * 100, `${delivery.id} is at least ${before * 100}`);
    plain.close();
  });

  it('keeps the newest event, so that new events never take an id below where pruning has been', () => {
    const bot = invalidTraffic('bot_user_agent');
    ledger.record([event(), event({ outcome: bot })]);
    assert.equal(ledger.prune(T0 + 60_000, 100).events, 0, 'the newest event stays');
    ledger.record([event({ receivedMs: T0 + 120_000, outcome: bot })]);
    assert.equal(ledger.prune(T0 + 60_000, 100).events, 1, 'no longer the newest, it goes');
    assert.deepEqual(ledger.countEvents(), { total: 2, counted: 1 });
  });

  it('keeps a claim made earlier in the batch live up to its expiry instant, and lets it be taken after', () => {
    const expiresMs = T0 + 600_000;
    // Notices of one win, its claim lasting to `expiresMs`; the last comes just after.
    const notice = (receivedMs: number) => event({ receivedMs, dedupe: { key: 'edge', expiresMs } });
    const afterExpiry = event({
      receivedMs: expiresMs + 1,
      dedupe: { key: 'edge', expiresMs: T0 + HOUR_MS },
    });
    assert.deepEqual(ledger.record([notice(T0), notice(expiresMs), afterExpiry]), [
      COUNTED,
      notCounted('duplicate'),
      COUNTED,
    ]);
  });

  it('lets a new claim take a key whose claim expired (the token’s TTL decides what is late), but not count again an impression whose burl it queued or redirected to: the DSP is told once and billed once', () => {
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const redirect = (receivedMs: number) =>
      ({ url: 'https://dsp.example/r', deadlineMs: receivedMs, redirected: true }) as const;
    assert.deepEqual(
      ledger.record([
        event({ dedupe: { key: 'again', expiresMs: T0 + 1 }, delivery }),
        event({ dedupe: { key: 'no-burl', expiresMs: T0 + 1 } }),
        event({ dims: burlDims, dedupe: { key: 'redirected', expiresMs: T0 + 1 }, delivery: redirect(T0) }),
      ]),
      [COUNTED, COUNTED, COUNTED],
    );
    // The same wins registered again, with a later auction time, fired after the claims expired.
    const later = T0 + 2;
    assert.deepEqual(
      ledger.record([
        event({ receivedMs: later, dedupe: { key: 'again', expiresMs: later + 600_000 }, delivery }),
        event({ receivedMs: later, dedupe: { key: 'no-burl', expiresMs: later + 600_000 } }),
        event({ receivedMs: later, dedupe: { key: 'other', expiresMs: later + 600_000 } }),
        // Redirected again, as a repeat of the count is, with the impression's time.
        event({
          receivedMs: later,
          dims: burlDims,
          dedupe: { key: 'redirected', expiresMs: later + 600_000 },
          delivery: redirect(later),
        }),
        // The same impression's burl fired by a win whose DSP burl Tally would relay from the outbox.
        event({ receivedMs: later, dedupe: { key: 'redirected', expiresMs: later + 600_000 }, delivery }),
      ]),
      [
        notCounted('duplicate'),
        COUNTED,
        COUNTED,
        duplicateOfRedirect(T0, redirect(T0).url),
        notCounted('duplicate'),
      ],
    );
    assert.deepEqual(
      ledger
        .listDeliveries(1, undefined, 10)
        .map((row) => [row.dedupeKey, row.status, row.createdMs, row.deliveredMs]),
      [
        ['redirected', 'redirected', T0, T0],
        ['again', 'pending', T0, null],
      ],
    );
    assert.deepEqual(ledger.countEvents(), { total: 8, counted: 5 });
  });

  it('leases the deliveries that fell due first before later ones, whatever order they were queued in', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record([
      event({ receivedMs: T0 + 50, dedupe: { key: 'queued-first', expiresMs: T0 + 1 }, delivery }),
    ]);
    ledger.record([event({ receivedMs: T0, dedupe: { key: 'due-first', expiresMs: T0 + 1 }, delivery })]);
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 100, 1, 5000).map((leased) => leased.dedupeKey),
      ['due-first'],
    );
  });

  it('loads the claims live when the last notice was received, when its clock is ahead at start: a repeat once the clock is set back is a duplicate', () => {
    const path = join(dir, `ledger-${sequence}.db`);
    const expiresMs = T0 + 600_000;
    assert.deepEqual(ledger.record([event({ dedupe: { key: 'k', expiresMs } })]), [COUNTED]);
    // Restarted a minute after the claim's expiry by a clock that is that much ahead.
    const restarted = new SqliteLedger(openSqlite(path));
    restarted.loadClaims(expiresMs + 60_000);
    assert.deepEqual(
      restarted.record([event({ receivedMs: expiresMs - 30_000, dedupe: { key: 'k', expiresMs } })]),
      [notCounted('duplicate')],
    );
    assert.equal(restarted.newestReceivedMs(), expiresMs - 30_000);
  });

  it('records an event whose dims another connection added since this one read them, rather than fail every batch', () => {
    const path = join(dir, `ledger-${sequence}.db`);
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

  it('reports invalid traffic by the rule that matched it, and no rule on the other rows', () => {
    ledger.record([
      event({ outcome: invalidTraffic('bot_user_agent') }),
      event({ outcome: invalidTraffic('bot_user_agent') }),
      event({ outcome: invalidTraffic('head_request') }),
      event(),
    ]);
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['reason', 'ivtRule'] })
        .map((row) => [row.reason, row.ivtRule, row.events]),
      [
        ['', '', 1],
        ['invalid_traffic', 'bot_user_agent', 2],
        ['invalid_traffic', 'head_request', 1],
      ],
    );
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: [], filters: { ivtRule: 'head_request' } })
        .map((row) => row.events),
      [1],
    );
  });

  it('reports VAST error notices by their code, no code on the other rows, through the rollups that pruning leaves', () => {
    const vastError = (code: number | null, receivedMs = T0) =>
      event({
        receivedMs,
        outcome: notCounted('not_billing_method'),
        dims: { ...event().dims, kind: 'vast_error', method: 'vast', vastError: code },
      });
    // Notices that differ in their code alone, one after the other in a batch, and in two batches.
    ledger.record([vastError(303), vastError(402), vastError(303), vastError(null)]);
    const impression = (receivedMs: number) => event({ receivedMs, dims: { ...event().dims, kind: 'vast' } });
    ledger.record([vastError(402), impression(T0 + 1)]);
    const byCode = { ...HOUR_AROUND_T0, groupBy: ['notice', 'vastError'] as const };
    const expected = [
      ['vast', '', 1],
      ['vast_error', '', 1],
      ['vast_error', 303, 2],
      ['vast_error', 402, 2],
    ];
    const rows = () => ledger.report(byCode).map((row) => [row.notice, row.vastError, row.events]);
    assert.deepEqual(rows(), expected);
    const filtered = (vastError: string) =>
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['notice'], filters: { vastError } })
        .map((row) => [row.notice, row.events]);
    assert.deepEqual(filtered('303'), [['vast_error', 2]]);
    assert.deepEqual(filtered(''), [
      ['vast', 1],
      ['vast_error', 1],
    ]);
    assert.deepEqual(filtered('900'), []);
    const reader = new Database(join(dir, `ledger-${sequence}.db`), { readonly: true });
    assert.deepEqual(reader.prepare('SELECT kind, vast_error FROM events ORDER BY id').raw().all(), [
      ['vast_error', 303],
      ['vast_error', 402],
      ['vast_error', 303],
      ['vast_error', null],
      ['vast_error', 402],
      ['vast', null],
    ]);
    reader.close();
    // The raw VAST error notices, which never count, go at the retention; their codes stay reported.
    ledger.record([impression(T0 + HOUR_MS)]);
    assert.equal(ledger.prune(T0 + HOUR_MS, 100).events, 5);
    assert.deepEqual(rows(), [['vast', '', 2], ...expected.slice(1)]);
  });

  it('keeps apart VAST error notices that differ in their code alone, one right after the other in a batch, in any order', () => {
    const vastError = (code: number | null) =>
      event({
        outcome: notCounted('not_billing_method'),
        dims: { ...event().dims, kind: 'vast_error', method: 'vast', vastError: code },
      });
    const codes = [null, 303, null, 402, 303, 402, null];
    ledger.record(codes.map(vastError));
    const reader = new Database(join(dir, `ledger-${sequence}.db`), { readonly: true });
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

  it('replays the dead deliveries of one account, host (on any port, with any user name) or window of counting alone, and only counts them on a dry run', () => {
    const dead = (key: string, url: string, receivedMs: number, accountId = 1) =>
      event({
        receivedMs,
        dims: { ...event().dims, accountId },
        dedupe: { key, expiresMs: receivedMs + 1 },
        delivery: { url, deadlineMs: T0 + 1000 },
      });
    ledger.record([
      dead('a', 'https://DSP.example/b', T0),
      dead('b', 'https://dsp.example:8443/b', T0 + HOUR_MS),
      dead('c', 'https://dsp.example.net/b', T0 + 2 * HOUR_MS),
      dead('d', 'https://other.example/b', T0 + 3 * HOUR_MS, 2),
      dead('e', 'https://user@dsp.example/b', T0 + 3 * HOUR_MS, 2),
      dead('f', 'https://a@b@dsp.example/b', T0 + 3 * HOUR_MS, 3),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + 4 * HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    /** The deliveries pending and not yet seen: each is leased as it is seen, hiding it after. */
    const pendingKeys = () =>
      ledger
        .leaseDeliveries(T0 + 5 * HOUR_MS, 10, 1)
        .map((row) => row.dedupeKey)
        .sort();
    const replay = (filter: DeadDeliveryFilter) =>
      ledger.replayDead(ledger.deadDeliveries(filter), T0 + 5 * HOUR_MS, T0 + 8 * HOUR_MS);
    assert.equal(
      ledger.deadDeliveries({ host: { hostname: 'dsp.example' } }).length,
      4,
      'with a user name too, up to its last @',
    );
    assert.deepEqual(pendingKeys(), [], 'reading the ids changes nothing');
    assert.equal(
      replay({ host: { hostname: 'dsp.example' }, createdFromMs: T0 + 1, createdToMs: T0 + 2 * HOUR_MS }),
      1,
    );
    assert.deepEqual(pendingKeys(), ['b']);
    assert.equal(replay({ accountId: 2 }), 2);
    assert.deepEqual(pendingKeys(), ['d', 'e']);
    assert.equal(replay({ createdToMs: T0 + 1 }), 1);
    assert.deepEqual(pendingKeys(), ['a']);
    assert.equal(replay({ accountId: 3 }), 1);
    assert.deepEqual(pendingKeys(), ['f']);
    assert.equal(replay({}), 1);
    assert.deepEqual(pendingKeys(), ['c']);
  });

  it('replays the dead deliveries counted from its from, inclusive, up to its to, exclusive', () => {
    ledger.record([
      queued('at-from', 'https://dsp.example/b', T0),
      queued('at-to', 'https://dsp.example/b', T0 + HOUR_MS),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + 2 * HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    const [atTo, atFrom] = ledger.listDeliveries(1, 'dead', 10);
    assert.deepEqual([atFrom?.dedupeKey, atTo?.dedupeKey], ['at-from', 'at-to']);
    const idsFrom = (filter: DeadDeliveryFilter) => ledger.deadDeliveries(filter).map(({ id }) => id);
    assert.deepEqual(idsFrom({ createdFromMs: T0, createdToMs: T0 + HOUR_MS }), [atFrom?.id]);
    assert.deepEqual(idsFrom({ createdFromMs: T0 + HOUR_MS }), [atTo?.id]);
  });

  it('replays the dead deliveries of a host however their burls spell it: punycode or Unicode, a final dot, an IPv6 address', () => {
    const dead = (key: string, url: string) =>
      event({ dedupe: { key, expiresMs: T0 + 1 }, delivery: { url, deadlineMs: T0 + 1000 } });
    ledger.record([
      dead('unicode', 'https://bücher.example/b'),
      dead('punycode', 'https://xn--bcher-kva.example:8443/b'),
      dead('final-dot', 'https://bücher.example./b'),
      dead('ipv6', 'https://[2001:db8::1]/b'),
      dead('other', 'https://other.example/b'),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 10, 5000))
      ledger.markFailed(leased.id, 'HTTP 500', null);
    const replay = (host: string) => ledger.deadDeliveries({ host: parseBurlHost(host) }).length;
    assert.equal(replay('xn--bcher-kva.example'), 3);
    assert.equal(replay('bücher.example.'), 3);
    assert.equal(replay('2001:db8::1'), 1);
  });

  it('replays the dead deliveries of an address however the burl and the option spell it, as URL parsing reads both', () => {
    const replay = deadBurlsReplayedFor({
      short: 'http://127.1/b',
      ported: 'http://127.0.0.1:8080/b',
      hex: 'http://0x7f.0.0.1/b',
      mapped: 'https://[::ffff:127.0.0.1]/b',
      'mapped-hex': 'https://[::FFFF:7F00:1]:443/b',
      other: 'https://127.0.0.2/b',
    });
    for (const host of ['127.0.0.1', '127.1', '0x7f.0.0.1', '2130706433'])
      assert.deepEqual(replay(host), ['hex', 'ported', 'short'], host);
    assert.deepEqual(replay('127.1:80'), ['hex', 'short']);
    for (const host of ['[::ffff:7f00:1]', '::ffff:127.0.0.1', '[::FFFF:127.0.0.1]:443'])
      assert.deepEqual(replay(host), ['mapped', 'mapped-hex'], host);
  });

  it('replays for a host on port 443 or 80 the dead burls of that scheme, in any case, that write no port, and for another port none of them', () => {
    const replay = deadBurlsReplayedFor({
      https: 'https://dsp.example/b',
      'upper-case': 'HTTPS://dsp.example/b',
      'https-443': 'https://dsp.example:443/b',
      http: 'http://dsp.example/b',
      'http-8080': 'http://dsp.example:8080/b',
    });
    assert.deepEqual(replay('dsp.example:443'), ['https', 'https-443', 'upper-case']);
    assert.deepEqual(replay('dsp.example:80'), ['http']);
    // 8080 is not 80: only the burl naming it.
    assert.deepEqual(replay('dsp.example:8080'), ['http-8080']);
  });

  it('replays only dead deliveries, as new ones: first attempt, the new deadline, due now', () => {
    const delivery = { url: 'u', deadlineMs: T0 + 1000 };
    ledger.record([
      event({ dedupe: { key: 'will-die', expiresMs: T0 + 1 }, delivery }),
      event({ dedupe: { key: 'delivered', expiresMs: T0 + 1 }, delivery }),
    ]);
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) {
      if (leased.dedupeKey === 'delivered') ledger.markDelivered(leased.id, T0);
      else ledger.markFailed(leased.id, 'HTTP 500', T0 + 100);
    }
    const [again] = ledger.leaseDeliveries(T0 + 100, 10, 5000);
    ledger.markFailed(again?.id ?? 0, 'HTTP 500', null);
    assert.equal(ledger.replayDead(ledger.deadDeliveries(), T0 + 2000, T0 + 2000 + 3 * HOUR_MS), 1);
    assert.deepEqual(ledger.countDeliveries(), { pending: 1, delivered: 1, dead: 0, redirected: 0 });
    // Ids read as dead before another replay made them pending, or delivered: left as they are,
    // never called again.
    const all = ledger.listDeliveries(1, undefined, 10).map((row) => ({ id: row.id, firstFailedMs: null }));
    assert.equal(ledger.replayDead(all, T0 + 2000, T0 + 2000 + 3 * HOUR_MS), 0);
    assert.deepEqual(ledger.countDeliveries(), { pending: 1, delivered: 1, dead: 0, redirected: 0 });
    const replayed = ledger.leaseDeliveries(T0 + 2000, 10, 5000);
    assert.deepEqual(
      replayed.map((row) => [row.dedupeKey, row.attempts, row.dueMs, row.deadlineMs]),
      [['will-die', 1, T0 + 2000, T0 + 2000 + 3 * HOUR_MS]],
    );
  });

  it('replays a dead delivery by a seek on its id, never a walk of the dead ones: a step costs what it replays', () => {
    // Walking the dead deliveries for each one replayed held the write lock 178 s a step of 5000
    // on a ledger with 100 000 dead.
    const replayOne = ledger['deliveries']['replayOne'];
    const plan = (
      ledger['db']
        .prepare(`EXPLAIN QUERY PLAN ${replayOne.source}`)
        .all({ nowMs: T0, deadlineMs: T0, id: 1, firstFailedMs: null }) as { detail: string }[]
    ).map((step) => step.detail);
    assert.deepEqual(plan, ['SEARCH deliveries USING INTEGER PRIMARY KEY (rowid=?)']);
  });

  it('counts the deliveries kept by status, and clears the last error of one delivered after failing', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(
      ['p1', 'p2', 'ok', 'gone'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })),
    );
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) {
      if (leased.dedupeKey === 'gone') ledger.markFailed(leased.id, 'HTTP 410', null);
      else ledger.markFailed(leased.id, 'HTTP 500', T0 + 10);
    }
    const ok = ledger.leaseDeliveries(T0 + 10, 10, 5000).find((leased) => leased.dedupeKey === 'ok');
    ledger.markDelivered(ok?.id ?? 0, T0 + 10);
    assert.deepEqual(ledger.countDeliveries(), { pending: 2, delivered: 1, dead: 1, redirected: 0 });
    assert.deepEqual(
      ledger.listDeliveries(1, 'delivered', 10).map((row) => [row.dedupeKey, row.lastError, row.deliveredMs]),
      [['ok', '', T0 + 10]],
    );
  });

  it('pages through all of an account’s deliveries without repeating the last of a page', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(['a', 'b', 'c'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })));
    const firstPage = ledger.listDeliveries(1, undefined, 2);
    assert.deepEqual(
      firstPage.map((row) => row.dedupeKey),
      ['c', 'b'],
    );
    assert.deepEqual(
      ledger.listDeliveries(1, undefined, 2, { afterId: firstPage.at(-1)?.id }).map((row) => row.dedupeKey),
      ['a'],
    );
  });

  it('pages through one auction’s deliveries without repeating the last of a page, and lists those counted before its to alone', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    const key = (imp: string) => `${impressionKey({ ...bannerClaims(), auctionId: 'auc-1', impId: imp })}`;
    ledger.record(
      ['1', '2', '3'].map((imp, n) =>
        event({ receivedMs: T0 + n * 1000, dedupe: { key: key(imp), expiresMs: T0 + HOUR_MS }, delivery }),
      ),
    );
    const keysOf = (rows: { dedupeKey: string }[]) => rows.map((row) => row.dedupeKey);
    const firstPage = ledger.listDeliveries(1, undefined, 2, { auctionId: 'auc-1' });
    assert.deepEqual(keysOf(firstPage), [key('3'), key('2')]);
    assert.deepEqual(
      keysOf(ledger.listDeliveries(1, undefined, 2, { auctionId: 'auc-1', afterId: firstPage.at(-1)?.id })),
      [key('1')],
    );
    assert.deepEqual(
      keysOf(ledger.listDeliveries(1, undefined, 10, { auctionId: 'auc-1', createdToMs: T0 + 1000 })),
      [key('1')],
      'to is exclusive',
    );
  });

  it('lists the deliveries of a window of time though a clock stepped back a few minutes queued them out of order', () => {
    const MINUTE_MS = 60_000;
    ledger.record([
      queued('before', 'https://dsp.example/b', T0),
      queued('in-window', 'https://dsp.example/b', T0 + 5 * MINUTE_MS),
      // The clock stepped back four minutes.
      queued('stepped-back', 'https://dsp.example/b', T0 + MINUTE_MS),
      queued('last', 'https://dsp.example/b', T0 + 6 * MINUTE_MS),
    ]);
    assert.deepEqual(
      ledger
        .listDeliveries(1, undefined, 10, { createdFromMs: T0 + 2 * MINUTE_MS })
        .map((row) => row.dedupeKey),
      ['last', 'in-window'],
    );
  });

  it('leases no more deliveries than its limit, however many calls are in flight', () => {
    ledger.record([1, 2, 3, 4].map((n) => queued(`d${n}`, `https://dsp${n}.example/bill`, T0 + n)));
    // Calls in flight hold leases, so none of them is among the deliveries due.
    const twoInFlight = { ids: new Set([998, 999]), byHost: new Map(), hostLimit: () => 10 };
    assert.deepEqual(
      ledger.leaseDeliveries(T0 + 10, 2, 1000, twoInFlight).map((delivery) => delivery.dedupeKey),
      ['d1', 'd2'],
    );
  });

  it('leases host by host past a call in flight whose lease ran out, as many as its host has room for, and not that one', () => {
    ledger.record([
      ...[1, 2, 3].map((n) => queued(`hung-${n}`, `https://hung.example/bill?n=${n}`, T0 + n)),
      ...[1, 2, 3].map((n) => queued(`other-${n}`, `https://other.example/bill?n=${n}`, T0 + 3 + n)),
    ]);
    const hungFull = (otherCalls: number) => ({
      byHost: new Map([
        ['https://hung.example', 1],
        ['https://other.example', otherCalls],
      ]),
      hostLimit: (host: string) => (host === 'https://hung.example' ? 1 : 3),
    });
    const [first] = ledger.leaseDeliveries(T0 + 4, 1, 1, { ids: new Set(), ...hungFull(0) });
    assert.equal(first?.dedupeKey, 'other-1');
    // Its call is still in flight when its lease runs out (the clock stepped past it).
    const leased = ledger.leaseDeliveries(T0 + 20, 2, 1000, {
      ids: new Set([first?.id ?? 0]),
      ...hungFull(1),
    });
    assert.deepEqual(
      leased.map((delivery) => delivery.dedupeKey),
      ['other-2', 'other-3'],
    );
  });

  /**
   * Records an impression counted on the publisher's burl with a TTL of 7 days (a `TALLY_RULES`
   * TTL longer than a retention of 1 day), its DSP burl queued (not redirected) and delivered, then
   * a newer delivery, so that the delivered one is not the newest (which is always kept).
   */
  function deliveredLongTtlBurl() {
    const DAY_MS = 24 * HOUR_MS;
    const claim = { key: 'long-ttl', expiresMs: T0 + 7 * DAY_MS };
    const burlDims = { ...event().dims, kind: 'burl' as const, method: 'burl' as const };
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    assert.deepEqual(ledger.record([event({ dims: burlDims, dedupe: claim, delivery })]), [COUNTED]);
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) ledger.markDelivered(leased.id, T0);
    ledger.record([
      event({ receivedMs: T0 + HOUR_MS, dedupe: { key: 'newer', expiresMs: T0 + 2 * HOUR_MS }, delivery }),
    ]);
    return { DAY_MS, claim, burlDims, delivery };
  }

  it("keeps a delivered burl past the retention while its claim lives, so that a repeat of the publisher's burl is a plain duplicate, never a second 302 to the DSP", () => {
    const { DAY_MS, claim, burlDims, delivery } = deliveredLongTtlBurl();
    const pruneAtMs = T0 + 2 * DAY_MS;
    assert.equal(ledger.prune(pruneAtMs - DAY_MS, 100, pruneAtMs).deliveries, 0, 'its claim lives');
    assert.equal(ledger.countDeliveries().delivered, 1);
    const repeat = event({
      receivedMs: pruneAtMs + 1,
      dims: burlDims,
      dedupe: claim,
      delivery: { ...delivery, redirected: true },
    });
    assert.deepEqual(ledger.record([repeat]), [notCounted('duplicate')]);
    // Once the claim has expired, the delivery goes at the next pass.
    const laterMs = claim.expiresMs + CLAIM_LOAD_MARGIN_MS + 1;
    assert.equal(ledger.prune(laterMs - DAY_MS, 100, laterMs).deliveries, 1, 'its claim has ended');
  });

  it('keeps a delivered burl whose claim lives by a clock stepped back after the index dropped the claim ahead', () => {
    const { DAY_MS, claim } = deliveredLongTtlBurl();
    // The clock steps a week and more forward: by it the claim has expired, and enough new claims
    // come that the index reuses its slot and replaces its table.
    const aheadMs = claim.expiresMs + 3 * HOUR_MS;
    for (let index = 0; index < 64; index++) {
      const other = event({
        receivedMs: aheadMs,
        dims: { ...event().dims, auctionId: `ahead-${index}` },
        dedupe: { key: `ahead-${index}`, expiresMs: aheadMs + 600_000 },
      });
      assert.deepEqual(ledger.record([other]), [COUNTED]);
    }
    // Stepped back to the right time, a pass prunes: the claim lives, so its delivery stays.
    const pruneAtMs = T0 + 2 * DAY_MS;
    assert.equal(ledger.prune(pruneAtMs - DAY_MS, 100, pruneAtMs).deliveries, 0, 'its claim lives');
    assert.equal(ledger.countDeliveries().delivered, 1);
  });

  it('prunes the delivered burls whose claims have ended behind more kept ones than a step reads', () => {
    const DAY_MS = 24 * HOUR_MS;
    const delivery = { url: 'https://dsp.example/b', deadlineMs: T0 + 3 * HOUR_MS };
    // The oldest ones under a TTL of 7 days; after them, ones under a TTL of ten minutes.
    const keys = [...['a', 'b', 'c', 'd', 'e'].map((key) => `long-${key}`), 'short-1', 'short-2', 'short-3'];
    keys.forEach((key, index) => {
      const expiresMs = T0 + index + (key.startsWith('long') ? 7 * DAY_MS : 600_000);
      ledger.record([event({ receivedMs: T0 + index, dedupe: { key, expiresMs }, delivery })]);
    });
    ledger.record([
      event({ receivedMs: T0 + HOUR_MS, dedupe: { key: 'newest', expiresMs: T0 + 2 * HOUR_MS }, delivery }),
    ]);
    for (const leased of ledger.leaseDeliveries(T0 + HOUR_MS, 100, 5000))
      ledger.markDelivered(leased.id, T0 + HOUR_MS);
    const pruneAtMs = T0 + 2 * DAY_MS;
    let deliveries = 0;
    for (let steps = 0; steps < 20; steps++) {
      const step = ledger.prune(pruneAtMs - DAY_MS, 2, pruneAtMs);
      deliveries += step.deliveries;
      if (step.done) break;
    }
    assert.equal(deliveries, 3, 'the three whose claims ended are pruned in the pass');
    // The five whose claims live stay, and the newest.
    assert.equal(ledger.countDeliveries().delivered, 6);
  });

  it('says a prune pass is not done while delivered burls past the retention remain beyond its step', () => {
    const delivery = { url: 'u', deadlineMs: T0 + HOUR_MS };
    ledger.record(
      ['x1', 'x2', 'x3', 'x4'].map((key) => event({ dedupe: { key, expiresMs: T0 + 1 }, delivery })),
    );
    // A pass while they were pending has already been through the events.
    assert.deepEqual(ledger.prune(T0 + 1, 10), { events: 0, deliveries: 0, done: true });
    for (const leased of ledger.leaseDeliveries(T0, 10, 5000)) ledger.markDelivered(leased.id, T0);
    assert.deepEqual(ledger.prune(T0 + 1, 2), { events: 0, deliveries: 2, done: false });
    assert.deepEqual(ledger.prune(T0 + 1, 2), { events: 0, deliveries: 1, done: true });
    assert.equal(ledger.countDeliveries().delivered, 1, 'the newest is kept');
  });

  it('reports by UTC day: the hours of one day add into one row, named by its midnight, and filter by it', () => {
    const dayStart = T0_HOUR - (T0_HOUR % 86_400_000);
    ledger.record([
      event({ servedHourMs: dayStart }),
      event({ servedHourMs: dayStart + 23 * HOUR_MS }),
      event({ servedHourMs: dayStart + 24 * HOUR_MS }),
    ]);
    const query = { accountId: 1, fromMs: dayStart, toMs: dayStart + 2 * 86_400_000, filters: {} };
    assert.deepEqual(
      ledger.report({ ...query, groupBy: ['day'] }).map((row) => [row.day, row.events]),
      [
        [new Date(dayStart).toISOString(), 2],
        [new Date(dayStart + 86_400_000).toISOString(), 1],
      ],
    );
    const secondDay = new Date(dayStart + 86_400_000).toISOString();
    assert.equal(ledger.report({ ...query, groupBy: [], filters: { day: secondDay } })[0]?.events, 1);
  });

  it('reports profit as revenue less media cost', () => {
    ledger.record([
      event({ mediaCostMicros: 200_000, revenueMicros: 500_000 }),
      event({ mediaCostMicros: 300_000, revenueMicros: 100_000, dims: { ...event().dims, seat: 'loss' } }),
    ]);
    const rows = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['seat'] });
    assert.deepEqual(
      rows.map((row) => [row.seat, row.mediaCostMicros, row.revenueMicros, row.profitMicros]),
      [
        ['loss', 300_000, 100_000, -200_000],
        ['seat', 200_000, 500_000, 300_000],
      ],
    );
  });

  it('neither adds up an amount the caller is not shown nor a profit made of it: each comes as 0', () => {
    ledger.record([event({ mediaCostMicros: 200_000, revenueMicros: 500_000 })]);
    const amounts = (hiddenAmounts: ReportAmount[]) =>
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: [], hiddenAmounts })
        .map((row) => [row.priceMicros, row.mediaCostMicros, row.revenueMicros, row.profitMicros]);
    assert.deepEqual(amounts([]), [[1_000_000, 200_000, 500_000, 300_000]]);
    assert.deepEqual(amounts(['mediaCostMicros']), [[1_000_000, 0, 500_000, 0]]);
    assert.deepEqual(amounts(['revenueMicros']), [[1_000_000, 200_000, 0, 0]]);
  });

  /** A publisher of the test events' account (id 1, created first), in the ledger's database. */
  function catalogPublisher(name: string, externalId: string | null): string {
    const db = openSqlite(join(dir, `ledger-${sequence}.db`));
    const accounts = new SqliteAccountStore(db);
    if (accounts.getAccount(1) === undefined) assert.equal(accounts.createAccount('Operator', T0).id, 1);
    const created = new SqliteCatalogStore(db).publishers.create(1, { name, externalId }, T0);
    if (!created.ok) assert.fail(JSON.stringify(created));
    return String(created.value.id);
  }

  it('shows a publisher-scoped report its tracker rows by catalog id and its exchange rows by OpenRTB id, no others', () => {
    const own = catalogPublisher('Own', 'ortb-pub');
    const dims = event().dims;
    ledger.record([
      event({ dims: { ...dims, publisher: 'ortb-pub' } }),
      event({ dims: { ...dims, publisher: own, impressionType: 'external_impression' } }),
      // The same values on the other impression type: another publisher's rows.
      event({ dims: { ...dims, publisher: own } }),
      event({ dims: { ...dims, publisher: 'ortb-pub', impressionType: 'external_impression' } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType', 'publisherId'],
      publisherScope: { catalogId: own, externalId: 'ortb-pub' },
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.publisherId, row.events]),
      [
        ['exchange', Number(own), 1],
        ['external_impression', Number(own), 1],
      ],
    );
  });

  it('reports publisher as the OpenRTB publisher id and publisherId as the catalog publisher, on exchange and tracker rows alike', () => {
    const mapped = catalogPublisher('Mapped', 'ortb-pub');
    const unmapped = catalogPublisher('Unmapped', null);
    const dims = event().dims;
    const tracker = { ...dims, impressionType: 'external_impression' as const };
    ledger.record([
      event({ dims: { ...dims, publisher: 'ortb-pub' } }),
      // An OpenRTB publisher id no catalog publisher has, which looks like a catalog id.
      event({ dims: { ...dims, publisher: mapped } }),
      event({ dims: { ...tracker, publisher: mapped } }),
      event({ dims: { ...tracker, publisher: unmapped } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType', 'publisher', 'publisherId'],
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.publisher, row.publisherId, row.events]),
      [
        ['exchange', mapped, 0, 1],
        ['exchange', 'ortb-pub', Number(mapped), 1],
        ['external_impression', '', Number(unmapped), 1],
        ['external_impression', 'ortb-pub', Number(mapped), 1],
      ],
    );
    // Grouped by publisher alone, the rows of one OpenRTB id are one row, whatever their kind.
    const byPublisher = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['publisher'] });
    assert.deepEqual(
      byPublisher.map((row) => [row.publisher, row.events]),
      [
        ['', 1],
        [mapped, 1],
        ['ortb-pub', 2],
      ],
    );
    // One publisher's traffic of both kinds, by either id; never another publisher's.
    const byCatalog = ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisherId: mapped } });
    const byOpenRtb = ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisher: 'ortb-pub' } });
    assert.equal(byCatalog[0]?.events, 2);
    assert.equal(byOpenRtb[0]?.events, 2);
  });

  it('filters and shows the cachebusterMissing flag as the API writes it', () => {
    const dims = event().dims;
    ledger.record([event({ dims: { ...dims, cachebusterMissing: true } }), event(), event()]);
    const flagged = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['cachebusterMissing'],
      filters: { cachebusterMissing: 'true' },
    });
    assert.deepEqual(
      flagged.map((row) => [row.cachebusterMissing, row.events]),
      [[true, 1]],
    );
    const unflagged = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['cachebusterMissing'],
      filters: { cachebusterMissing: 'false' },
    });
    assert.deepEqual(
      unflagged.map((row) => [row.cachebusterMissing, row.events]),
      [[false, 2]],
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

  it('rebuilds the counted rollups of an older database by the hour each event was served, with all its amounts (migration 10)', () => {
    const path = join(dir, 'currency-upgrade-hours.db');
    const old = openAsOlderTally(path, 9);
    const dims = `'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0`;
    const next = T0_HOUR + HOUR_MS;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES (1, 1, 'counted', '', ${dims}, 'adm', 'USD', '');
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES (${T0}, ${T0_HOUR}, 1, 'a1', '1', 'b', 1000, 100, 300, '', '', NULL, 0),
        (${T0}, ${T0_HOUR}, 1, 'a2', '1', 'b', 2000, 200, 700, '', '', NULL, 0),
        (${next}, ${next}, 1, 'a3', '1', 'b', 4000, 400, 500, '', '', NULL, 0);
      INSERT INTO rollup_hourly VALUES (${T0_HOUR}, 1, 'counted', '', ${dims}, 2, 3000, 300, 1000),
        (${next}, 1, 'counted', '', ${dims}, 1, 4000, 400, 500);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    const rows = upgraded.report({ ...HOUR_AROUND_T0, toMs: next + HOUR_MS, groupBy: ['hour'] });
    upgraded.close();
    assert.deepEqual(
      rows.map((row) => [row.hour, row.events, row.priceMicros, row.mediaCostMicros, row.revenueMicros]),
      [
        [new Date(T0_HOUR).toISOString(), 2, 3000, 300, 1000],
        [new Date(next).toISOString(), 1, 4000, 400, 500],
      ],
    );
  });

  it('groups and filters each dimension by its own column, and keeps apart rollups that differ in one dimension alone or in their account', () => {
    const dims = event().dims;
    /** [dimension, an event differing from the base events in it alone, its value in a report, as a filter]. */
    const variants: [ReportDimension, Partial<EventRecord>, string | number | boolean, string][] = [
      ['reason', { outcome: notCounted('late') }, 'late', 'late'],
      ['reason', { outcome: invalidTraffic('bot_user_agent') }, 'invalid_traffic', 'invalid_traffic'],
      [
        'impressionType',
        { dims: { ...dims, impressionType: 'external_impression' } },
        'external_impression',
        'external_impression',
      ],
      ['format', { dims: { ...dims, format: 'video' } }, 'video', 'video'],
      ['channel', { dims: { ...dims, channel: 'app' } }, 'app', 'app'],
      ['method', { dims: { ...dims, method: 'burl' } }, 'burl', 'burl'],
      // A player's VAST impression on a win counted by its adm: its notice, not its method.
      ['notice', { dims: { ...dims, kind: 'vast' } }, 'vast', 'vast'],
      ['seat', { dims: { ...dims, seat: 's2' } }, 's2', 's2'],
      ['advertiser', { dims: { ...dims, advertiserId: 3 } }, 3, '3'],
      ['lineItem', { dims: { ...dims, lineItemId: 4 } }, 4, '4'],
      ['tracker', { dims: { ...dims, trackerId: 5 } }, 5, '5'],
      ['placement', { dims: { ...dims, placementId: 6 } }, 6, '6'],
      ['paymentRule', { dims: { ...dims, paymentRuleId: 7 } }, 7, '7'],
      ['cachebusterMissing', { dims: { ...dims, cachebusterMissing: true } }, true, 'true'],
      // Free, so that no report grouped by another dimension adds up amounts in two currencies.
      ['currency', { dims: { ...dims, currency: 'EUR' }, priceMicros: 0 }, 'EUR', 'EUR'],
    ];
    ledger.record([
      event(),
      event(),
      ...variants.map(([, overrides]) => event(overrides)),
      event({ dims: { ...dims, accountId: 2 } }),
    ]);
    for (const [dimension, , value, filter] of variants) {
      const only = ledger.report({
        ...HOUR_AROUND_T0,
        groupBy: [dimension],
        filters: { [dimension]: filter },
      });
      assert.deepEqual(
        only.map((row) => [row[dimension], row.events]),
        [[value, 1]],
        dimension,
      );
      const grouped = ledger.report({ ...HOUR_AROUND_T0, groupBy: [dimension] });
      // The events that did not count are a currency of their own: none.
      const apart =
        variants.filter(([other]) => other === dimension).length + (dimension === 'currency' ? 1 : 0);
      assert.equal(grouped.length, 1 + apart, dimension);
      assert.equal(
        grouped.reduce((sum, row) => sum + Number(row.events), 0),
        2 + variants.length,
        dimension,
      );
    }
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, accountId: 2, groupBy: [] }).map((row) => row.events),
      [1],
      'the other account’s event, in its own rollup',
    );
  });

  it('refuses a report whose amounts are in two currencies, or a currency and tracker units, in one row or in different rows, unless it groups by or filters on currency', () => {
    const usd = exchangeEvent();
    const eur = exchangeEvent({ dims: { ...usd.dims, currency: 'EUR' } });
    const notCounted = exchangeEvent({
      outcome: { outcome: 'not_counted', reason: 'late' },
      dims: { ...usd.dims, currency: 'GBP' },
    });
    const trackerUnits = exchangeEvent({ dims: { ...usd.dims, currency: '' } });
    ledger.record([usd, notCounted]);
    // Events that did not count carry no money: nothing to mix.
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, groupBy: [] }).map((row) => [row.events, row.priceMicros]),
      [[2, 1_000_000]],
    );
    ledger.record([eur, trackerUnits]);
    assert.throws(
      () => ledger.report({ ...HOUR_AROUND_T0, groupBy: ['seat'] }),
      (error: unknown) =>
        error instanceof MixedCurrenciesError &&
        error.code === 'MIXED_CURRENCIES' &&
        /amounts are in .*EUR.*: group by currency/.test(error.message) &&
        /trackers' unnamed units.*, or report one kind of event \(impressionType=external_impression/.test(
          error.message,
        ),
    );
    // In another account, each row in one currency, but not all in the same: refused too, unless
    // narrowed to one.
    const jpy = { ...usd.dims, accountId: 3, seat: 'jpy-seat', currency: 'JPY' };
    const eurSeat = { ...usd.dims, accountId: 3, seat: 'eur-seat', currency: 'EUR' };
    ledger.record([exchangeEvent({ dims: jpy }), exchangeEvent({ dims: eurSeat })]);
    const bySeat = { ...HOUR_AROUND_T0, accountId: 3, groupBy: ['seat'] as ReportDimension[] };
    assert.throws(
      () => ledger.report(bySeat),
      /amounts are in EUR, JPY: group by currency.*\(currency=USD\)$/,
    );
    assert.deepEqual(
      ledger.report({ ...bySeat, filters: { seat: 'jpy-seat' } }).map((row) => [row.seat, row.events]),
      [['jpy-seat', 1]],
    );
    assert.deepEqual(
      ledger.report({ ...HOUR_AROUND_T0, groupBy: ['currency'] }).map((row) => [row.currency, row.events]),
      [
        ['', 2],
        ['EUR', 1],
        ['USD', 1],
      ],
    );
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['seat'], filters: { currency: 'EUR' } })
        .map((row) => [row.seat, row.priceMicros]),
      [['seat', 1_000_000]],
    );
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

  it('answers a sum of exactly 2^53 − 1 micros, and a loss of as much, and refuses a sum of 2^53, whichever amount it is', () => {
    const fields = ['priceMicros', 'mediaCostMicros', 'revenueMicros'] as const;
    for (const field of fields) {
      const dims = { ...event().dims, seat: field };
      const at = (servedHourMs: number, micros: number) =>
        event({ servedHourMs, dims, priceMicros: 0, [field]: micros });
      ledger.record([at(T0_HOUR, 2 ** 52), at(T0_HOUR, 2 ** 52 - 1), at(T0_HOUR + HOUR_MS, 1)]);
    }
    for (const field of fields) {
      const query = { accountId: 1, groupBy: [], filters: { seat: field }, fromMs: T0_HOUR };
      const [row] = ledger.report({ ...query, toMs: T0_HOUR + HOUR_MS });
      assert.equal(row?.[field], Number.MAX_SAFE_INTEGER, field);
      if (field === 'mediaCostMicros') assert.equal(row?.profitMicros, Number.MIN_SAFE_INTEGER);
      assert.throws(
        () => ledger.report({ ...query, toMs: T0_HOUR + 2 * HOUR_MS }),
        (error: unknown) =>
          error instanceof ReportTooLargeError &&
          error.message.includes(`${field} add up to 9007199254740992,`),
        field,
      );
    }
  });

  it('fails a report the database cannot run (its table is gone) as a failure, not as a report too large to answer', () => {
    const path = join(dir, 'no-rollups.db');
    const own = new SqliteLedger(openSqlite(path));
    const other = new Database(path);
    other.exec('DROP TABLE rollup_hourly');
    other.close();
    assert.throws(
      () => own.report({ ...HOUR_AROUND_T0, groupBy: [] }),
      (error: unknown) =>
        !(error instanceof ReportTooLargeError) && /no such table: rollup_hourly/.test(String(error)),
    );
    own.close();
  });

  it('refuses an hour filter without its Z, which Date.parse would read in the server’s time zone', () => {
    ledger.record([event()]);
    const hour = new Date(T0_HOUR).toISOString();
    assert.equal(ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { hour } })[0]?.events, 1);
    assert.throws(
      () => ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { hour: hour.slice(0, -1) } }),
      /expected a UTC time as toISOString writes it/,
    );
  });

  it('looks the catalog publisher of an exchange row up in the row’s own account, never in another account with the same OpenRTB id', () => {
    const db = openSqlite(join(dir, `ledger-${sequence}.db`));
    const accounts = new SqliteAccountStore(db);
    assert.equal(accounts.createAccount('Operator', T0).id, 1);
    assert.equal(accounts.createAccount('Other', T0).id, 2);
    const created = new SqliteCatalogStore(db).publishers.create(
      2,
      { name: 'Theirs', externalId: 'shared' },
      T0,
    );
    if (!created.ok) assert.fail(JSON.stringify(created));
    db.close();
    ledger.record([event({ dims: { ...event().dims, publisher: 'shared' } })]);
    assert.deepEqual(
      ledger
        .report({ ...HOUR_AROUND_T0, groupBy: ['publisherId'] })
        .map((row) => [row.publisherId, row.events]),
      [[0, 1]],
    );
    const theirs = String(created.value.id);
    assert.deepEqual(ledger.report({ ...HOUR_AROUND_T0, groupBy: [], filters: { publisherId: theirs } }), []);
  });

  it('shows a publisher without an OpenRTB id none of the exchange rows, not those whose publisher id is empty', () => {
    const own = catalogPublisher('No OpenRTB id', null);
    const dims = event().dims;
    ledger.record([
      event({ dims: { ...dims, publisher: '' } }),
      event({ dims: { ...dims, publisher: own, impressionType: 'external_impression' } }),
    ]);
    const rows = ledger.report({
      ...HOUR_AROUND_T0,
      groupBy: ['impressionType'],
      publisherScope: { catalogId: own, externalId: null },
    });
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.events]),
      [['external_impression', 1]],
    );
  });

  it('rebuilds the counted rollups of an older database apart by each dimension and account, by the hour served, free ones too, and keeps the others as they were (migration 10)', () => {
    const path = join(dir, 'currency-upgrade-dims.db');
    const old = openAsOlderTally(path, 9);
    const next = T0_HOUR + HOUR_MS;
    /** An event_dims row: id, account, outcome, reason, format, seat, payment rule. */
    const dims = (
      id: number,
      account: number,
      outcome: string,
      reason: string,
      format: string,
      seat: string,
      rule: number,
    ) =>
      `(${id}, ${account}, '${outcome}', '${reason}', 'exchange', '${format}', 'web', 'adm', '${seat}', 'pub', 0, 0, 0, 0, ${rule}, 0, 'adm', 'USD', '')`;
    /** An event_rows row of `dimsId`, received at `receivedMs`, served in the hour of T0. */
    const row = (dimsId: number, receivedMs: number, priceMicros: number) =>
      `(${receivedMs}, ${T0_HOUR}, ${dimsId}, 'a${dimsId}-${receivedMs}', '1', 'b', ${priceMicros}, 0, 0, '', '', NULL, 0)`;
    old.exec(`INSERT INTO event_dims (id, account_id, outcome, reason, impression_type, format, channel, method, seat,
        publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
        currency, ivt_rule)
      VALUES ${[
        dims(1, 1, 'counted', '', 'banner', 'seat', 0),
        dims(2, 1, 'counted', '', 'banner', 's2', 0),
        dims(3, 1, 'counted', '', 'video', 'seat', 0),
        dims(4, 1, 'counted', '', 'banner', 'seat', 7),
        dims(5, 2, 'counted', '', 'banner', 'seat', 0),
        dims(6, 1, 'not_counted', 'late', 'banner', 'seat', 0),
      ].join(', ')};
      INSERT INTO event_rows (received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros,
        media_cost_micros, revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
      VALUES ${[
        row(1, T0, 1000),
        row(1, T0 + 60_000, 2000),
        // Counted for nothing (a free impression): still an event.
        row(1, T0, 0),
        // Received in the next hour: reported under the hour it was served.
        row(2, next + 60_000, 10),
        row(3, T0, 20),
        row(4, T0, 30),
        row(5, T0, 40),
        // Not pruned yet: its rollup row is kept, not rebuilt.
        row(6, T0, 50),
      ].join(', ')};
      INSERT INTO rollup_hourly VALUES
        (${T0_HOUR}, 1, 'not_counted', 'late', 'exchange', 'banner', 'web', 'adm', 'seat', 'pub', 0, 0, 0, 0, 0, 0, 3, 0, 0, 0);`);
    old.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    const report = (accountId: number) =>
      upgraded
        .report({
          ...HOUR_AROUND_T0,
          accountId,
          toMs: next + HOUR_MS,
          groupBy: ['hour', 'outcome', 'format', 'seat', 'paymentRule'],
        })
        .map((r) => [r.hour, r.outcome, r.format, r.seat, r.paymentRule, r.events, r.priceMicros]);
    const hour = new Date(T0_HOUR).toISOString();
    assert.deepEqual(report(1), [
      [hour, 'counted', 'banner', 's2', 0, 1, 10],
      [hour, 'counted', 'banner', 'seat', 0, 3, 3000],
      [hour, 'counted', 'banner', 'seat', 7, 1, 30],
      [hour, 'counted', 'video', 'seat', 0, 1, 20],
      [hour, 'not_counted', 'banner', 'seat', 0, 3, 0],
    ]);
    assert.deepEqual(report(2), [[hour, 'counted', 'banner', 'seat', 0, 1, 40]]);
    upgraded.close();
  });
});

/** One account's report of the hour before `T0`'s and `T0`'s (reports take hour starts). */
const HOUR_AROUND_T0 = { accountId: 1, fromMs: T0_HOUR - HOUR_MS, toMs: T0_HOUR + HOUR_MS, filters: {} };

/** [outcome, currency, events, priceMicros] of each row of a report by outcome and currency. */
function byOutcomeAndCurrency(ledger: SqliteLedger): unknown[][] {
  const rows = ledger.report({ ...HOUR_AROUND_T0, groupBy: ['outcome', 'currency'] });
  return rows.map((row) => [row.outcome, row.currency, row.events, row.priceMicros]);
}
