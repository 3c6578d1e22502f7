import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { IvtFilter } from '../domain/ivt-filter.js';
import { buildIvtFilter, defaultIvtFilter } from '../domain/ivt-filter.js';
import { hourStartMs } from '../lib/time.js';
import { Metrics } from '../lib/metrics.js';
import type { CatalogView, PaymentRuleView, TrackerKind, TrackerView } from '../ports/catalog.js';
import { GroupCommitter } from './group-commit.js';
import { PIXEL_GIF } from './responses.js';
import { NoticeLane } from './notice-lane.js';
import type { TrackerDeps } from './trackers.js';
import { handleTrackerHit } from './trackers.js';
import { laneServe } from './lane-serve.js';
import type { NoticeDeps } from './notices.js';
import type { Logger } from '../lib/log.js';
import { NO_REDIRECT_ALLOWLIST } from '../domain/tracker-hit.js';
import { testKeyRing } from '../../test/support/claims.js';
import { T0 } from '../../test/support/events.js';
import { inlineRecorder } from '../../test/support/inline-recorder.js';
import { paymentRule } from '../../test/support/payment-rules.js';
import { CHROME } from '../../test/support/user-agents.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-trackers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function tracker(id: number, kind: TrackerKind, overrides: Partial<TrackerView> = {}): TrackerView {
  return {
    id,
    kind,
    accountId: 1,
    code: null,
    state: 'active',
    advertiserId: 2,
    lineItem: { id: 3, advertiserId: 2, revenueType: 'none', revenueValueMicros: 0, state: 'active' },
    publisherId: 4,
    placementId: null,
    paymentRule: null,
    clickUrl: null,
    firedBy: 'browser',
    ...overrides,
  };
}

/**
 * The catalog these tests hit: trackers of the operator's account (1) and one of account 2 (with
 * the same code as 5); 10 and 11 were issued and deleted since.
 */
const TRACKERS: readonly TrackerView[] = [
  tracker(5, 'impression', { code: 'home' }),
  tracker(6, 'impression', { state: 'inactive' }),
  tracker(9, 'impression', { accountId: 2, code: 'home' }),
  tracker(7, 'click', { clickUrl: 'https://landing.example/page' }),
  tracker(8, 'click'),
];
const CATALOG: CatalogView = {
  version: 1,
  findTracker: (kind, by) =>
    TRACKERS.find(
      (candidate) =>
        candidate.kind === kind &&
        ('id' in by
          ? candidate.id === by.id
          : candidate.code === by.code && candidate.accountId === (by.accountId ?? 1)),
    ),
  redirectAllowlist: () => ({ enabled: false, domains: [] }),
  paymentRules: () => [],
  highestTrackerId: 11,
};

interface Served {
  hit: (path: string, method?: string) => Promise<Response>;
  /** Sends `head` (request line and headers) on a connection of its own; all it was answered. */
  exchange: (head: string) => Promise<Buffer>;
  /** The events the ledger holds, in the order recorded. */
  events: () => { tracker: number; type: string; outcome: string; reason: string; account: number }[];
  /** When each recorded event was served, the device it came from and the payment rule that priced it. */
  facts: () => { hour: number; ip: string; userAgent: string; rule: number }[];
  /** Each recorded event's media cost and the payment rule recorded with it. */
  costs: () => { cost: number; rule: number }[];
  metrics: Metrics;
  /** The errors logged, as `event path`. */
  logged: string[];
}

/** Tracker endpoints over real loopback HTTP, committing into a real SQLite ledger. */
async function withTrackers(
  name: string,
  maxQueue: number,
  run: (served: Served) => Promise<void>,
  {
    catalog = CATALOG,
    ivtFilter = defaultIvtFilter(),
    nowMs,
    lane = false,
  }: {
    catalog?: CatalogView;
    ivtFilter?: IvtFilter;
    nowMs?: () => number;
    /** Puts the notice lane in front, serving `GET`s and `HEAD`s as Tally's does (`laneServe`). */
    lane?: boolean;
  } = {},
): Promise<void> {
  const ledger = new SqliteLedger(openSqlite(join(dir, name)));
  const metrics = new Metrics();
  let clockMs = T0;
  const deps: TrackerDeps = {
    catalog: () => catalog,
    ivtFilter: () => ivtFilter,
    committer: new GroupCommitter(
      inlineRecorder(ledger),
      { maxBatch: 100, maxDelayMs: 0, maxQueue, maxInFlight: 1, flushAtSize: 1000 },
      new Metrics(),
    ),
    metrics,
    // A second passes between hits, unless the test keeps the time.
    nowMs: nowMs ?? (() => (clockMs += 1000)),
  };
  const server = createServer((req, res) => {
    // An absolute-form target (`http://host/imptr?…`) is one the lane leaves to node:http.
    const kind = new URL(req.url ?? '/', 'http://tally.test').pathname === '/imptr' ? 'impression' : 'click';
    void handleTrackerHit(kind, req, res, deps);
  });
  const logged: string[] = [];
  const log: Logger = {
    info: () => {},
    warn: () => {},
    error: (event, fields) => logged.push(`${event} ${String(fields?.path)}`),
  };
  if (lane) {
    const notices: NoticeDeps = {
      committer: deps.committer,
      metrics,
      env: {
        keyRing: testKeyRing(),
        ivtFilter,
        priceKeysFor: () => undefined,
        redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
      },
      nowMs: () => deps.nowMs(),
    };
    NoticeLane.install(
      server,
      laneServe(notices, deps, log),
      { keepAliveTimeoutMs: 5000, headersTimeoutMs: 5000, maxHeadBytes: 16_384, maxPipelined: 32 },
      new Metrics(),
    );
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  const reader = openSqlite(join(dir, name));
  try {
    await run({
      hit: (path, method = 'GET') =>
        fetch(`${base}${path}`, {
          method,
          redirect: 'manual',
          headers: { 'user-agent': CHROME },
          // An answer that never comes fails the test rather than hanging it.
          signal: AbortSignal.timeout(5000),
        }),
      exchange: (head) =>
        new Promise((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n`, 'latin1'));
          const chunks: Buffer[] = [];
          socket.on('data', (chunk: Buffer) => chunks.push(chunk));
          socket.on('close', () => resolve(Buffer.concat(chunks)));
          socket.on('error', reject);
          socket.setTimeout(5000, () => socket.destroy(new Error(`no answer to ${head}`)));
        }),
      events: () =>
        reader
          .prepare(
            'SELECT tracker_id AS tracker, impression_type AS type, outcome, reason, account_id AS account FROM events ORDER BY id',
          )
          .all() as ReturnType<Served['events']>,
      facts: () =>
        reader
          .prepare(
            'SELECT served_hour_ms AS hour, device_ip AS ip, user_agent AS userAgent, payment_rule_id AS rule FROM events ORDER BY id',
          )
          .all() as ReturnType<Served['facts']>,
      costs: () =>
        reader
          .prepare('SELECT media_cost_micros AS cost, payment_rule_id AS rule FROM events ORDER BY id')
          .all() as ReturnType<Served['costs']>,
      metrics,
      logged,
    });
  } finally {
    reader.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    ledger.close();
  }
}

describe('tracker hits', () => {
  it('takes a repeat of a cachebuster up to 5 min after the first hit (4 min 59 s, 5 min to the ms) as a duplicate, and counts one 5 min 1 s after it', async () => {
    let clockMs = T0;
    await withTrackers(
      'window.db',
      100,
      async ({ hit, events }) => {
        for (const atMs of [T0, T0 + 299_000, T0 + 300_000, T0 + 301_000]) {
          clockMs = atMs;
          await (await hit('/imptr?id=5&cachebuster=cb-window')).arrayBuffer();
        }
        assert.deepEqual(
          events().map((event) => `${event.outcome}/${event.reason}`),
          ['counted/', 'not_counted/duplicate', 'not_counted/duplicate', 'counted/'],
        );
      },
      { nowMs: () => clockMs },
    );
  });

  it(
    'answers impression hits once recorded: the GIF, a script for t=1, a redirect to redir; a repeated cachebuster is a duplicate',
    { timeout: 10_000 },
    async () => {
      await withTrackers('impressions.db', 100, async ({ hit, events }) => {
        const first = await hit('/imptr?id=5&cachebuster=c1');
        assert.equal(first.status, 200);
        assert.equal(first.headers.get('content-type'), 'image/gif');
        assert.equal(first.headers.get('cache-control'), 'no-store, no-cache, must-revalidate');
        assert.deepEqual(Buffer.from(await first.arrayBuffer()), PIXEL_GIF);
        assert.deepEqual(
          Buffer.from(await (await hit('/imptr?code=home&cachebuster=c1')).arrayBuffer()),
          PIXEL_GIF,
        );
        const script = await hit('/imptr?id=5&cachebuster=c2&t=1');
        assert.equal(script.status, 200);
        assert.match(script.headers.get('content-type') ?? '', /^application\/javascript/);
        await script.arrayBuffer();
        const redirected = await hit('/imptr?id=5&cachebuster=c3&redir=https://dest.example/x?a=1');
        assert.equal(redirected.status, 302);
        assert.equal(redirected.headers.get('location'), 'https://dest.example/x?a=1');
        assert.deepEqual(events(), [
          { tracker: 5, type: 'external_impression', outcome: 'counted', reason: '', account: 1 },
          {
            tracker: 5,
            type: 'external_impression',
            outcome: 'not_counted',
            reason: 'duplicate',
            account: 1,
          },
          { tracker: 5, type: 'external_impression', outcome: 'counted', reason: '', account: 1 },
          { tracker: 5, type: 'external_impression', outcome: 'counted', reason: '', account: 1 },
        ]);
      });
    },
  );

  it(
    'answers an impression hit naming no tracker its GIF or script, never a redirect to its redir: no account’s allow-list can admit the target',
    { timeout: 10_000 },
    async () => {
      await withTrackers('unknown-redir.db', 100, async ({ hit, events }) => {
        const gif = await hit('/imptr?id=999&cachebuster=u1&redir=https://phish.example/login');
        assert.equal(gif.status, 200);
        assert.equal(gif.headers.get('location'), null);
        assert.deepEqual(Buffer.from(await gif.arrayBuffer()), PIXEL_GIF);
        const script = await hit('/imptr?id=999&cachebuster=u2&t=1&redir=https://phish.example/login');
        assert.equal(script.status, 200);
        assert.match(script.headers.get('content-type') ?? '', /^application\/javascript/);
        await script.arrayBuffer();
        assert.deepEqual(
          events().map(({ outcome, reason }) => `${outcome}/${reason}`),
          ['not_counted/unknown_tracker', 'not_counted/unknown_tracker'],
        );
      });
    },
  );

  it(
    'records a hit of an inactive tracker, of another account’s tracker named with member=, or with a member= that is no account id, as not counted',
    { timeout: 10_000 },
    async () => {
      await withTrackers('not-counted.db', 100, async ({ hit, events }) => {
        for (const path of [
          '/imptr?id=6&cachebuster=i1',
          '/imptr?id=9&member=1&cachebuster=m1',
          '/imptr?id=99',
          // The operator account's tracker 5 has the code `home`: a malformed member names it not.
          '/imptr?code=home&member=2x&cachebuster=x1',
          '/imptr?code=home&member=0&cachebuster=x2',
          '/imptr?code=home&member=&cachebuster=x3',
          '/imptr?id=5&member=-1&cachebuster=x4',
        ]) {
          const answer = await hit(path);
          assert.equal(answer.status, 200, path);
          await answer.arrayBuffer();
        }
        assert.deepEqual(events(), [
          {
            tracker: 6,
            type: 'external_impression',
            outcome: 'not_counted',
            reason: 'inactive_tracker',
            account: 1,
          },
          ...[9, 0, 0, 0, 0, 5].map((tracker) => ({
            tracker,
            type: 'external_impression',
            outcome: 'not_counted',
            reason: 'unknown_tracker',
            account: 1,
          })),
        ]);
      });
    },
  );

  it(
    'records a hit naming no tracker of its account under the id it named when the catalog issued it (a deleted tracker’s, another account’s with a wrong member=, one of the other kind), else under 0, in the operator account',
    { timeout: 10_000 },
    async () => {
      await withTrackers('named-ids.db', 100, async ({ hit, events }) => {
        const answers: string[] = [];
        for (const path of [
          '/imptr?id=11&cachebuster=n1',
          '/imptr?id=9&member=1&cachebuster=n2',
          '/imptr?id=7&cachebuster=n3',
          '/clktr?id=5&cachebuster=n4',
          '/imptr?id=12&cachebuster=n5',
          '/imptr?id=9007199254740991&cachebuster=n6',
          '/imptr?code=gone&cachebuster=n7',
          '/clktr?id=10&member=2x&cachebuster=n8',
        ]) {
          const answer = await hit(path);
          await answer.arrayBuffer();
          answers.push(`${answer.status} ${path}`);
        }
        assert.deepEqual(
          answers.map((answer) => answer.split(' ')[0]),
          ['200', '200', '200', '404', '200', '200', '200', '404'],
        );
        assert.deepEqual(
          events().map((event) => `${event.account} ${event.tracker} ${event.type} ${event.reason}`),
          [
            '1 11 external_impression unknown_tracker',
            '1 9 external_impression unknown_tracker',
            '1 7 external_impression unknown_tracker',
            '1 5 external_click unknown_tracker',
            '1 0 external_impression unknown_tracker',
            '1 0 external_impression unknown_tracker',
            '1 0 external_impression unknown_tracker',
            '1 10 external_click unknown_tracker',
          ],
        );
      });
    },
  );

  it(
    'books a hit to the account of the tracker it names (by id, or by code and member=), and records a HEAD hit as invalid traffic',
    { timeout: 10_000 },
    async () => {
      await withTrackers('accounts.db', 100, async ({ hit, events }) => {
        for (const path of [
          '/imptr?id=9&cachebuster=a1',
          '/imptr?code=home&member=2&cachebuster=a2',
          '/imptr?code=home&member=3&cachebuster=a3',
        ]) {
          const answer = await hit(path);
          assert.equal(answer.status, 200, path);
          await answer.arrayBuffer();
        }
        const head = await hit('/imptr?id=5&cachebuster=h1', 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), '43');
        assert.deepEqual(events(), [
          { tracker: 9, type: 'external_impression', outcome: 'counted', reason: '', account: 2 },
          { tracker: 9, type: 'external_impression', outcome: 'counted', reason: '', account: 2 },
          {
            tracker: 0,
            type: 'external_impression',
            outcome: 'not_counted',
            reason: 'unknown_tracker',
            account: 1,
          },
          {
            tracker: 5,
            type: 'external_impression',
            outcome: 'not_counted',
            reason: 'invalid_traffic',
            account: 1,
          },
        ]);
      });
    },
  );

  it(
    'records a hit by the hour it came in, with its device, priced by the publisher’s rule in force then',
    { timeout: 10_000 },
    async () => {
      const rule = (id: number, overrides: Partial<PaymentRuleView>) => paymentRule({ id, ...overrides });
      const rules = [
        rule(20, { isBase: true }),
        // Began the day before the hits: in force.
        rule(21, { startMs: T0 - 24 * 3_600_000 }),
        // Ended an hour before the hits, and outranks the others while it ran.
        rule(22, { priority: 10, endMs: T0 - 3_600_000 }),
      ];
      const catalog: CatalogView = {
        ...CATALOG,
        paymentRules: (publisherId) => (publisherId === 4 ? rules : []),
      };
      await withTrackers(
        'facts.db',
        100,
        async ({ hit, facts }) => {
          const answer = await hit('/imptr?id=5&cachebuster=t1');
          assert.equal(answer.status, 200);
          await answer.arrayBuffer();
          assert.deepEqual(facts(), [
            { hour: hourStartMs(T0), ip: '127.0.0.1', userAgent: CHROME, rule: 21 },
          ]);
        },
        { catalog },
      );
    },
  );

  it(
    'prices a hit by the tracker’s own conditional rule from its start to its end exclusive, whatever its placements, and by the publisher’s rules outside',
    { timeout: 10_000 },
    async () => {
      const base = paymentRule({ id: 20, isBase: true, pricingType: 'cpm', costCpmMicros: 1_000_000 });
      // Set on the tracker: its placement (another than the tracker's, which has none) is not looked at.
      const own = paymentRule({
        id: 30,
        pricingType: 'cpm',
        costCpmMicros: 2_000_000,
        startMs: T0 - 24 * 3_600_000,
        endMs: T0 + 3_600_000,
        placementIds: [99],
      });
      const ownTracker = tracker(40, 'impression', { paymentRule: own });
      const catalog: CatalogView = {
        ...CATALOG,
        findTracker: (kind, by) => ('id' in by && by.id === 40 ? ownTracker : undefined),
        paymentRules: (publisherId) => (publisherId === 4 ? [base] : []),
      };
      const times = [T0 - 24 * 3_600_000 - 1, T0 - 24 * 3_600_000, T0, T0 + 3_600_000 - 1, T0 + 3_600_000];
      let next = 0;
      await withTrackers(
        'own-rule-dates.db',
        100,
        async ({ hit, costs }) => {
          for (const [index] of times.entries()) {
            const answer = await hit(`/imptr?id=40&cachebuster=o${index}`);
            assert.equal(answer.status, 200);
            await answer.arrayBuffer();
          }
          assert.deepEqual(costs(), [
            { cost: 1000, rule: 20 },
            { cost: 2000, rule: 30 },
            { cost: 2000, rule: 30 },
            { cost: 2000, rule: 30 },
            { cost: 1000, rule: 20 },
          ]);
        },
        { catalog, nowMs: () => times[next++] ?? T0 },
      );
    },
  );

  it(
    'prices a hit whose ancost it cannot read by the payment rule, counting it in tally_tracker_ancost_ignored_total',
    { timeout: 10_000 },
    async () => {
      const base = paymentRule({ id: 20, isBase: true, pricingType: 'cpm', costCpmMicros: 1_000_000 });
      const catalog: CatalogView = {
        ...CATALOG,
        paymentRules: (publisherId) => (publisherId === 4 ? [base] : []),
      };
      await withTrackers(
        'ancost.db',
        100,
        async ({ hit, costs, metrics }) => {
          const ignored = () => /^tally_tracker_ancost_ignored_total (\d+)$/m.exec(metrics.render())?.[1];
          for (const ancost of ['1,50', '1e2', '1000000', '999999.9999995', '%5BANCOST%5D']) {
            const answer = await hit(
              `/imptr?id=5&cachebuster=${encodeURIComponent(ancost)}&ancost=${ancost}`,
            );
            assert.equal(answer.status, 200, ancost);
            await answer.arrayBuffer();
          }
          // A hit naming no tracker is priced by nothing, its ancost read or not.
          await (await hit('/imptr?id=404&ancost=1,50')).arrayBuffer();
          assert.deepEqual(costs(), [
            ...Array.from({ length: 5 }, () => ({ cost: 1000, rule: 20 })),
            { cost: 0, rule: 0 },
          ]);
          assert.equal(ignored(), '4');
        },
        { catalog },
      );
    },
  );

  it(
    'counts in tally_tracker_ancost_ignored_total only the counted hits whose ancost it ignored, not a preview, a duplicate, invalid traffic, an inactive tracker’s hit or a click that lands nowhere, which are billed nothing',
    { timeout: 10_000 },
    async () => {
      await withTrackers('ancost-not-counted.db', 100, async ({ hit, events, metrics }) => {
        const ignored = () => /^tally_tracker_ancost_ignored_total (\d+)$/m.exec(metrics.render())?.[1];
        for (const [path, method] of [
          ['/imptr?id=5&cachebuster=p1&ancost=1,50&preview=1', 'GET'],
          ['/imptr?id=5&cachebuster=d1&ancost=1,50', 'GET'],
          ['/imptr?id=5&cachebuster=d1&ancost=1,50', 'GET'],
          ['/imptr?id=5&cachebuster=h1&ancost=1,50', 'HEAD'],
          ['/imptr?id=6&cachebuster=i1&ancost=1,50', 'GET'],
          ['/clktr?id=8&ancost=1,50', 'GET'],
          ['/clktr?id=7&ancost=1,50', 'GET'],
        ] as const) {
          await (await hit(path, method)).arrayBuffer();
        }
        assert.deepEqual(
          events().map((event) => `${event.tracker} ${event.outcome}/${event.reason}`),
          [
            '5 not_counted/preview',
            '5 counted/',
            '5 not_counted/duplicate',
            '5 not_counted/invalid_traffic',
            '6 not_counted/inactive_tracker',
            '8 not_counted/no_landing_page',
            '7 counted/',
          ],
        );
        assert.equal(ignored(), '2', 'the first hit of cachebuster d1 and the click on tracker 7');
      });
    },
  );

  it(
    'records a hit priced by its ancost with no payment rule, not the rule its ancost overrode',
    { timeout: 10_000 },
    async () => {
      const base = paymentRule({ id: 20, isBase: true });
      const catalog: CatalogView = {
        ...CATALOG,
        paymentRules: (publisherId) => (publisherId === 4 ? [base] : []),
      };
      await withTrackers(
        'ancost-rule.db',
        100,
        async ({ hit, costs }) => {
          for (const path of [
            '/imptr?id=5&cachebuster=a1&ancost=1.5',
            '/imptr?id=5&cachebuster=a2',
            '/clktr?id=7&ancost=0.25',
          ]) {
            const answer = await hit(path);
            await answer.arrayBuffer();
          }
          assert.deepEqual(costs(), [
            { cost: 1_500_000, rule: 0 },
            { cost: 0, rule: 20 },
            { cost: 250_000, rule: 0 },
          ]);
        },
        { catalog },
      );
    },
  );

  it('screens the peer of a hit against the IP block list', { timeout: 10_000 }, async () => {
    const blocked = buildIvtFilter([], ['127.0.0.1']);
    assert.ok(blocked.ok, blocked.ok ? '' : JSON.stringify(blocked.errors));
    await withTrackers(
      'blocked.db',
      100,
      async ({ hit, events }) => {
        const answer = await hit('/imptr?id=5&cachebuster=b1');
        assert.equal(answer.status, 200);
        await answer.arrayBuffer();
        assert.deepEqual(
          events().map((event) => `${event.outcome} ${event.reason}`),
          ['not_counted invalid_traffic'],
        );
      },
      { ivtFilter: blocked.filter },
    );
  });

  it(
    'sends a click to redir, else to the tracker’s click URL, and says why when there is nowhere to go, in a page titled with what happened, not counting that click',
    { timeout: 10_000 },
    async () => {
      await withTrackers('clicks.db', 100, async ({ hit, events }) => {
        const landing = await hit('/clktr?id=7&cachebuster=k1');
        assert.equal(landing.status, 302);
        assert.equal(landing.headers.get('location'), 'https://landing.example/page');
        const redirected = await hit('/clktr?id=7&cachebuster=k2&redir=https://dest.example/y');
        assert.equal(redirected.headers.get('location'), 'https://dest.example/y');
        const nowhere = await hit('/clktr?id=8&cachebuster=k3');
        assert.equal(nowhere.status, 400);
        assert.match(await nowhere.text(), /no landing page/i);
        // The page saying why names the tracker’s click URL, with a character of three bytes in UTF-8.
        const refused = await hit('/clktr?id=8&cachebuster=k5&redir=ftp://files.example/x');
        assert.equal(refused.status, 400);
        const page = await refused.text();
        assert.match(page, /tracker’s click URL/);
        assert.ok(page.endsWith('allow-list.</p>\n'), `the whole page: ${JSON.stringify(page.slice(-30))}`);
        const unknown = await hit('/clktr?id=99');
        assert.equal(unknown.status, 404);
        // Its title says what happened, as its heading does: the link names no tracker.
        const unknownTitle = /<title>([^<]*)<\/title>/.exec(await unknown.text())?.[1];
        assert.equal(unknownTitle, 'No such click tracker');
        assert.deepEqual(
          events().map((event) => `${event.tracker} ${event.type} ${event.outcome}${event.reason}`),
          [
            '7 external_click counted',
            '7 external_click counted',
            '8 external_click not_countedno_landing_page',
            '8 external_click not_countedno_landing_page',
            '0 external_click not_countedunknown_tracker',
          ],
        );
      });
    },
  );

  it(
    "records a preview render (preview=1, Xandr's ${IS_PREVIEW}, or an AUDIT value) as preview, answering it as any hit",
    { timeout: 10_000 },
    async () => {
      await withTrackers('preview.db', 100, async ({ hit, events }) => {
        const pixel = await hit('/imptr?id=5&cachebuster=p1&preview=1');
        assert.equal(pixel.status, 200);
        assert.deepEqual(Buffer.from(await pixel.arrayBuffer()), PIXEL_GIF);
        await (await hit('/imptr?id=5&cachebuster=AUDIT')).arrayBuffer();
        const click = await hit('/clktr?id=7&cachebuster=p2&preview=1');
        assert.equal(click.status, 302);
        assert.equal(click.headers.get('location'), 'https://landing.example/page');
        // The same cachebuster afterwards, outside the preview, counts: a preview claims nothing.
        await (await hit('/imptr?id=5&cachebuster=p1&preview=0')).arrayBuffer();
        assert.deepEqual(
          events().map((event) => `${event.tracker} ${event.type} ${event.outcome} ${event.reason}`),
          [
            '5 external_impression not_counted preview',
            '5 external_impression not_counted preview',
            '7 external_click not_counted preview',
            '5 external_impression counted ',
          ],
        );
      });
    },
  );

  it(
    'answers 503 when the commit queue is full and 405 to a method no hit comes by, recording neither',
    { timeout: 10_000 },
    async () => {
      await withTrackers('refused.db', 0, async ({ hit, events, metrics }) => {
        const full = await hit('/imptr?id=5&cachebuster=f1');
        assert.equal(full.status, 503);
        await full.text();
        const options = await hit('/imptr?id=5&cachebuster=o1', 'OPTIONS');
        assert.equal(options.status, 405);
        assert.equal(options.headers.get('allow'), 'GET, HEAD, POST');
        await options.text();
        assert.deepEqual(events(), []);
        assert.match(
          metrics.render(),
          /^tally_notices_refused_total\{impression_type="external_impression",reason="queue_full"\} 1$/m,
        );
      });
    },
  );

  it(
    'declines a prefetched click with 503, Retry-After as every 503, and no redirect, through the lane and node:http, recording it as prefetch, so that the click itself reaches Tally and counts',
    { timeout: 10_000 },
    async () => {
      await withTrackers(
        'prefetched-click.db',
        100,
        async ({ exchange, events }) => {
          const click = (target: string, purpose: string) =>
            exchange(
              `GET ${target} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${CHROME}\r\n${purpose}Connection: close`,
            ).then((bytes) => bytes.toString('latin1'));
          for (const [target, purpose] of [
            ['/clktr?id=7&cachebuster=lane', 'Sec-Purpose: prefetch\r\n'],
            ['http://tally.test/clktr?id=7&cachebuster=http', 'Sec-Purpose: prefetch;prerender\r\n'],
          ] as const) {
            const declined = await click(target, purpose);
            assert.match(declined, /^HTTP\/1\.1 503 Service Unavailable\r\n/, declined);
            assert.match(declined, /\r\nRetry-After: 1\r\n/, declined);
            assert.match(declined, /\r\nCache-Control: no-store, no-cache, must-revalidate\r\n/, declined);
            assert.doesNotMatch(declined, /\r\nLocation:/i, declined);
            const clicked = await click(target, '');
            assert.match(
              clicked,
              /^HTTP\/1\.1 302 Found\r\n[^]*\r\nLocation: https:\/\/landing\.example\/page\r\n/,
              clicked,
            );
          }
          assert.deepEqual(
            events().map(({ outcome, reason }) => `${outcome}/${reason}`),
            ['not_counted/prefetch', 'counted/', 'not_counted/prefetch', 'counted/'],
          );
        },
        { lane: true },
      );
    },
  );

  it(
    'records the caller’s User-Agent as the device’s when X-Device-User-Agent is repeated or empty, through the lane and node:http alike',
    { timeout: 10_000 },
    async () => {
      await withTrackers(
        'device-agent.db',
        100,
        async ({ exchange, facts }) => {
          const targets = ['/imptr?id=5&cachebuster=', 'http://tally.test/imptr?id=5&cachebuster='];
          const named = [
            'X-Device-User-Agent: Device/1\r\nX-Device-User-Agent: Device/2',
            'X-Device-User-Agent: ',
          ];
          for (const [at, target] of targets.entries()) {
            for (const [index, deviceAgent] of named.entries()) {
              const answer = await exchange(
                `GET ${target}${at}-${index} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${CHROME}\r\n${deviceAgent}\r\nConnection: close`,
              );
              assert.match(answer.toString('latin1'), /^HTTP\/1\.1 200 OK\r\n/);
            }
          }
          assert.deepEqual(
            facts().map(({ userAgent }) => userAgent),
            [CHROME, CHROME, CHROME, CHROME],
          );
        },
        { lane: true },
      );
    },
  );

  /**
   * The answer of `path` through the lane and through node:http, the `Date` line cut from both;
   * a `CB` in it is `L` for the lane and `H` for node:http, so that neither is the other's duplicate.
   */
  async function bothPaths(
    exchange: Served['exchange'],
    method: string,
    path: string,
  ): Promise<{ lane: string; http: string }> {
    const headers = `Host: tally.test\r\nUser-Agent: ${CHROME}\r\nConnection: close`;
    const undated = (bytes: Buffer) => bytes.toString('latin1').replace(/\r\nDate: [^\r]*/, '');
    const lane = undated(await exchange(`${method} ${path.replace('CB', 'L')} HTTP/1.1\r\n${headers}`));
    const http = undated(
      await exchange(`${method} http://tally.test${path.replace('CB', 'H')} HTTP/1.1\r\n${headers}`),
    );
    return { lane, http };
  }

  it(
    'answers a hit the notice lane serves with the very bytes node:http answers it with, and records it alike',
    { timeout: 20_000 },
    async () => {
      await withTrackers(
        'both-paths.db',
        100,
        async ({ exchange, events, facts }) => {
          const cases: [string, string, RegExp][] = [
            [
              'GET',
              '/imptr?id=5&cachebuster=pCB',
              /^HTTP\/1\.1 200 OK\r\n[^]*Content-Type: image\/gif\r\n[^]*GIF89a/,
            ],
            [
              'HEAD',
              '/imptr?id=5&cachebuster=hCB',
              /^HTTP\/1\.1 200 OK\r\n[^]*Content-Length: 43\r\n[^]*\r\n\r\n$/,
            ],
            [
              'GET',
              '/imptr?id=5&cachebuster=sCB&t=1',
              /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\/\* Tally impression tracker \*\/\n$/,
            ],
            ['HEAD', '/imptr?id=5&cachebuster=shCB&t=1', /^HTTP\/1\.1 200 OK\r\n[^]*javascript[^]*\r\n\r\n$/],
            [
              'GET',
              '/imptr?id=5&cachebuster=rCB&redir=https://dest.example/x?a=1',
              /^HTTP\/1\.1 302 Found\r\n[^]*Location: https:\/\/dest\.example\/x\?a=1\r\n/,
            ],
            [
              'GET',
              '/clktr?id=7&cachebuster=kCB',
              /^HTTP\/1\.1 302 Found\r\n[^]*Location: https:\/\/landing\.example\/page\r\n/,
            ],
            ['GET', '/clktr?id=8&cachebuster=nCB', /^HTTP\/1\.1 400 Bad Request\r\n[^]*needs a <code>redir=/],
            [
              'GET',
              '/clktr?id=8&cachebuster=fCB&redir=ftp://files.example/x',
              /^HTTP\/1\.1 400 Bad Request\r\n[^]*allow-list\.<\/p>\n$/,
            ],
            ['GET', '/clktr?id=99', /^HTTP\/1\.1 404 Not Found\r\n[^]*No such click tracker/],
            ['HEAD', '/clktr?id=99', /^HTTP\/1\.1 404 Not Found\r\n[^]*text\/html[^]*\r\n\r\n$/],
          ];
          for (const [method, path, expected] of cases) {
            const { lane, http } = await bothPaths(exchange, method, path);
            assert.match(lane, expected, `${method} ${path}`);
            assert.equal(lane, http, `${method} ${path}`);
          }
          const recorded = events();
          const device = facts().map(({ ip, userAgent, rule }) => ({ ip, userAgent, rule }));
          assert.equal(recorded.length, 2 * cases.length);
          for (let at = 0; at < recorded.length; at += 2) {
            assert.deepEqual(recorded[at], recorded[at + 1], `${cases[at / 2]?.join(' ')}`);
            assert.deepEqual(device[at], device[at + 1], `${cases[at / 2]?.join(' ')}`);
          }
          assert.deepEqual(device[0], { ip: '127.0.0.1', userAgent: CHROME, rule: 0 });
          assert.deepEqual(
            recorded.filter((_, at) => at % 2 === 0).map((event) => `${event.outcome} ${event.reason}`),
            [
              'counted ',
              'not_counted invalid_traffic',
              'counted ',
              'not_counted invalid_traffic',
              'counted ',
              'counted ',
              'not_counted no_landing_page',
              'not_counted no_landing_page',
              'not_counted unknown_tracker',
              'not_counted unknown_tracker',
            ],
          );
        },
        { lane: true },
      );
    },
  );

  it(
    'answers 503 through the notice lane as through node:http when the commit queue refuses a hit, recording it on neither',
    { timeout: 10_000 },
    async () => {
      await withTrackers(
        'both-refused.db',
        0,
        async ({ exchange, events, metrics }) => {
          for (const method of ['GET', 'HEAD']) {
            const { lane, http } = await bothPaths(exchange, method, '/imptr?id=5&cachebuster=qCB');
            assert.match(lane, /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*Retry-After: 1\r\n/, method);
            assert.equal(lane, http, method);
          }
          assert.deepEqual(events(), []);
          assert.match(
            metrics.render(),
            /^tally_notices_refused_total\{impression_type="external_impression",reason="queue_full"\} 4$/m,
          );
        },
        { lane: true },
      );
    },
  );

  it(
    'answers a click the commit queue refuses 503 with Retry-After, through the notice lane as through node:http, its page sending a browser on to the landing page, recording it on neither',
    { timeout: 10_000 },
    async () => {
      await withTrackers(
        'click-refused.db',
        0,
        async ({ exchange, events, metrics }) => {
          const page =
            '<!doctype html><meta http-equiv="refresh" content="0; url=https://landing.example/page?a=1&amp;b=%22"><title>Continue</title>' +
            '<p>This click was not recorded. <a href="https://landing.example/page?a=1&amp;b=%22">Continue to the page</a>.</p>\n';
          for (const method of ['GET', 'HEAD']) {
            const path = `/clktr?id=7&cachebuster=qCB&redir=${encodeURIComponent('https://landing.example/page?a=1&b="')}`;
            const { lane, http } = await bothPaths(exchange, method, path);
            const [head, body] = lane.split('\r\n\r\n');
            assert.deepEqual(
              [
                head?.split('\r\n')[0],
                /\r\nRetry-After: 1\r\n/.test(`${head}\r\n`),
                /\r\nContent-Type: text\/html; charset=utf-8\r\n/.test(`${head}\r\n`),
                body,
              ],
              ['HTTP/1.1 503 Service Unavailable', true, true, method === 'HEAD' ? '' : page],
              method,
            );
            assert.equal(lane, http, method);
          }
          // A click with nowhere to land gets the plain 503.
          const nowhere = await bothPaths(exchange, 'GET', '/clktr?id=8&cachebuster=qCB');
          assert.match(
            nowhere.lane,
            /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*Retry-After: 1\r\n[^]*unavailable/,
          );
          assert.deepEqual(events(), []);
          assert.match(
            metrics.render(),
            /^tally_notices_refused_total\{impression_type="external_click",reason="queue_full"\} 6$/m,
          );
        },
        { lane: true },
      );
    },
  );

  it(
    'answers 503 with Retry-After through the notice lane, logged without its query values and recording nothing, to each hit whose catalog cannot be read, keeping the connection',
    { timeout: 10_000 },
    async () => {
      let failing = true;
      const catalog: CatalogView = {
        ...CATALOG,
        findTracker: (kind, by) => {
          if (failing) throw new Error('SQLITE_IOERR: disk I/O error');
          return CATALOG.findTracker(kind, by);
        },
      };
      await withTrackers(
        'lane-failed.db',
        100,
        async ({ exchange, events, logged }) => {
          const head = (cachebuster: string, redir = '') =>
            `GET /imptr?id=5&cachebuster=${cachebuster}${redir} HTTP/1.1\r\nHost: tally.test\r\nUser-Agent: ${CHROME}`;
          const redir = '&redir=https://user:secret@adv.example/land?email=a%40b.example';
          const failed = (
            await exchange(`${head('x1')}\r\n\r\n${head('x2', redir)}\r\nConnection: close`)
          ).toString('latin1');
          assert.match(
            failed,
            /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*Retry-After: 1\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Length: 25\r\n[^]*\r\n\r\nunavailable: retry later\nHTTP\/1\.1 503 /,
          );
          // The path and the names of the parameters, never their values: a redir may carry credentials.
          assert.deepEqual(logged, [
            'hit_failed /imptr?id=***&cachebuster=***',
            'hit_failed /imptr?id=***&cachebuster=***&redir=***',
          ]);
          assert.deepEqual(events(), []);
          failing = false;
          assert.match(
            (await exchange(`${head('x3')}\r\nConnection: close`)).toString('latin1'),
            /^HTTP\/1\.1 200 OK\r\n/,
          );
          assert.equal(events().length, 1);
        },
        { lane: true, catalog },
      );
    },
  );
});
