import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Outcome } from '../../domain/outcome.js';
import { MAX_KEPT_CACHEBUSTER_LENGTH, trackerDedupeKey } from '../../domain/decide-hit.js';
import { COUNTED, duplicateOfRedirect, invalidTraffic, notCounted } from '../../domain/outcome.js';
import fc from 'fast-check';
import { openSqlite } from './database.js';
import { CLAIM_LOAD_MARGIN_MS } from './ledger-claims.js';
import { SqliteLedger } from './ledger.js';
import { exchangeEvent, T0 } from '../../../test/support/events.js';
import { HOUR_MS } from '../../lib/time.js';
import { ledgerPerTest } from '../../../test/support/sqlite-ledgers.js';
import { sqlPreparedBy } from '../../../test/support/prepared-sql.js';

const event = exchangeEvent;
let ledger: SqliteLedger;
const ledgers = ledgerPerTest('tally-ledger-claims-', (opened) => {
  ledger = opened;
});
const { dir } = ledgers;

describe('the SQLite ledger’s dedupe claims', () => {
  it('counts the first claim of an impression and marks the others duplicate, within one batch and across batches', () => {
    const claim = { key: 'k1', expiresMs: T0 + 600_000 };
    const outcomes = ledger.record([event({ dedupe: claim }), event({ dedupe: claim })]);
    assert.deepEqual(outcomes, [COUNTED, { outcome: 'not_counted', reason: 'duplicate' }]);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [
      { outcome: 'not_counted', reason: 'duplicate' },
    ]);
    assert.deepEqual(ledger.countEvents(), { total: 3, counted: 1 });
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

  it('keeps the live claims of tracker hits a Tally before 7 December recorded, their keys naming no device, across the upgrade: the same device’s repeat is a duplicate, another device’s counts', () => {
    const path = join(dir, 'device-less-tracker-keys.db');
    const phone = { ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (iPhone)' };
    const laptop = { ip: '198.51.100.4', userAgent: 'Mozilla/5.0 (X11)' };
    const longCachebuster = 'c'.repeat(MAX_KEPT_CACHEBUSTER_LENGTH + 1);
    const hit = (key: string, device: { ip: string; userAgent: string }, receivedMs: number) =>
      event({
        receivedMs,
        dims: { ...event().dims, impressionType: 'external_impression' },
        deviceIp: device.ip,
        userAgent: device.userAgent,
        dedupe: { key, expiresMs: receivedMs + 300_000 },
      });
    const older = new SqliteLedger(openSqlite(path));
    // As ce366e2 and 8e21959 had not yet changed them: a long cachebuster kept whole.
    older.record([
      hit('imptr\u001f7\u001fcb1', phone, T0),
      hit(`clktr\u001f7\u001f${longCachebuster}`, phone, T0),
      hit(`imptr#\u001f7\u001f${createHash('sha256').update('d'.repeat(65)).digest('base64url')}`, phone, T0),
    ]);
    older.close();
    const upgraded = new SqliteLedger(openSqlite(path));
    const later = T0 + 60_000;
    const duplicate = { outcome: 'not_counted', reason: 'duplicate' };
    assert.deepEqual(
      upgraded.record([
        hit(trackerDedupeKey('impression', 7, 'cb1', phone), phone, later),
        hit(trackerDedupeKey('click', 7, longCachebuster, phone), phone, later),
        hit(trackerDedupeKey('impression', 7, 'd'.repeat(65), phone), phone, later),
        hit(trackerDedupeKey('impression', 7, 'cb1', laptop), laptop, later),
      ]),
      [duplicate, duplicate, duplicate, COUNTED],
    );
    upgraded.close();
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

  it('counts an impression once while its count’s claim lives, and lets that claim end no sooner than a notice seen since could count, through notices that did not count, batches, restarts and clocks stepped back (property)', () => {
    const outcomes = {
      counted: COUNTED,
      bot: invalidTraffic('bot_user_agent'),
      prefetch: notCounted('prefetch'),
      loaded: notCounted('not_billing_method'),
      late: notCounted('late'),
    } as const;
    const notice = fc.record({
      key: fc.integer({ min: 0, max: 1 }),
      tracker: fc.boolean(),
      decided: fc.constantFrom(...(Object.keys(outcomes) as (keyof typeof outcomes)[])),
      advanceMs: fc.integer({ min: 0, max: 1_500 }),
      // A clock stepped back, or a batch a few ms out of order (the ledger keeps claims for one
      // stepped back less than its margin).
      stepBackMs: fc.option(fc.integer({ min: 1, max: CLAIM_LOAD_MARGIN_MS - 1000 }), { freq: 10 }),
      ttlMs: fc.integer({ min: 0, max: 6_000 }),
    });
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ batch: fc.array(notice, { minLength: 1, maxLength: 8 }) }) },
      {
        weight: 1,
        arbitrary: fc.record({ restart: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }) }),
      },
    );
    let run = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40, size: 'max' }), (steps) => {
        const path = join(dir, `claims-rule-${++run}.db`);
        let own = new SqliteLedger(openSqlite(path));
        // Per impression: until when the claim of its count lives.
        const countedUntilMs = new Map<string, number>();
        let nowMs = T0;
        let newestMs = T0;
        const trace: string[] = [];
        for (const taken of steps) {
          if ('restart' in taken) {
            trace.push(`restart ${String(taken.restart)}`);
            own.close();
            own = new SqliteLedger(openSqlite(path));
            if (taken.restart !== undefined) own.loadClaims(nowMs + taken.restart);
            continue;
          }
          const batch = taken.batch.map(({ key, tracker, decided, advanceMs, stepBackMs, ttlMs }) => {
            nowMs = Math.max(nowMs + advanceMs - (stepBackMs ?? 0), newestMs - CLAIM_LOAD_MARGIN_MS / 2);
            newestMs = Math.max(newestMs, nowMs);
            // A late notice comes after its win's TTL; the others at it or before.
            const expiresMs = decided === 'late' ? nowMs - 1 - ttlMs : nowMs + ttlMs;
            const dedupe = { key: `${tracker ? 't' : 'x'}${key}`, expiresMs };
            const dims = {
              ...event().dims,
              auctionId: dedupe.key,
              impressionType: tracker ? ('external_impression' as const) : ('exchange' as const),
            };
            return event({ receivedMs: nowMs, outcome: outcomes[decided], dims, dedupe });
          });
          const recorded = own.record(batch);
          batch.forEach(({ receivedMs, outcome, dedupe, dims }, index) => {
            const { key, expiresMs } = dedupe ?? { key: '', expiresMs: 0 };
            const claimedUntilMs = countedUntilMs.get(key) ?? Number.NEGATIVE_INFINITY;
            const exchange = dims.impressionType === 'exchange';
            const claimed = claimedUntilMs >= receivedMs;
            let expected: Outcome = outcome;
            if (outcome.outcome === 'counted') {
              if (!claimed) countedUntilMs.set(key, expiresMs);
              else {
                expected = notCounted('duplicate');
                // Tracker hits keep the window of their first hit.
                if (exchange) countedUntilMs.set(key, Math.max(claimedUntilMs, expiresMs));
              }
            } else if (exchange && outcome.reason !== 'late' && claimed) {
              countedUntilMs.set(key, Math.max(claimedUntilMs, expiresMs));
            }
            trace.push(
              `${key} ${outcome.outcome === 'counted' ? 'counted' : outcome.reason} at ${receivedMs - T0} until ${expiresMs - T0}: ${recorded[index]?.outcome === 'counted' ? 'counted' : 'not'}`,
            );
            assert.deepEqual(recorded[index], expected, trace.join('\n'));
          });
        }
        own.close();
      }),
      { numRuns: 100 },
    );
  });

  it('claims nothing for a batch whose transaction failed', () => {
    const claim = { key: 'rolled-back', expiresMs: T0 + 600_000 };
    // Fault injection: the second event breaks a NOT NULL constraint, so the whole batch rolls back.
    const broken = event({ dims: { ...event().dims, seat: null as unknown as string } });
    assert.throws(() => ledger.record([event({ dedupe: claim }), broken]), /NOT NULL/);
    assert.deepEqual(ledger.record([event({ dedupe: claim })]), [COUNTED]);
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

  it('seeks the claims index to the load time as a start loads the claims, so that it reads the live claims alone, not every claim that ever ended', () => {
    const path = ledgers.newPath('claims-load-plan');
    const db = openSqlite(path);
    new SqliteLedger(db).record([event({ dedupe: { key: 'ended', expiresMs: T0 + 1 } })]);
    // A new start on that ledger: its claims are not loaded yet.
    const loading = new SqliteLedger(db);
    const statements = sqlPreparedBy(db, () => loading.loadClaims(T0 + HOUR_MS));
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

  it('loads the claims live when the last notice was received, when its clock is ahead at start: a repeat once the clock is set back is a duplicate', () => {
    const path = ledgers.path;
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
});
