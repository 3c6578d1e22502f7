import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import type { MailCatcher } from '../support/mail-catcher.js';
import { startMailCatcher } from '../support/mail-catcher.js';
import { api, runCli, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { CHROME } from '../support/user-agents.js';
import { fixtureText } from '../support/fixtures.js';
import { hourStartMs } from '../../src/lib/time.js';

let tally: TestServer;
let smtp: MailCatcher | undefined;
const ids: Record<string, number> = {};

async function create(path: string, body: object): Promise<number> {
  const response = await api(tally, tally.adminKey, 'POST', path, body);
  assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
  assert.equal(typeof response.body.id, 'number');
  return response.body.id;
}

async function hit(path: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await fetch(`${tally.url}${path}`, {
    headers: { 'user-agent': CHROME, ...headers },
    redirect: 'manual',
  });
  await response.arrayBuffer().catch(() => undefined);
  return response;
}

async function report(key: string, groupBy: string, filters = ''): Promise<{ status: number; rows: any[] }> {
  const from = new Date(hourStartMs(Date.now()) - 86_400_000).toISOString();
  const to = new Date(hourStartMs(Date.now()) + 3_600_000).toISOString();
  const response = await api(
    tally,
    key,
    'GET',
    `/v1/reports?from=${from}&to=${to}&groupBy=${groupBy}${filters}`,
  );
  return { status: response.status, rows: response.body.rows ?? [] };
}

async function trackerRow(trackerId: number | undefined): Promise<any> {
  const { rows } = await report(tally.adminKey, 'tracker,outcome', `&tracker=${trackerId}&outcome=counted`);
  return rows[0] ?? { events: 0, mediaCostMicros: 0, revenueMicros: 0, profitMicros: 0 };
}

/** The tracker's events in the reports by outcome and reason: `[outcome, reason, events]` rows. */
async function outcomeCounts(trackerId: number | undefined): Promise<[string, string, number][]> {
  const { rows } = await report(tally.adminKey, 'outcome,reason', `&tracker=${trackerId}`);
  return rows.map((row: any) => [row.outcome, row.reason, row.events]);
}

/** HTTP stacks in-app video players fire with, which the bot list takes for bots. */
const PLAYER_AGENTS = [
  'com.google.android.exoplayer2/2.18.1 (Linux;Android 13) ExoPlayerLib/2.18.1',
  'okhttp/4.12.0',
];

/**
 * Creates a tracker of `kind` from `body`, fired by `firedBy` (left out: the default, a browser),
 * and answers its id.
 */
async function trackerFiredBy(
  kind: 'impression' | 'click',
  body: object,
  firedBy: string | undefined,
): Promise<number> {
  const response = await api(tally, tally.adminKey, 'POST', `/v1/${kind}-trackers`, {
    ...body,
    ...(firedBy === undefined ? {} : { firedBy }),
  });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  assert.equal(response.body.firedBy, firedBy ?? 'browser');
  return response.body.id as number;
}

/** The tracker's events in the reports: `[outcome, reason, ivtRule, events, revenueMicros]` rows. */
async function ivtRows(trackerId: number): Promise<unknown[][]> {
  const { rows } = await report(tally.adminKey, 'tracker,outcome,reason,ivtRule', `&tracker=${trackerId}`);
  return rows.map((row) => [row.outcome, row.reason, row.ivtRule, row.events, row.revenueMicros]);
}

/** The codes of the warnings the tracker of `kind` and id `trackerId` is answered with. */
async function trackerWarningCodes(kind: 'impression' | 'click', trackerId: number): Promise<string[]> {
  const read = await api(tally, tally.adminKey, 'GET', `/v1/${kind}-trackers/${trackerId}`);
  assert.equal(read.status, 200, JSON.stringify(read.body));
  return read.body.warnings.map((warning: { code: string }) => warning.code);
}

/**
 * Fires one hit of the tracker of `kind` (an impression answered 200, a click 302) that counts,
 * and answers the media cost and revenue it added to the reports, in micros.
 */
async function costOfOneCountedHit(
  kind: 'impression' | 'click',
  trackerId: number,
  cachebuster: string,
): Promise<[number, number]> {
  const beforeHit = await trackerRow(trackerId);
  const path = kind === 'impression' ? '/imptr' : '/clktr';
  const response = await hit(`${path}?id=${trackerId}&cachebuster=${cachebuster}`);
  assert.equal(response.status, kind === 'impression' ? 200 : 302);
  const afterHit = await trackerRow(trackerId);
  assert.equal(afterHit.events - beforeHit.events, 1);
  return [
    afterHit.mediaCostMicros - beforeHit.mediaCostMicros,
    afterHit.revenueMicros - beforeHit.revenueMicros,
  ];
}

before(async () => {
  smtp = await startMailCatcher();
  tally = await startServer({
    TALLY_SMTP_URL: smtp.url,
    TALLY_MAIL_FROM: 'tally@test.invalid',
  });

  ids.advertiser = await create('/v1/advertisers', { name: 'Acme Shoes' });
  ids.otherAdvertiser = await create('/v1/advertisers', { name: 'Other Advertiser' });
  ids.cpmLine = await create('/v1/line-items', {
    advertiserId: ids.advertiser,
    name: 'CPM 2.00',
    revenueType: 'cpm',
    revenueValue: 2,
  });
  ids.marginLine = await create('/v1/line-items', {
    advertiserId: ids.advertiser,
    name: 'Cost plus 25 %',
    revenueType: 'cost_plus_margin',
    revenueValue: 0.25,
  });
  ids.otherLine = await create('/v1/line-items', {
    advertiserId: ids.otherAdvertiser,
    name: 'Other',
    revenueType: 'none',
    revenueValue: 0,
  });
  ids.publisher = await create('/v1/publishers', { name: 'News Site' });
  ids.placementA = await create('/v1/placements', { publisherId: ids.publisher, name: 'Top banner' });
  ids.placementB = await create('/v1/placements', { publisherId: ids.publisher, name: 'Sidebar' });
  ids.unusedPlacement = await create('/v1/placements', { publisherId: ids.publisher, name: 'Unsold' });
  ids.baseRule = await create('/v1/payment-rules', {
    publisherId: ids.publisher,
    name: 'Base 50 %',
    pricingType: 'revshare',
    revshare: 0.5,
  });
  ids.cpmRule = await create('/v1/payment-rules', {
    publisherId: ids.publisher,
    name: 'Top banner CPM 1.00',
    pricingType: 'cpm',
    costCpm: 1,
    priority: 5,
    placementIds: [ids.placementA],
  });
  ids.expiredRule = await create('/v1/payment-rules', {
    publisherId: ids.publisher,
    name: 'Expired 30 %',
    pricingType: 'revshare',
    revshare: 0.3,
    priority: 9,
    placementIds: [ids.placementA],
    startDate: '2020-01-01',
    endDate: '2020-12-31',
  });
  ids.dynamicRule = await create('/v1/payment-rules', {
    publisherId: ids.publisher,
    name: 'Dynamic',
    pricingType: 'dynamic',
    revshare: 0.2,
    maxRevshare: 0.8,
    targetEcpm: 1.5,
    priority: 1,
    // On a placement no tracker is on: it prices only the tracker naming it as its own.
    placementIds: [ids.unusedPlacement],
  });
  const tracker = (name: string, extra: object) =>
    create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name,
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
      ...extra,
    });
  ids.topTracker = await tracker('Top banner tracker', { placementId: ids.placementA, code: 'acme-top' });
  ids.sideTracker = await tracker('Sidebar tracker', { placementId: ids.placementB });
  ids.dynamicTracker = await tracker('Dynamic tracker', { paymentRuleId: ids.dynamicRule });
  ids.marginTracker = await tracker('Margin tracker', { lineItemId: ids.marginLine });
  ids.inactiveTracker = await tracker('Paused tracker', { state: 'inactive' });
  ids.otherTracker = await create('/v1/impression-trackers', {
    advertiserId: ids.otherAdvertiser,
    name: 'Other tracker',
    lineItemId: ids.otherLine,
    publisherId: ids.publisher,
  });
  ids.clickTracker = await create('/v1/click-trackers', {
    advertiserId: ids.advertiser,
    name: 'Click',
    lineItemId: ids.cpmLine,
    publisherId: ids.publisher,
    clickUrl: 'https://landing.example/shoes?src=tally',
  });
  ids.bareClickTracker = await create('/v1/click-trackers', {
    advertiserId: ids.advertiser,
    name: 'No landing page',
    lineItemId: ids.cpmLine,
    publisherId: ids.publisher,
  });
});

after(async () => {
  await tally?.dispose();
  await smtp?.close();
});

describe('impression and click trackers end to end', () => {
  it('exports pixel and JavaScript tags in every placeholder syntax, redir always last', async () => {
    const expected: Record<string, [string, string, string]> = {
      xandr: ['[CACHEBUSTER]', '[ANCOST]', '[REDIRECT_URL]'],
      gam: ['%%CACHEBUSTER%%', '[ANCOST]', '[REDIRECT_URL]'],
      cm360: ['%n', '[ANCOST]', '[REDIRECT_URL]'],
      xandr_macros: ['${CACHEBUSTER}', '[ANCOST]', '[REDIRECT_URL]'],
    };
    for (const [placeholders, [cachebuster, ancost, redir]] of Object.entries(expected)) {
      for (const type of ['pixel', 'javascript'] as const) {
        const response = await api(
          tally,
          tally.adminKey,
          'POST',
          `/v1/impression-trackers/${ids.topTracker}/export`,
          {
            type,
            secure: true,
            params: ['redir', 'cachebuster', 'ancost'],
            placeholders,
            delivery: 'now',
          },
        );
        assert.equal(response.status, 200, JSON.stringify(response.body));
        const [{ trackerId, tag }] = response.body.tags;
        assert.equal(trackerId, ids.topTracker);
        assert.match(tag, /^<!-- Tally impression tracker: do not modify --> <(img|script) .* <!-- end -->$/);
        const element = new DOMParser().parseFromString(
          tag.replace(/<!--.*?-->/g, '').trim(),
          'text/html',
        ).documentElement;
        const src = element?.getAttribute('src') ?? '';
        const t = type === 'pixel' ? 2 : 1;
        assert.equal(
          src,
          `https://127.0.0.1:${tally.port}/imptr?id=${ids.topTracker}&cachebuster=${cachebuster}&ancost=${ancost}&t=${t}&redir=${redir}`,
        );
      }
    }
  });

  it('exports several trackers at once, as JSON or as a file, plain http when not secure', async () => {
    const body = {
      type: 'pixel',
      secure: false,
      params: ['cachebuster'],
      placeholders: 'xandr',
      delivery: 'now',
      trackerIds: [ids.sideTracker],
    };
    const response = await api(
      tally,
      tally.adminKey,
      'POST',
      `/v1/impression-trackers/${ids.topTracker}/export`,
      body,
    );
    assert.deepEqual(
      response.body.tags.map((tag: any) => tag.trackerId),
      [ids.topTracker, ids.sideTracker],
    );
    assert.ok(
      response.body.tags.every((tag: any) =>
        tag.tag.includes(`src="http://127.0.0.1:${tally.port}/imptr?id=`),
      ),
      `every tag loads this Tally’s /imptr: ${JSON.stringify(response.body.tags)}`,
    );
    const file = await fetch(`${tally.url}/v1/impression-trackers/${ids.topTracker}/export?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tally.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.match(
      file.headers.get('content-disposition') ?? '',
      /attachment; filename="tally-impression-trackers.txt"/,
    );
    assert.equal((await file.text()).match(/<img /g)?.length, 2);
  });

  it('exports a click tracker as its tracking URL', async () => {
    const response = await api(
      tally,
      tally.adminKey,
      'POST',
      `/v1/click-trackers/${ids.clickTracker}/export`,
      {
        type: 'pixel',
        secure: true,
        params: ['cachebuster', 'redir'],
        placeholders: 'gam',
        delivery: 'now',
      },
    );
    assert.equal(
      response.body.tags[0].tag,
      `https://127.0.0.1:${tally.port}/clktr?id=${ids.clickTracker}&cachebuster=%%CACHEBUSTER%%&redir=%%DEST_URL%%`,
    );
  });

  it('mails exported tags through the configured SMTP server', async () => {
    const response = await api(
      tally,
      tally.adminKey,
      'POST',
      `/v1/impression-trackers/${ids.topTracker}/export`,
      {
        type: 'javascript',
        secure: true,
        params: ['cachebuster'],
        placeholders: 'xandr',
        delivery: 'email',
        email: 'adops@example.com',
      },
    );
    assert.equal(response.status, 202, JSON.stringify(response.body));
    assert.equal(smtp?.mails.length, 1);
    const mail = (smtp?.mails[0]?.text ?? '')
      .replace(/=\r\n/g, '')
      .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    assert.match(mail, /To: adops@example.com/);
    assert.ok(
      mail.includes(
        `src="https://127.0.0.1:${tally.port}/imptr?id=${ids.topTracker}&amp;cachebuster=[CACHEBUSTER]&amp;t=1"`,
      ),
      mail,
    );
  });

  it('refuses email delivery clearly when no SMTP server is configured', async () => {
    const bare = await startServer();
    try {
      const advertiser = await api(bare, bare.adminKey, 'POST', '/v1/advertisers', { name: 'a' });
      const line = await api(bare, bare.adminKey, 'POST', '/v1/line-items', {
        advertiserId: advertiser.body.id,
        name: 'l',
        revenueType: 'none',
        revenueValue: 0,
      });
      const publisher = await api(bare, bare.adminKey, 'POST', '/v1/publishers', { name: 'p' });
      const tracker = await api(bare, bare.adminKey, 'POST', '/v1/impression-trackers', {
        advertiserId: advertiser.body.id,
        name: 't',
        lineItemId: line.body.id,
        publisherId: publisher.body.id,
      });
      const response = await api(
        bare,
        bare.adminKey,
        'POST',
        `/v1/impression-trackers/${tracker.body.id}/export`,
        {
          type: 'pixel',
          secure: true,
          params: [],
          placeholders: 'xandr',
          delivery: 'email',
          email: 'adops@example.com',
        },
      );
      assert.equal(response.status, 422);
      assert.equal(response.body.error.code, 'MAIL_NOT_CONFIGURED');
      assert.match(response.body.error.message, /TALLY_SMTP_URL/);
    } finally {
      await bare.dispose();
    }
  });

  it('answers an impression hit with the GIF (t=2) or a script (t=1), by id or by code', async () => {
    const pixel = await hit(`/imptr?id=${ids.topTracker}&cachebuster=c1&t=2`);
    assert.equal(pixel.status, 200);
    assert.equal(pixel.headers.get('content-type'), 'image/gif');
    const script = await hit(`/imptr?code=acme-top&cachebuster=c2&t=1`);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
    const row = await trackerRow(ids.topTracker);
    assert.equal(row.events, 2);
  });

  it('counts a cachebuster fired twice at once on the same tracker once, the other a duplicate', async () => {
    await hit(`/imptr?id=${ids.sideTracker}&cachebuster=dup-1`);
    await hit(`/imptr?id=${ids.sideTracker}&cachebuster=dup-1`);
    assert.deepEqual(await outcomeCounts(ids.sideTracker), [
      ['counted', '', 1],
      ['not_counted', 'duplicate', 1],
    ]);
  });

  it('counts a cachebuster two browsers fire, as a timestamp macro gives, for each; one browser firing it again a duplicate', async () => {
    const stamped = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Timestamp cachebuster',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
    });
    // `[timestamp]` in seconds: two people's pages served in the same second.
    const path = `/imptr?id=${stamped}&cachebuster=1765094400&t=2`;
    await hit(path, { 'x-forwarded-for': '198.51.100.7' });
    await hit(path, { 'x-forwarded-for': '203.0.113.40' });
    await hit(path, { 'x-forwarded-for': '198.51.100.7' });
    assert.deepEqual(await outcomeCounts(stamped), [
      ['counted', '', 2],
      ['not_counted', 'duplicate', 1],
    ]);
  });

  it('counts a 4000-character cachebuster once, its repeat a duplicate, and another as long once', async () => {
    const repeated = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Long cachebusters',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
    });
    const long = 'L'.repeat(4000);
    for (const cachebuster of [long, long, `${long.slice(1)}M`, `${long.slice(1)}M`]) {
      await hit(`/imptr?id=${repeated}&cachebuster=${cachebuster}`);
    }
    assert.deepEqual(await outcomeCounts(repeated), [
      ['counted', '', 2],
      ['not_counted', 'duplicate', 2],
    ]);
  });

  it('counts hits whose cachebuster the ad server left unreplaced, flagged for ad ops', async () => {
    for (const placeholder of ['[CACHEBUSTER]', '${CACHEBUSTER}', '%%CACHEBUSTER%%', '%n', '']) {
      for (let repeat = 0; repeat < 2; repeat++) {
        await hit(
          `/imptr?id=${ids.marginTracker}&cachebuster=${encodeURIComponent(placeholder).replace(/%25/g, '%')}`,
        );
      }
    }
    await hit(`/imptr?id=${ids.marginTracker}`);
    const { rows } = await report(
      tally.adminKey,
      'outcome,cachebusterMissing',
      `&tracker=${ids.marginTracker}`,
    );
    assert.deepEqual(rows, [
      {
        outcome: 'counted',
        cachebusterMissing: true,
        events: 11,
        priceMicros: 0,
        mediaCostMicros: 0,
        revenueMicros: 0,
        profitMicros: 0,
      },
    ]);
  });

  it('prices a hit with the publisher’s highest-priority matching payment rule and the line item’s revenue', async () => {
    // Top banner: the 9-priority rule expired, so the 5-priority CPM 1.00 rule applies; revenue CPM 2.00.
    const top = await trackerRow(ids.topTracker);
    assert.equal(top.mediaCostMicros, 2 * 1000);
    assert.equal(top.revenueMicros, 2 * 2000);
    assert.equal(top.profitMicros, 2 * 1000);
    // Sidebar: no conditional rule matches (the dynamic one is on another placement), so the 50 % base rule.
    const side = await trackerRow(ids.sideTracker);
    assert.deepEqual([side.mediaCostMicros, side.revenueMicros], [1000, 2000]);
  });

  it('prices a hit with the tracker’s own (dynamic) payment rule', async () => {
    await hit(`/imptr?id=${ids.dynamicTracker}&cachebuster=d1`);
    const row = await trackerRow(ids.dynamicTracker);
    // Revenue 2000 µ; the target eCPM 1.50 (1500 µ) lies within 20–80 % of it.
    assert.deepEqual([row.mediaCostMicros, row.revenueMicros], [1500, 2000]);
  });

  it('prices a hit by the publisher’s rules when the tracker’s own rule is out of its dates or was replaced as the base', async () => {
    // Its own rule (30 %) ended in 2020: the publisher's rules apply, and on no placement that is the 50 % base.
    const expiredOwn = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Own rule expired',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
      paymentRuleId: ids.expiredRule,
    });
    await hit(`/imptr?id=${expiredOwn}&cachebuster=x1`);
    const expired = await report(tally.adminKey, 'paymentRule', `&tracker=${expiredOwn}`);
    assert.deepEqual(
      expired.rows.map((row) => [row.paymentRule, row.mediaCostMicros, row.revenueMicros]),
      [[ids.baseRule, 1000, 2000]],
    );

    // Its own rule was the base until another rule became the base: it is an inactive rule now.
    const publisher = await create('/v1/publishers', { name: 'Replaced base' });
    const oldBase = await create('/v1/payment-rules', {
      publisherId: publisher,
      name: 'Old base 50 %',
      pricingType: 'revshare',
      revshare: 0.5,
    });
    const namesOldBase = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Own rule replaced',
      lineItemId: ids.cpmLine,
      publisherId: publisher,
      paymentRuleId: oldBase,
    });
    await hit(`/imptr?id=${namesOldBase}&cachebuster=x1`);
    const newBase = await create('/v1/payment-rules', {
      publisherId: publisher,
      name: 'New base CPM 0.30',
      pricingType: 'cpm',
      costCpm: 0.3,
      isBase: true,
    });
    await hit(`/imptr?id=${namesOldBase}&cachebuster=x2`);
    const replaced = await report(tally.adminKey, 'paymentRule', `&tracker=${namesOldBase}`);
    assert.deepEqual(
      replaced.rows.map((row) => [row.paymentRule, row.mediaCostMicros]),
      [
        [oldBase, 1000],
        [newBase, 300],
      ],
    );
  });

  it('takes ancost as the media cost over any payment rule, and records a malformed one as missing', async () => {
    await hit(`/imptr?id=${ids.dynamicTracker}&cachebuster=a1&ancost=0.0042`);
    const row = await trackerRow(ids.dynamicTracker);
    assert.deepEqual([row.mediaCostMicros, row.revenueMicros], [1500 + 4200, 4000]);
    const margin = await api(tally, tally.adminKey, 'GET', `/v1/line-items/${ids.marginLine}`);
    assert.equal(margin.body.revenueValue, 0.25);
    const before = await trackerRow(ids.marginTracker);
    await hit(`/imptr?id=${ids.marginTracker}&cachebuster=m1&ancost=0.004`);
    await hit(`/imptr?id=${ids.marginTracker}&cachebuster=m2&ancost=12,5`);
    const afterRow = await trackerRow(ids.marginTracker);
    // Cost plus 25 % margin on an ancost of 0.004: revenue 0.005. The malformed ancost falls back to the base rule (revshare of a cost-based revenue: 0).
    assert.equal(afterRow.events - before.events, 2);
    assert.equal(afterRow.mediaCostMicros - before.mediaCostMicros, 4000);
    assert.equal(afterRow.revenueMicros - before.revenueMicros, 5000);
  });

  it('warns on an impression tracker whose hits its terms book at a cost of 0, as long as they do, and its hits cost what the warnings say', async () => {
    const publisher = await create('/v1/publishers', { name: 'No terms yet' });
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Margin on a new publisher',
      lineItemId: ids.marginLine,
      publisherId: publisher,
    });
    const warnings = () => trackerWarningCodes('impression', tracker);
    const costOfOneHit = (cachebuster: string) => costOfOneCountedHit('impression', tracker, cachebuster);

    assert.deepEqual(await warnings(), ['no_payment_rule']);
    assert.deepEqual(await costOfOneHit('w1'), [0, 0]);

    // A share of a revenue computed from the cost: the only amounts both terms allow are 0.
    const created = await api(tally, tally.adminKey, 'POST', '/v1/payment-rules', {
      publisherId: publisher,
      name: 'Base 40 %',
      pricingType: 'revshare',
      revshare: 0.4,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const rule = created.body.id as number;
    // The write that zeroed the tracker says so where it is made.
    assert.deepEqual(
      created.body.warnings.map((warning: { code: string; message: string }) => warning.code),
      ['trackers_priced_at_zero'],
    );
    assert.match(created.body.warnings[0].message, new RegExp(`^impression tracker ${tracker} books hits`));
    const shared = await api(tally, tally.adminKey, 'GET', `/v1/impression-trackers/${tracker}`);
    assert.deepEqual(
      shared.body.warnings.map((warning: { code: string; message: string }) => warning.code),
      ['zero_media_cost'],
    );
    assert.match(shared.body.warnings[0].message, new RegExp(`payment rule ${rule} \\(Base 40 %\\)`));
    assert.match(shared.body.warnings[0].message, /cost_plus_margin revenue is computed from the cost/);
    assert.deepEqual(await costOfOneHit('w2'), [0, 0]);
    // The answer read back, warnings and all, is a valid replacement.
    const replaced = await api(
      tally,
      tally.adminKey,
      'PUT',
      `/v1/impression-trackers/${tracker}`,
      shared.body,
    );
    assert.equal(replaced.status, 200, JSON.stringify(replaced.body));

    const repriced = await api(tally, tally.adminKey, 'PATCH', `/v1/payment-rules/${rule}`, {
      pricingType: 'cpm',
      costCpm: 1,
      revshare: null,
    });
    assert.equal(repriced.status, 200, JSON.stringify(repriced.body));
    assert.deepEqual(repriced.body.warnings, []);
    // An edit of its line item names the line item's trackers still at 0: the one on the first
    // publisher, whose base rule is a share.
    const lineItem = await api(tally, tally.adminKey, 'PATCH', `/v1/line-items/${ids.marginLine}`, {
      revenueValue: 0.25,
    });
    assert.equal(lineItem.status, 200, JSON.stringify(lineItem.body));
    assert.match(
      lineItem.body.warnings[0]?.message ?? '',
      new RegExp(`^impression tracker ${ids.marginTracker} books hits without ancost at a media cost of 0`),
    );
    const rereadRule = await api(tally, tally.adminKey, 'GET', `/v1/payment-rules/${rule}`);
    assert.equal(Object.hasOwn(rereadRule.body, 'warnings'), false, 'a read answers no warnings');
    assert.deepEqual(await warnings(), []);
    // CPM 1.00 paid, plus 25 %.
    assert.deepEqual(await costOfOneHit('w3'), [1000, 1250]);
  });

  it('reports a hit priced by its ancost under no payment rule (0), not under the rule its ancost overrode', async () => {
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Ancost by rule',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
    });
    await hit(`/imptr?id=${tracker}&cachebuster=r1&ancost=0.5`);
    await hit(`/imptr?id=${tracker}&cachebuster=r2`);
    const { rows } = await report(tally.adminKey, 'paymentRule', `&tracker=${tracker}`);
    assert.deepEqual(
      rows.map((row) => [row.paymentRule, row.events, row.mediaCostMicros]),
      [
        [0, 1, 500_000],
        [ids.baseRule, 1, 1000],
      ],
    );
  });

  it('redirects to an unencoded redir with its own ? and &, taken as it stands', async () => {
    const response = await hit(
      `/imptr?id=${ids.topTracker}&cachebuster=r1&t=2&redir=https://landing.example/p?a=1&b=two&c=%20x`,
    );
    assert.equal(response.status, 302);
    assert.equal(response.headers.get('location'), 'https://landing.example/p?a=1&b=two&c=%20x');
  });

  it('refuses redirect targets that are not http(s) or would inject headers, and still records the hit', async () => {
    const before = (await trackerRow(ids.topTracker)).events;
    const encodedInjection = 'https%3A%2F%2Flanding.example%2F%0D%0ASet-Cookie%3A%20x%3D1';
    for (const target of ['javascript:alert(1)', encodedInjection, '[REDIRECT_URL]', '//evil.example']) {
      const response = await hit(
        `/imptr?id=${ids.topTracker}&cachebuster=bad-${encodeURIComponent(target)}&redir=${target}`,
      );
      assert.equal(response.status, 200, target);
      assert.equal(response.headers.get('location'), null);
      assert.equal(response.headers.get('set-cookie'), null);
    }
    assert.equal((await trackerRow(ids.topTracker)).events, before + 4);
    const stillEncoded = await hit(
      `/imptr?id=${ids.topTracker}&cachebuster=enc&redir=https://landing.example/%0d%0aSet-Cookie:%20x=1`,
    );
    assert.equal(stillEncoded.headers.get('location'), 'https://landing.example/%0d%0aSet-Cookie:%20x=1');
    assert.equal(stillEncoded.headers.get('set-cookie'), null);
  });

  it('enforces the account’s redirect allow-list when it is switched on', async () => {
    const set = await api(tally, tally.adminKey, 'PUT', '/v1/account/redirect-allowlist', {
      enabled: true,
      domains: ['landing.example'],
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    // The very next hit follows the change: the catalog snapshot applies a local write at once.
    const allowed = await hit(
      `/imptr?id=${ids.topTracker}&cachebuster=al1&redir=https://www.landing.example/x`,
    );
    assert.equal(allowed.status, 302);
    const refused = await hit(`/imptr?id=${ids.topTracker}&cachebuster=al2&redir=https://evil.example/x`);
    assert.equal(refused.status, 200);
    await api(tally, tally.adminKey, 'PUT', '/v1/account/redirect-allowlist', {
      enabled: false,
      domains: [],
    });
  });

  it('records a click and sends it to redir, else to the tracker’s click URL, else to a clear error page, not counting it', async () => {
    const viaRedir = await hit(
      `/clktr?id=${ids.clickTracker}&cachebuster=k1&redir=https://other.example/a?b=c&d=e`,
    );
    assert.equal(viaRedir.status, 302);
    assert.equal(viaRedir.headers.get('location'), 'https://other.example/a?b=c&d=e');
    const viaClickUrl = await hit(`/clktr?id=${ids.clickTracker}&cachebuster=k2`);
    assert.equal(viaClickUrl.headers.get('location'), 'https://landing.example/shoes?src=tally');
    const nowhere = await fetch(`${tally.url}/clktr?id=${ids.bareClickTracker}`, {
      headers: { 'user-agent': CHROME },
    });
    assert.equal(nowhere.status, 400);
    assert.match(await nowhere.text(), /the link needs a <code>redir=<\/code> parameter/);
    const refused = await fetch(`${tally.url}/clktr?id=${ids.bareClickTracker}&redir=javascript:alert(1)`, {
      headers: { 'user-agent': CHROME },
    });
    assert.equal(refused.status, 400);
    assert.match(
      await refused.text(),
      /target or the tracker’s click URL is not an http\(s\) URL or is outside/,
    );
    // A click URL the account's allow-list no longer admits is refused, and the page says so.
    const allowlist = (domains: string[]) =>
      api(tally, tally.adminKey, 'PUT', '/v1/account/redirect-allowlist', {
        enabled: domains.length > 0,
        domains,
      });
    // The allow-list's answer names the click tracker it leaves no landing page, as its own answer does.
    const narrowed = await allowlist(['elsewhere.example']);
    assert.match(
      narrowed.body.warnings[0]?.message ?? '',
      new RegExp(
        `^click tracker ${ids.clickTracker} has a clickUrl this allow-list refuses \\(host landing\\.example\\)`,
      ),
    );
    const clickTracker = await api(tally, tally.adminKey, 'GET', `/v1/click-trackers/${ids.clickTracker}`);
    assert.deepEqual(
      clickTracker.body.warnings.map((warning: { code: string }) => warning.code),
      ['no_landing_page'],
    );
    const refusedClickUrl = await fetch(`${tally.url}/clktr?id=${ids.clickTracker}&cachebuster=k3`, {
      headers: { 'user-agent': CHROME },
    });
    await allowlist([]);
    assert.equal(refusedClickUrl.status, 400);
    assert.match(
      await refusedClickUrl.text(),
      /the tracker’s click URL is not an http\(s\) URL or is outside/,
    );
    const unknown = await fetch(`${tally.url}/clktr?id=999999&redir=https://other.example/`, {
      headers: { 'user-agent': CHROME },
    });
    assert.equal(unknown.status, 404);
    assert.match(await unknown.text(), /No such click tracker/);
    // Every click was recorded; those that landed nowhere, or named no tracker, as not counted.
    const { rows } = await report(
      tally.adminKey,
      'impressionType,outcome,reason',
      '&impressionType=external_click',
    );
    assert.deepEqual(
      rows.map((row) => [row.impressionType, row.outcome, row.reason, row.events]),
      [
        ['external_click', 'counted', '', 2],
        ['external_click', 'not_counted', 'no_landing_page', 3],
        ['external_click', 'not_counted', 'unknown_tracker', 1],
      ],
    );
  });

  it('prices a click by its ancost alone: its CPM line item earns nothing on it, and without ancost it costs nothing', async () => {
    const before = await trackerRow(ids.clickTracker);
    await hit(`/clktr?id=${ids.clickTracker}&cachebuster=p1&ancost=0.25`);
    await hit(`/clktr?id=${ids.clickTracker}&cachebuster=p2`);
    const afterRow = await trackerRow(ids.clickTracker);
    assert.equal(afterRow.events - before.events, 2);
    assert.equal(afterRow.mediaCostMicros - before.mediaCostMicros, 250_000);
    assert.equal(afterRow.revenueMicros - before.revenueMicros, 0);
  });

  it('bills a cost-per-click line item its price on each counted click and nothing on an impression, paying the publisher its share of the clicks, as reports and billing records show', async () => {
    const cpcLine = await create('/v1/line-items', {
      advertiserId: ids.advertiser,
      name: 'CPC 0.40',
      revenueType: 'cpc',
      revenueValue: 0.4,
    });
    // On no placement: the publisher's 50 % base rule prices them.
    const clicks = await create('/v1/click-trackers', {
      advertiserId: ids.advertiser,
      name: 'CPC click',
      lineItemId: cpcLine,
      publisherId: ids.publisher,
      clickUrl: 'https://landing.example/cpc',
    });
    const impressions = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'CPC impression',
      lineItemId: cpcLine,
      publisherId: ids.publisher,
    });
    // On the top banner: its CPM 1.00 rule prices them.
    const topImpressions = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'CPC impression, top banner',
      lineItemId: cpcLine,
      publisherId: ids.publisher,
      placementId: ids.placementA,
    });

    for (const path of [
      `/clktr?id=${clicks}&cachebuster=c1`,
      `/clktr?id=${clicks}&cachebuster=c2`,
      `/clktr?id=${clicks}&cachebuster=c3&ancost=0.25`,
      `/clktr?id=${clicks}&cachebuster=c1`, // a duplicate: not counted
    ]) {
      assert.equal((await hit(path)).status, 302, path);
    }
    for (const path of [
      `/imptr?id=${impressions}&cachebuster=i1`,
      `/imptr?id=${impressions}&cachebuster=i2&ancost=0.0042`,
      `/imptr?id=${topImpressions}&cachebuster=t1`,
    ]) {
      assert.equal((await hit(path)).status, 200, path);
    }

    // Three clicks at 0.40: two pay the publisher half (0.20 each), one its ancost of 0.25.
    const clickRow = await trackerRow(clicks);
    assert.deepEqual(
      [clickRow.events, clickRow.revenueMicros, clickRow.mediaCostMicros, clickRow.profitMicros],
      [3, 1_200_000, 650_000, 550_000],
    );
    // Impressions earn nothing: half of nothing, an ancost of 0.0042, and the CPM rule's 1.00 CPM.
    const impressionRow = await trackerRow(impressions);
    assert.deepEqual(
      [impressionRow.events, impressionRow.revenueMicros, impressionRow.mediaCostMicros],
      [2, 0, 4_200],
    );
    const topRow = await trackerRow(topImpressions);
    assert.deepEqual([topRow.events, topRow.revenueMicros, topRow.mediaCostMicros], [1, 0, 1_000]);
    const lineItemRows = await report(
      tally.adminKey,
      'lineItem,impressionType',
      `&lineItem=${cpcLine}&outcome=counted`,
    );
    assert.deepEqual(
      lineItemRows.rows.map((row) => [
        row.impressionType,
        row.events,
        row.revenueMicros,
        row.mediaCostMicros,
      ]),
      [
        ['external_click', 3, 1_200_000, 650_000],
        ['external_impression', 3, 0, 5_200],
      ],
    );

    // One billing record per counted click, each billed the price per click.
    const records = await api(
      tally,
      tally.adminKey,
      'GET',
      '/v1/billing-records?impressionType=external_click&limit=500',
    );
    assert.equal(records.status, 200, JSON.stringify(records.body));
    assert.deepEqual(
      records.body.records
        .filter((record: any) => record.trackerId === clicks)
        .map((record: any) => [record.lineItemId, record.revenueMicros, record.mediaCostMicros]),
      [
        [cpcLine, 400_000, 200_000],
        [cpcLine, 400_000, 200_000],
        [cpcLine, 400_000, 250_000],
      ],
    );

    // The impression tracker under the share says why its hits cost nothing; the one under the CPM rule is fine.
    const warned = await api(tally, tally.adminKey, 'GET', `/v1/impression-trackers/${impressions}`);
    assert.deepEqual(
      warned.body.warnings.map((warning: { code: string }) => warning.code),
      ['zero_media_cost'],
    );
    assert.match(
      warned.body.warnings[0].message,
      new RegExp(
        `payment rule ${ids.baseRule} \\(Base 50 %\\) prices are booked with a media cost of 0 and a revenue of 0: .*line item ${cpcLine} earns on clicks only \\(revenueType cpc\\)`,
      ),
    );
    const fine = await api(tally, tally.adminKey, 'GET', `/v1/impression-trackers/${topImpressions}`);
    assert.deepEqual(fine.body.warnings, []);
  });

  it('warns on a click tracker of a cost-per-click line item whose clicks its terms book at a cost of 0, as long as they do, and its clicks cost what the warnings say', async () => {
    const cpcLine = await create('/v1/line-items', {
      advertiserId: ids.advertiser,
      name: 'CPC 0.50',
      revenueType: 'cpc',
      revenueValue: 0.5,
    });
    const publisher = await create('/v1/publishers', { name: 'No terms for clicks yet' });
    const tracker = await create('/v1/click-trackers', {
      advertiserId: ids.advertiser,
      name: 'CPC click on a new publisher',
      lineItemId: cpcLine,
      publisherId: publisher,
      clickUrl: 'https://landing.example/cpc-new',
    });
    const warnings = () => trackerWarningCodes('click', tracker);
    const costOfOneClick = (cachebuster: string) => costOfOneCountedHit('click', tracker, cachebuster);

    assert.deepEqual(await warnings(), ['no_payment_rule']);
    assert.deepEqual(await costOfOneClick('n1'), [0, 500_000]);
    // A cpm rule pays impressions only: the click still costs 0, as its terms say, unwarned.
    const cpmBase = await create('/v1/payment-rules', {
      publisherId: publisher,
      name: 'Base CPM 1.00',
      pricingType: 'cpm',
      costCpm: 1,
    });
    assert.deepEqual(await warnings(), []);
    assert.deepEqual(await costOfOneClick('n2'), [0, 500_000]);
    // A dynamic rule whose minimum share is 0 pays a click nothing: its target eCPM is per impression.
    const dynamic = await api(tally, tally.adminKey, 'PATCH', `/v1/payment-rules/${cpmBase}`, {
      pricingType: 'dynamic',
      costCpm: null,
      revshare: 0,
      maxRevshare: 0.8,
      targetEcpm: 1.5,
    });
    assert.equal(dynamic.status, 200, JSON.stringify(dynamic.body));
    assert.deepEqual(await warnings(), ['zero_media_cost']);
    assert.deepEqual(await costOfOneClick('n3'), [0, 500_000]);
    const shared = await api(tally, tally.adminKey, 'PATCH', `/v1/payment-rules/${cpmBase}`, {
      revshare: 0.4,
    });
    assert.equal(shared.status, 200, JSON.stringify(shared.body));
    assert.deepEqual(await warnings(), []);
    // 40 % of 0.50.
    assert.deepEqual(await costOfOneClick('n4'), [200_000, 500_000]);
  });

  it('does not count inactive or unknown trackers, bots or prefetches', async () => {
    await hit(`/imptr?id=${ids.inactiveTracker}&cachebuster=i1`);
    await hit(`/imptr?id=987654&cachebuster=u1`);
    await hit(`/imptr?code=no-such-code`);
    await hit(`/imptr?id=${ids.sideTracker}&cachebuster=b1`, {
      'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    });
    await hit(`/imptr?id=${ids.sideTracker}&cachebuster=p1`, { 'sec-purpose': 'prefetch' });
    const { rows } = await report(
      tally.adminKey,
      'reason',
      '&outcome=not_counted&impressionType=external_impression',
    );
    const byReason = Object.fromEntries(rows.map((row) => [row.reason, row.events]));
    assert.equal(byReason.inactive_tracker, 1);
    assert.equal(byReason.unknown_tracker, 2);
    assert.equal(byReason.invalid_traffic, 1);
    assert.equal(byReason.prefetch, 1);
  });

  it('records the hits on the trackers of an inactive line item as not counted (inactive_line_item), and counts them again once it is active', async () => {
    const lineItem = await create('/v1/line-items', {
      advertiserId: ids.advertiser,
      name: 'Paused CPM 2.00',
      revenueType: 'cpm',
      revenueValue: 2,
    });
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'On a paused line item',
      lineItemId: lineItem,
      publisherId: ids.publisher,
    });
    const state = async (value: string) => {
      const patched = await api(tally, tally.adminKey, 'PATCH', `/v1/line-items/${lineItem}`, {
        state: value,
      });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
    };
    await state('inactive');
    await hit(`/imptr?id=${tracker}&cachebuster=paused`);
    await state('active');
    await hit(`/imptr?id=${tracker}&cachebuster=resumed`);
    const { rows } = await report(tally.adminKey, 'lineItem,outcome,reason', `&tracker=${tracker}`);
    assert.deepEqual(
      rows.map((row) => [row.lineItem, row.outcome, row.reason, row.events]),
      [
        [lineItem, 'counted', '', 1],
        [lineItem, 'not_counted', 'inactive_line_item', 1],
      ],
    );
    const byReason = await report(tally.adminKey, 'tracker', `&tracker=${tracker}&reason=inactive_line_item`);
    assert.equal(byReason.status, 200);
    assert.deepEqual(
      byReason.rows.map((row) => row.events),
      [1],
    );
  });

  it('warns in an export that the tag’s hits will not count while its tracker or line item is inactive, with the code its hits are recorded under', async () => {
    const lineItem = await create('/v1/line-items', {
      advertiserId: ids.advertiser,
      name: 'Not started',
      revenueType: 'cpm',
      revenueValue: 2,
      state: 'inactive',
    });
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'On a line item not started',
      lineItemId: lineItem,
      publisherId: ids.publisher,
    });
    const exported = async () => {
      const response = await api(tally, tally.adminKey, 'POST', `/v1/impression-trackers/${tracker}/export`, {
        secure: false,
        params: ['cachebuster'],
        trackerIds: [ids.inactiveTracker],
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body.warnings.map((warning: { code: string; trackerId: number; message: string }) => [
        warning.code,
        warning.trackerId,
        warning.message.replace(/:.*/, ''),
      ]);
    };
    assert.deepEqual(await exported(), [
      [
        'inactive_line_item',
        tracker,
        `impression tracker ${tracker}'s line item ${lineItem} is inactive, so every hit on its tag is recorded as inactive_line_item and not counted`,
      ],
      [
        'inactive_tracker',
        ids.inactiveTracker,
        `impression tracker ${ids.inactiveTracker} is inactive, so every hit on its tag is recorded as inactive_tracker and not counted`,
      ],
    ]);
    await hit(`/imptr?id=${tracker}&cachebuster=before-start`);
    const { rows } = await report(tally.adminKey, 'outcome,reason', `&tracker=${tracker}`);
    assert.deepEqual(
      rows.map((row) => [row.outcome, row.reason]),
      [['not_counted', 'inactive_line_item']],
    );
    const activated = await api(tally, tally.adminKey, 'PATCH', `/v1/line-items/${lineItem}`, {
      state: 'active',
    });
    assert.equal(activated.status, 200);
    assert.deepEqual(
      (await exported()).map((warning: unknown[]) => warning[0]),
      ['inactive_tracker'],
    );
  });

  it('reports every dimension of the chain, and no currency (the catalog names none)', async () => {
    const { rows } = await report(
      tally.adminKey,
      'impressionType,advertiser,lineItem,tracker,placement,paymentRule,publisher,publisherId,currency',
      '&outcome=counted&tracker=' + ids.topTracker,
    );
    assert.equal(rows.length, 1);
    assert.deepEqual(
      {
        ...rows[0],
        events: undefined,
        mediaCostMicros: undefined,
        revenueMicros: undefined,
        profitMicros: undefined,
        priceMicros: undefined,
      },
      {
        impressionType: 'external_impression',
        advertiser: ids.advertiser,
        lineItem: ids.cpmLine,
        tracker: ids.topTracker,
        placement: ids.placementA,
        paymentRule: ids.cpmRule,
        // Its publisher has no OpenRTB publisher id (externalId).
        publisher: '',
        publisherId: ids.publisher,
        currency: '',
        events: undefined,
        mediaCostMicros: undefined,
        revenueMicros: undefined,
        profitMicros: undefined,
        priceMicros: undefined,
      },
    );
  });

  it('counts an Android video player’s hits on a tracker fired by an app, and records them invalid traffic on a browser’s', async () => {
    const tracker = (name: string, firedBy?: string) =>
      trackerFiredBy(
        'impression',
        { advertiserId: ids.advertiser, name, lineItemId: ids.cpmLine, publisherId: ids.publisher },
        firedBy,
      );
    const appTracker = await tracker('VAST Impression in the Android app', 'app');
    const browserTracker = await tracker('Web tag placed in the VAST by mistake');
    for (const trackerId of [appTracker, browserTracker]) {
      for (const [index, userAgent] of PLAYER_AGENTS.entries()) {
        const response = await hit(`/imptr?id=${trackerId}&cachebuster=vast-${index}`, {
          'user-agent': userAgent,
        });
        assert.equal(response.status, 200);
      }
    }
    // A declared robot is no app's HTTP stack, whoever fires the tracker.
    await hit(`/imptr?id=${appTracker}&cachebuster=vast-bot`, {
      'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)',
    });
    assert.deepEqual(await ivtRows(appTracker), [
      ['counted', '', '', 2, 4000],
      ['not_counted', 'invalid_traffic', 'bot_user_agent', 1, 0],
    ]);
    assert.deepEqual(await ivtRows(browserTracker), [
      ['not_counted', 'invalid_traffic', 'bot_user_agent', 2, 0],
    ]);
  });

  it('bills the clicks an in-app video player fires at a VAST <ClickTracking> on a click tracker fired by an app, and records them invalid traffic on a browser’s', async () => {
    const cpcLine = await create('/v1/line-items', {
      advertiserId: ids.advertiser,
      name: 'CPC 0.30, in-app video',
      revenueType: 'cpc',
      revenueValue: 0.3,
    });
    const tracker = (name: string, firedBy?: string) =>
      trackerFiredBy(
        'click',
        {
          advertiserId: ids.advertiser,
          name,
          lineItemId: cpcLine,
          publisherId: ids.publisher,
          clickUrl: 'https://landing.example/video',
        },
        firedBy,
      );
    const appTracker = await tracker('VAST ClickTracking in the Android app', 'app');
    const browserTracker = await tracker('Web click tag placed in the VAST by mistake');
    for (const trackerId of [appTracker, browserTracker]) {
      for (const [index, userAgent] of PLAYER_AGENTS.entries()) {
        const response = await hit(`/clktr?id=${trackerId}&cachebuster=click-${index}`, {
          'user-agent': userAgent,
        });
        assert.equal(response.status, 302);
        assert.equal(response.headers.get('location'), 'https://landing.example/video');
      }
    }
    // A declared robot (a link preview) is no app's HTTP stack, whoever fires the tracker.
    await hit(`/clktr?id=${appTracker}&cachebuster=click-bot`, {
      'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
    });
    assert.deepEqual(await ivtRows(appTracker), [
      ['counted', '', '', 2, 600_000],
      ['not_counted', 'invalid_traffic', 'bot_user_agent', 1, 0],
    ]);
    assert.deepEqual(await ivtRows(browserTracker), [
      ['not_counted', 'invalid_traffic', 'bot_user_agent', 2, 0],
    ]);
  });

  it('exports a VAST <Impression> that a player, having filled [CACHEBUSTING], fires once to count and again as a duplicate', async () => {
    const tracker = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'CTV pre-roll',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
      firedBy: 'app',
    });
    const response = await api(tally, tally.adminKey, 'POST', `/v1/impression-trackers/${tracker}/export`, {
      type: 'vast',
      secure: false,
      params: ['cachebuster'],
    });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const [{ tag }] = response.body.tags;
    // Pasted into a real VAST 4.0 InLine ad, as ad ops traffic it.
    const vast = fixtureText('vast', 'v4.0_Inline_Simple.xml').replace('<InLine>', `<InLine>\n${tag}`);
    const doc = new DOMParser().parseFromString(vast, 'text/xml');
    const urls = Array.from(doc.getElementsByTagName('Impression')).map((node) =>
      (node.textContent ?? '').trim(),
    );
    assert.deepEqual(urls, [
      `${tally.url}/imptr?id=${tracker}&cachebuster=[CACHEBUSTING]&t=2`,
      'http://example.com/track/impression',
    ]);
    const fired = new URL((urls[0] ?? '').replace('[CACHEBUSTING]', '40318275'));
    const player = {
      'user-agent': 'com.google.android.exoplayer2/2.18.1 (Linux;Android 13) ExoPlayerLib/2.18.1',
    };
    for (let shown = 0; shown < 2; shown++) {
      const answer = await hit(`${fired.pathname}${fired.search}`, player);
      assert.equal(answer.status, 200);
      assert.equal(answer.headers.get('content-type'), 'image/gif');
    }
    assert.deepEqual(await outcomeCounts(tracker), [
      ['counted', '', 1],
      ['not_counted', 'duplicate', 1],
    ]);
    const { rows } = await report(tally.adminKey, 'tracker,cachebusterMissing', `&tracker=${tracker}`);
    assert.deepEqual(
      rows.map((row) => [row.cachebusterMissing, row.events]),
      [[false, 2]],
    );
  });
});

describe('access to exports and reports', () => {
  const keys: Record<string, string> = {};

  before(async () => {
    const make = async (name: string, role: string, scope?: object) => {
      const response = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
        name,
        role,
        ...(scope ? { scope } : {}),
      });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      keys[name] = response.body.key;
    };
    await make('reader', 'reader');
    await make('editor', 'editor');
    await make('otherAdvertiserEditor', 'editor', { type: 'advertiser', id: ids.otherAdvertiser });
    await make('advertiserReader', 'reader', { type: 'advertiser', id: ids.advertiser });
    await make('publisherReader', 'reader', { type: 'publisher', id: ids.publisher });
    const created = await runCli(['create-account', 'Rival Network'], { TALLY_DATA_DIR: tally.dataDir });
    assert.equal(created.code, 0, created.stderr);
    keys.rival = /tally_[\w-]+/.exec(created.stdout)?.[0] ?? '';
    assert.notEqual(keys.rival, '', `create-account prints the new account’s key: ${created.stdout}`);
    await hit(`/imptr?id=${ids.otherTracker}&cachebuster=o1`);
  });

  const exportBody = { type: 'pixel', secure: true, params: [], placeholders: 'xandr', delivery: 'now' };

  it('lets editors export and refuses readers', async () => {
    assert.equal(
      (
        await api(
          tally,
          keys.editor ?? '',
          'POST',
          `/v1/impression-trackers/${ids.topTracker}/export`,
          exportBody,
        )
      ).status,
      200,
    );
    const refused = await api(
      tally,
      keys.reader ?? '',
      'POST',
      `/v1/impression-trackers/${ids.topTracker}/export`,
      exportBody,
    );
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'FORBIDDEN');
  });

  it('hides another advertiser’s trackers from a scoped key, and every tracker from another account', async () => {
    const scoped = await api(
      tally,
      keys.otherAdvertiserEditor ?? '',
      'POST',
      `/v1/impression-trackers/${ids.topTracker}/export`,
      exportBody,
    );
    assert.equal(scoped.status, 404);
    const own = await api(
      tally,
      keys.otherAdvertiserEditor ?? '',
      'POST',
      `/v1/impression-trackers/${ids.otherTracker}/export`,
      exportBody,
    );
    assert.equal(own.status, 200);
    const rival = await api(
      tally,
      keys.rival ?? '',
      'POST',
      `/v1/impression-trackers/${ids.topTracker}/export`,
      exportBody,
    );
    assert.equal(rival.status, 404);
  });

  it('shows a scoped reader only its advertiser’s or publisher’s report rows, without the other side’s money or the margin, and another account nothing', async () => {
    const advertiserRows = await report(keys.advertiserReader ?? '', 'advertiser');
    assert.deepEqual(
      advertiserRows.rows.map((row) => row.advertiser),
      [ids.advertiser],
    );
    const peek = await report(
      keys.advertiserReader ?? '',
      'advertiser',
      `&advertiser=${ids.otherAdvertiser}`,
    );
    assert.equal(peek.status, 403);
    const publisherRows = await report(keys.publisherReader ?? '', 'publisherId,impressionType');
    assert.notEqual(publisherRows.rows.length, 0, 'the publisher reader sees rows');
    assert.deepEqual(
      publisherRows.rows.filter((row) => row.publisherId !== ids.publisher),
      [],
      'the publisher reader sees only its publisher’s rows',
    );
    // Neither side sees the other's money, nor the margin between them.
    const metricsOf = (rows: object[]) =>
      [...new Set(rows.flatMap((row) => Object.keys(row)))].filter(
        (name) => name.endsWith('Micros') || name === 'events',
      );
    assert.deepEqual(metricsOf(advertiserRows.rows).sort(), ['events', 'priceMicros', 'revenueMicros']);
    assert.deepEqual(metricsOf(publisherRows.rows).sort(), ['events', 'mediaCostMicros']);
    const rival = await report(keys.rival ?? '', 'advertiser,tracker');
    assert.equal(rival.status, 200);
    assert.deepEqual(rival.rows, []);
  });

  it('reports the hits naming no tracker of the account under the id they named, when one was issued, to the operator’s account-wide key alone, in JSON and CSV, with no warning', async () => {
    const rivalCreate = async (path: string, body: object): Promise<number> => {
      const response = await api(tally, keys.rival ?? '', 'POST', path, body);
      assert.equal(response.status, 201, `${path}: ${JSON.stringify(response.body)}`);
      return response.body.id as number;
    };
    const rivalAdvertiser = await rivalCreate('/v1/advertisers', { name: 'Rival advertiser' });
    const rivalPublisher = await rivalCreate('/v1/publishers', { name: 'Rival publisher' });
    const rivalTracker = await rivalCreate('/v1/impression-trackers', {
      advertiserId: rivalAdvertiser,
      name: 'Rival tracker',
      lineItemId: await rivalCreate('/v1/line-items', {
        advertiserId: rivalAdvertiser,
        name: 'Rival line',
        revenueType: 'none',
        revenueValue: 0,
      }),
      publisherId: rivalPublisher,
    });
    const deleted = await create('/v1/impression-trackers', {
      advertiserId: ids.advertiser,
      name: 'Deleted tracker',
      lineItemId: ids.cpmLine,
      publisherId: ids.publisher,
    });
    const removed = await api(tally, tally.adminKey, 'DELETE', `/v1/impression-trackers/${deleted}`);
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    // A live tag still firing the deleted tracker, one naming the rival's with the operator's
    // member=, and a scanner's id no tracker was ever given.
    for (const path of [
      `/imptr?id=${deleted}&cachebuster=gone1`,
      `/imptr?id=${deleted}&cachebuster=gone2`,
      `/imptr?id=${rivalTracker}&member=1&cachebuster=wrong1`,
      `/imptr?id=987654321&cachebuster=scan1`,
    ]) {
      assert.equal((await hit(path)).status, 200, path);
    }

    const query = '&reason=unknown_tracker&impressionType=external_impression';
    const reportPath =
      `/v1/reports?from=${new Date(hourStartMs(Date.now()) - 86_400_000).toISOString()}` +
      `&to=${new Date(hourStartMs(Date.now()) + 3_600_000).toISOString()}&groupBy=tracker`;
    const json = await api(tally, tally.adminKey, 'GET', `${reportPath}${query}`);
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.deepEqual(json.body.warnings, []);
    assert.equal(json.headers.get('x-tally-warnings'), null);
    const named = (rows: { tracker: unknown; events: unknown }[]) =>
      rows
        .filter((row) => Number(row.tracker) === deleted || Number(row.tracker) === rivalTracker)
        .map((row) => [Number(row.tracker), Number(row.events)]);
    // In tracker id order: the rival's tracker was issued first.
    assert.deepEqual(named(json.body.rows), [
      [rivalTracker, 1],
      [deleted, 2],
    ]);
    assert.equal(
      json.body.rows.some((row: { tracker: unknown }) => Number(row.tracker) === 987654321),
      false,
      'the id never issued is reported under 0',
    );
    const csv = await api(tally, tally.adminKey, 'GET', `${reportPath}${query}&format=csv`);
    assert.equal(csv.status, 200, String(csv.body));
    const [header, ...lines] = String(csv.body).trim().split(/\r?\n/);
    const columns = (header ?? '').split(',');
    const csvRows = lines.map((line) => {
      const cells = line.split(',');
      return { tracker: cells[columns.indexOf('tracker')], events: cells[columns.indexOf('events')] };
    });
    assert.deepEqual(named(csvRows), [
      [rivalTracker, 1],
      [deleted, 2],
    ]);

    // Filtered on, the rival's id is one the operator's account has no tracker by: warned of, as
    // ever, and its rows answered.
    const filtered = await api(tally, tally.adminKey, 'GET', `${reportPath}${query}&tracker=${rivalTracker}`);
    assert.equal(filtered.status, 200, JSON.stringify(filtered.body));
    assert.equal(filtered.headers.get('x-tally-warnings'), `unknown_tracker;id=${rivalTracker}`);
    assert.deepEqual(named(filtered.body.rows), [[rivalTracker, 1]]);
    // No other account, nor a scoped key, is shown the rows: they are the operator's, of no
    // advertiser or publisher.
    for (const key of [keys.rival, keys.advertiserReader, keys.publisherReader]) {
      const other = await report(key ?? '', 'tracker');
      assert.equal(other.status, 200);
      assert.deepEqual(named(other.rows), []);
    }
  });

  it('shows a publisher-scoped key the exchange rows of its OpenRTB publisher id, and no one else’s', async () => {
    const exchangePublisher = await create('/v1/publishers', {
      name: 'Exchange publisher',
      externalId: 'ext-pub-9',
    });
    const scoped = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
      name: 'exchange publisher reader',
      role: 'reader',
      scope: { type: 'publisher', id: exchangePublisher },
    });
    const wins = ['ext-pub-9', String(exchangePublisher), String(ids.publisher)].map(
      (publisherId, index) => ({
        request: {
          id: `scope-${index}`,
          imp: [{ id: '1', banner: {} }],
          site: { publisher: { id: publisherId } },
        },
        seat: 'seat',
        bid: { id: 'b', impid: '1', price: 1 + index, adm: '<p>ad</p>' },
      }),
    );
    const results = (await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins })).body.results;
    for (const result of results) await hit(new URL(result.noticeUrls.adm).pathname);
    const own = await report(scoped.body.key, 'impressionType,publisher', '&impressionType=exchange');
    // Without the clearing price, the buy side's money (the account-wide key's rows below show it).
    assert.deepEqual(own.rows, [
      { impressionType: 'exchange', publisher: 'ext-pub-9', events: 1, mediaCostMicros: 0 },
    ]);
    const other = await report(
      keys.publisherReader ?? '',
      'impressionType,publisher',
      '&impressionType=exchange',
    );
    assert.deepEqual(
      other.rows,
      [],
      'a catalog id that happens to equal an OpenRTB publisher id shows nothing',
    );
    // To the account, publisher is always an OpenRTB publisher id and publisherId a catalog
    // publisher: a catalog id that happens to be an OpenRTB publisher id mixes nothing.
    const byCatalogId = await report(tally.adminKey, 'impressionType', `&publisherId=${exchangePublisher}`);
    assert.deepEqual(
      byCatalogId.rows.map((row) => [row.impressionType, row.priceMicros]),
      [['exchange', 1_000_000]],
    );
    const byOpenRtbId = await report(tally.adminKey, 'impressionType', `&publisher=${ids.publisher}`);
    assert.deepEqual(
      byOpenRtbId.rows.map((row) => [row.impressionType, row.priceMicros]),
      [['exchange', 3_000_000]],
      'the tracker hits of catalog publisher ' + ids.publisher + ' are not publisher ' + ids.publisher,
    );
    // Its editor may rename the publisher but not point it at another OpenRTB publisher id,
    // which would show it that publisher's exchange traffic.
    const editor = await api(tally, tally.adminKey, 'POST', '/v1/api-keys', {
      name: 'exchange publisher editor',
      role: 'editor',
      scope: { type: 'publisher', id: exchangePublisher },
    });
    const path = `/v1/publishers/${exchangePublisher}`;
    const repointed = await api(tally, editor.body.key, 'PATCH', path, { externalId: 'ext-pub-other' });
    assert.equal(repointed.status, 403);
    assert.match(repointed.body.error.message, /externalId can only be changed with an account-wide key/);
    const renamed = await api(tally, editor.body.key, 'PATCH', path, { name: 'Renamed' });
    assert.deepEqual([renamed.status, renamed.body.externalId], [200, 'ext-pub-9']);
  });

  it('refuses win registration to readers and scoped keys', async () => {
    const wins = { wins: [] };
    assert.equal((await api(tally, keys.reader ?? '', 'POST', '/v1/wins', wins)).status, 403);
    assert.equal((await api(tally, keys.otherAdvertiserEditor ?? '', 'POST', '/v1/wins', wins)).status, 403);
    assert.equal((await api(tally, keys.editor ?? '', 'POST', '/v1/wins', wins)).status, 200);
  });

  it('refuses deliveries to readers and scoped keys', async () => {
    assert.equal((await api(tally, keys.reader ?? '', 'GET', '/v1/deliveries')).status, 403);
    assert.equal((await api(tally, keys.publisherReader ?? '', 'GET', '/v1/deliveries')).status, 403);
    assert.equal((await api(tally, keys.editor ?? '', 'GET', '/v1/deliveries')).status, 200);
  });
});
