import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Page, Request } from 'playwright-core';
import { PIXEL_GIF } from '../../src/hot/responses.js';
import { pageProblems, tallyInChromium } from '../support/chromium.js';
import { fixtureJson, fixtureNames, fixtureText } from '../support/fixtures.js';
import { reportWindowAroundNow } from '../support/report-window.js';
import { api } from '../support/server.js';

/**
 * Every VAST sample of the fixtures, registered as a win's `adm`, played in a real Chromium by a
 * real VAST client (`@dailymotion/vast-client`, the JavaScript one video.js' ads plugins and many
 * web players build on): its VASTClient parses Tally's VAST (following a wrapper to the VAST it
 * names) and its VASTTracker fires what a player fires — the impression, the quartiles, the
 * completion, a click, and on another win an error with its code. The same sample as the DSP
 * wrote it is played alike, without Tally: what the player reads and fires of Tally's VAST must
 * be the DSP's, and Tally's impression or error besides. (Tally adds no tracking events of its
 * own: the quartiles, the completion and the click reach the DSP's trackers alone.)
 */

const running = tallyInChromium();

/** vast-client's browser build (`browser` in its package.json), an ES module. */
const VAST_CLIENT = readFileSync(
  createRequire(import.meta.url).resolve('@dailymotion/vast-client/dist/vast-client.min.js'),
  'utf8',
);

/** The code a player reports when it can play none of the ad's media files (VAST 4.1, 405). */
const ERROR_CODE = '405';

/**
 * The player's page: vast-client, and `playVast(vast, errorCode)`, which parses the VAST and
 * plays each of its ads (or, given a code, reports that error on each), answering what it read:
 * each ad's impression and error URLs, and each creative's tracking and click URLs.
 */
const PLAYER_PAGE = `<!doctype html><script type="module">
import { VASTClient, VASTTracker } from '/vast-client.js';

const read = (ad) => ({
  impressions: ad.impressionURLTemplates.map((template) => template.url),
  errors: ad.errorURLTemplates,
  creatives: ad.creatives.map((creative) => ({
    type: creative.type,
    trackingEvents: creative.trackingEvents,
    clickTracking: (creative.videoClickTrackingURLTemplates ?? []).map((template) => template.url),
  })),
});

window.playVast = async (vast, errorCode) => {
  const client = new VASTClient();
  let response;
  try {
    response = await client.parseVAST(new DOMParser().parseFromString(vast, 'text/xml'));
  } catch (error) {
    return { refused: error.message };
  }
  for (const ad of response.ads) {
    const creative = ad.creatives.find((each) => each.type === 'linear') ?? ad.creatives[0];
    const tracker = new VASTTracker(client, ad, creative);
    if (errorCode !== undefined) {
      tracker.errorWithCode(errorCode);
      continue;
    }
    tracker.trackImpression();
    if (tracker.assetDuration > 0) {
      for (const share of [0.3, 0.55, 0.8]) tracker.setProgress(share * tracker.assetDuration);
      tracker.complete();
    }
    tracker.click();
  }
  return { ads: response.ads.map(read) };
};
</script>`;

/** What the player read of a VAST: its ads, or why it refused the document. */
interface Played {
  refused?: string;
  ads?: ReadAd[];
}

interface ReadAd {
  impressions: string[];
  errors: string[];
  creatives: ReadCreative[];
}

interface ReadCreative {
  type: string;
  trackingEvents?: Record<string, string[]>;
  clickTracking: string[];
}

/** The player's origin: its page and vast-client. */
let player: Server;
let playerUrl: string;

before(async () => {
  player = createServer((req, res) => {
    if (req.url === '/landing') {
      res.writeHead(200, { 'content-type': 'image/gif' });
      res.end(PIXEL_GIF);
      return;
    }
    const script = req.url === '/vast-client.js';
    res.writeHead(200, { 'content-type': script ? 'text/javascript' : 'text/html' });
    res.end(script ? VAST_CLIENT : PLAYER_PAGE);
  });
  await new Promise<void>((resolve) => player.listen(0, '127.0.0.1', resolve));
  playerUrl = `http://127.0.0.1:${(player.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => player.close(() => resolve())));

/** The one page of the file's plays, the player's, and the errors it logged. */
let page: Page | undefined;
let problems: string[] = [];

async function openPlayerPage(): Promise<void> {
  page = await running.context().newPage();
  problems = pageProblems(page);
  await routeTheInternet(page);
  await page.goto(`${playerUrl}/player.html`);
}

function playerPage(): Page {
  if (page === undefined) throw new Error('the player page opens before the tests');
  return page;
}

/**
 * Where the IAB samples' wrappers send the player: the IAB's own copies of these samples, served
 * here from the fixtures, as the machine has no network.
 */
const WRAPPED: Record<string, string> = {
  'https://raw.githubusercontent.com/InteractiveAdvertisingBureau/VAST_Samples/master/VAST%203.0%20Samples/Inline_Companion_Tag-test.xml':
    'v3.0_Inline_Companion_Tag-test.xml',
  'https://raw.githubusercontent.com/InteractiveAdvertisingBureau/VAST_Samples/master/VAST%204.0%20Samples/Inline_Companion_Tag-test.xml':
    'v4.0_Inline_Companion_Tag-test.xml',
};

/**
 * Everything a play's frame asked for beyond the player's origin, by frame name: Tally's notices
 * (sent on to Tally) and the DSPs' trackers and wrapped VAST (answered here, as the DSP would).
 */
const requested = new Map<string, string[]>();
/** The frames whose wrapped VAST is answered 404, as a DSP's ad server that lost it answers. */
const wrappedGone = new Set<string>();
/** Those requests not yet answered, and when the last of them was made. */
const unanswered = new Set<Request>();
let lastRequestMs = 0;

async function routeTheInternet(page: Page): Promise<void> {
  const tally = running.tally();
  page.on('requestfinished', (request) => unanswered.delete(request));
  page.on('requestfailed', (request) => unanswered.delete(request));
  await page.route(
    (url) => !url.href.startsWith(playerUrl),
    async (route, request: Request) => {
      const frame = request.frame().name();
      requested.set(frame, [...(requested.get(frame) ?? []), request.url()]);
      unanswered.add(request);
      lastRequestMs = Date.now();
      if (request.url().startsWith(tally.url)) return route.continue();
      const wrapped = WRAPPED[request.url()];
      if (wrapped !== undefined && wrappedGone.has(frame)) {
        return route.fulfill({ status: 404, headers: { 'access-control-allow-origin': '*' }, body: '' });
      }
      if (wrapped !== undefined) {
        return route.fulfill({
          status: 200,
          headers: { 'content-type': 'text/xml', 'access-control-allow-origin': '*' },
          body: fixtureText('vast', wrapped),
        });
      }
      return route.fulfill({ status: 200, contentType: 'image/gif', body: PIXEL_GIF });
    },
  );
}

let playCount = 0;

/** A VAST played: what the player read, and (once the plays are over) what its frame requested. */
interface Play {
  played: Played;
  requests(): string[];
}

/**
 * Plays `vast` in a frame of its own (named so that its requests tell it apart), or reports
 * `errorCode` on each of its ads; with `wrappedGone`, the VAST a wrapper names is answered 404.
 */
async function play(page: Page, vast: string, errorCode?: string, wrappedIsGone = false): Promise<Play> {
  const frame = `play-${++playCount}`;
  if (wrappedIsGone) wrappedGone.add(frame);
  const played = await page.evaluate<Played>(`new Promise((resolve) => {
    const frame = document.createElement('iframe');
    frame.name = ${JSON.stringify(frame)};
    frame.src = '/player.html';
    frame.onload = () => resolve(frame.contentWindow.playVast(${JSON.stringify(vast)}, ${JSON.stringify(errorCode)}));
    document.body.append(frame);
  })`);
  return { played, requests: () => requested.get(frame) ?? [] };
}

/** A win's request: the OpenRTB 2.6 spec's video request, on the web, on a CTV, or as audio in an app. */
function auctionRequest(id: string, format: 'video' | 'audio', channel: 'web' | 'ctv' | 'app'): any {
  const request = fixtureJson('openrtb', 'bid-request_2.6_video.json');
  request.id = id;
  if (format === 'audio') {
    request.imp[0].audio = { mimes: ['audio/mp4', 'audio/mpeg'], minduration: 5, maxduration: 30 };
    delete request.imp[0].video;
  }
  if (channel === 'ctv') request.device.devicetype = 3;
  if (channel === 'app') {
    request.app = { id: 'app1', bundle: 'com.example.radio', publisher: request.site.publisher };
    delete request.site;
    request.device.devicetype = 4;
  }
  return request;
}

interface Registered {
  ok: boolean;
  format: string;
  channel: string;
  method: string;
  adm: string;
  warnings: string[];
  noticeUrls: { vast: string; vast_error: string };
}

async function registerWins(wins: { seat: string; request: any; adm: string }[]): Promise<Registered[]> {
  const tally = running.tally();
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: wins.map(({ seat, request, adm }) => ({
      request,
      seat,
      bid: { id: 'b1', impid: request.imp[0].id, price: 2, adm },
    })),
  });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
  return registered.body.results;
}

/** `ads` as the player read them without Tally's impression and error URLs. */
function withoutTally(ads: ReadAd[] | undefined, tally: Registered): ReadAd[] | undefined {
  return ads?.map((ad) => ({
    ...ad,
    impressions: ad.impressions.filter((url) => url !== tally.noticeUrls.vast),
    errors: ad.errors.filter((url) => url !== tally.noticeUrls.vast_error),
  }));
}

/** Waits until every request the plays made is answered and none has come for a while. */
async function untilQuiet(): Promise<void> {
  for (let waitedMs = 0; waitedMs < 10_000; waitedMs += 20) {
    if (unanswered.size === 0 && Date.now() - lastRequestMs > 250) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`${unanswered.size} requests still unanswered`);
}

/** The requests to Tally among `requests`, named by the notice URL they are (`vast`, `vast_error?e=405`). */
function toTally(requests: string[], win: Registered): string[] {
  return requests
    .filter((url) => url.startsWith(running.tally().url))
    .map((url) =>
      url === win.noticeUrls.vast
        ? 'vast'
        : url.startsWith(win.noticeUrls.vast_error.replace('[ERRORCODE]', ''))
          ? `vast_error?e=${url.slice(win.noticeUrls.vast_error.length - '[ERRORCODE]'.length)}`
          : url,
    );
}

/** The requests elsewhere than Tally among `requests`, sorted. */
function elsewhere(requests: string[]): string[] {
  return requests.filter((url) => !url.startsWith(running.tally().url)).sort();
}

/** The URLs of the quartile, completion and click trackers of the ads' linear creatives. */
function quartilesAndClicks(ads: ReadAd[]): string[] {
  return ads.flatMap((ad) =>
    ad.creatives
      .filter((creative) => creative.type === 'linear')
      .flatMap((creative) => [
        ...['firstQuartile', 'midpoint', 'thirdQuartile', 'complete'].flatMap(
          (event) => creative.trackingEvents?.[event] ?? [],
        ),
        ...creative.clickTracking,
      ]),
  );
}

/** The report's rows of the seats starting with `prefix`, by seat. */
async function ledgerRows(prefix: string): Promise<Record<string, unknown[][]>> {
  const tally = running.tally();
  const report = await api(
    tally,
    tally.adminKey,
    'GET',
    `/v1/reports?${reportWindowAroundNow()}&groupBy=seat,format,channel,notice,outcome,reason,vastError`,
  );
  assert.equal(report.status, 200, JSON.stringify(report.body));
  const rows: Record<string, unknown[][]> = {};
  for (const row of report.body.rows) {
    if (!row.seat.startsWith(prefix)) continue;
    rows[row.seat] = [
      ...(rows[row.seat] ?? []),
      [
        row.format,
        row.channel,
        row.notice,
        row.outcome,
        row.reason,
        row.vastError,
        row.events,
        row.priceMicros,
      ],
    ];
  }
  return rows;
}

/** Whether Tally's `<Error>` is in the VAST it served (not where the ad has the one VAST 2.0 and 3.0 allow). */
function hasTallyError(win: Registered): boolean {
  return win.adm.includes(win.noticeUrls.vast_error);
}

describe('Tally’s VAST played by vast-client in Chromium', () => {
  // Once Tally and Chromium have started (the file's first hooks).
  before(openPlayerPage);

  it('reads every sample as the DSP wrote it plus Tally’s impression and error, fires the DSP’s trackers as it would without Tally, and counts one impression a win and an error with the player’s code', async () => {
    const names = fixtureNames('vast');
    const page = playerPage();
    problems.length = 0;
    const wins = names.flatMap((name, index) => {
      const adm = fixtureText('vast', name);
      // The DAAST sample (VAST 4.1's adType="audio") is audio, played on the web and in an app.
      const format = name.includes('Audio_DAAST') ? 'audio' : 'video';
      const other = format === 'audio' ? 'app' : 'ctv';
      return [
        { seat: `${index}-web`, request: auctionRequest(`${index}-web`, format, 'web'), adm },
        { seat: `${index}-${other}`, request: auctionRequest(`${index}-${other}`, format, other), adm },
        { seat: `${index}-error`, request: auctionRequest(`${index}-error`, format, 'web'), adm },
      ];
    });
    const results = await registerWins(wins);
    // Every sample's plays at once, each in a frame of its own, as players on as many pages would.
    const plays = await Promise.all(
      names.map(async (name, index) => {
        const original = fixtureText('vast', name);
        const [web, other, error] = results.slice(3 * index, 3 * index + 3) as [
          Registered,
          Registered,
          Registered,
        ];
        const [dsp, dspError, onWeb, onOther, onError] = await Promise.all([
          play(page, original),
          play(page, original, ERROR_CODE),
          play(page, web.adm),
          play(page, other.adm),
          play(page, error.adm, ERROR_CODE),
        ]);
        return { index, name, wins: { web, other, error }, dsp, dspError, onWeb, onOther, onError };
      }),
    );
    await untilQuiet();
    const ledger = await ledgerRows('');

    const actual = plays.map(({ index, name, wins, dsp, onWeb, onOther, onError }) => ({
      name,
      refused: [dsp.played.refused, onWeb.played.refused],
      readWithoutTally: [
        withoutTally(onWeb.played.ads, wins.web),
        withoutTally(onOther.played.ads, wins.other),
        withoutTally(onError.played.ads, wins.error),
      ],
      tallyRead: (onWeb.played.ads ?? []).map((ad) => [
        ad.impressions.filter((url) => url === wins.web.noticeUrls.vast).length,
        ad.errors.filter((url) => url === wins.web.noticeUrls.vast_error).length,
      ]),
      dspFired: [elsewhere(onWeb.requests()), elsewhere(onOther.requests()), elsewhere(onError.requests())],
      quartilesAndClicksNotFired: quartilesAndClicks(onWeb.played.ads ?? []).filter(
        (url) => !onWeb.requests().includes(new URL(url).href),
      ),
      tallyFired: [
        toTally(onWeb.requests(), wins.web),
        toTally(onOther.requests(), wins.other),
        toTally(onError.requests(), wins.error),
      ],
      ledger: [ledger[`${index}-web`], ledger[`${index}-${wins.other.channel}`], ledger[`${index}-error`]],
    }));
    const expected = plays.map(({ name, wins, dsp, dspError }) => {
      // vast-client reads VAST 2.0 and later: a VAST 1.0 document it refuses, as the DSP wrote it.
      const refused = fixtureText('vast', name).includes('<VideoAdServingTemplate')
        ? 'VAST response version not supported'
        : undefined;
      const format = wins.web.format;
      const counted = (channel: string) => [[format, channel, 'vast', 'counted', '', '', 1, 2_000_000]];
      return {
        name,
        refused: [refused, refused],
        readWithoutTally: [dsp.played.ads, dsp.played.ads, dsp.played.ads],
        tallyRead: (dsp.played.ads ?? []).map(() => [1, hasTallyError(wins.web) ? 1 : 0]),
        dspFired: [elsewhere(dsp.requests()), elsewhere(dsp.requests()), elsewhere(dspError.requests())],
        quartilesAndClicksNotFired: [],
        tallyFired:
          refused === undefined
            ? [['vast'], ['vast'], hasTallyError(wins.error) ? [`vast_error?e=${ERROR_CODE}`] : []]
            : [[], [], []],
        ledger:
          refused === undefined
            ? [
                counted('web'),
                counted(wins.other.channel),
                hasTallyError(wins.error)
                  ? [
                      [
                        format,
                        'web',
                        'vast_error',
                        'not_counted',
                        'not_billing_method',
                        Number(ERROR_CODE),
                        1,
                        0,
                      ],
                    ]
                  : undefined,
              ]
            : [undefined, undefined, undefined],
      };
    });
    assert.deepEqual(actual, expected);
    assert.deepEqual(problems, []);
  });

  it('has vast-client report a wrapper whose VAST is gone (301) on Tally’s Error, where Tally could add it, and counts no impression', async () => {
    const page = playerPage();
    problems.length = 0;
    const names = fixtureNames('vast').filter((name) => /<Wrapper[\s>]/.test(fixtureText('vast', name)));
    const results = await registerWins(
      names.map((name, index) => ({
        seat: `gone-${index}`,
        request: auctionRequest(`gone-${index}`, 'video', 'web'),
        adm: fixtureText('vast', name),
      })),
    );
    const plays = [];
    for (const [index, name] of names.entries()) {
      const win = results[index] as Registered;
      plays.push({
        index,
        name,
        win,
        dsp: await play(page, fixtureText('vast', name), undefined, true),
        played: await play(page, win.adm, undefined, true),
      });
    }
    await untilQuiet();
    const ledger = await ledgerRows('gone-');
    assert.deepEqual(
      plays.map(({ index, name, win, played }) => ({
        name,
        ads: played.played.ads,
        dspFired: elsewhere(played.requests()),
        tallyFired: toTally(played.requests(), win),
        ledger: ledger[`gone-${index}`],
      })),
      plays.map(({ name, win, dsp }) => ({
        name,
        ads: [],
        dspFired: elsewhere(dsp.requests()),
        tallyFired: hasTallyError(win) ? ['vast_error?e=301'] : [],
        ledger: hasTallyError(win)
          ? [['video', 'web', 'vast_error', 'not_counted', 'not_billing_method', 301, 1, 0]]
          : undefined,
      })),
    );
    // Chromium logs each wrapped VAST answered 404, to the DSP's VAST and to Tally's.
    const notFound = 'Failed to load resource: the server responded with a status of 404 (Not Found)';
    assert.deepEqual(
      problems,
      plays.flatMap(() => [notFound, notFound]),
    );
  });

  it('counts an exported VAST impression tracker and a click tracker in <ClickTracking> once a viewer each, with the [CACHEBUSTING] vast-client writes', async () => {
    const page = playerPage();
    problems.length = 0;
    const tally = running.tally();
    const created = async (path: string, body: object): Promise<number> => {
      const answer = await api(tally, tally.adminKey, 'POST', path, body);
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body.id as number;
    };
    const advertiserId = await created('/v1/advertisers', { name: 'Acme video' });
    const lineItemId = await created('/v1/line-items', {
      advertiserId,
      name: 'Pre-roll',
      revenueType: 'cpm',
      revenueValue: 3,
    });
    const publisherId = await created('/v1/publishers', { name: 'Video site' });
    const owners = { advertiserId, lineItemId, publisherId };
    const impressionId = await created('/v1/impression-trackers', { ...owners, name: 'Pre-roll impression' });
    const clickId = await created('/v1/click-trackers', {
      ...owners,
      name: 'Pre-roll click',
      // The advertiser's landing page, here the player's origin: a click tracker's image follows
      // Tally's redirect there, out of the page's routes.
      clickUrl: `${playerUrl}/landing`,
    });
    const exported = async (kind: string, id: number): Promise<string> => {
      const answer = await api(tally, tally.adminKey, 'POST', `/v1/${kind}/${id}/export`, {
        type: 'vast',
        secure: false,
        params: ['cachebuster'],
        placeholders: 'vast',
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.tags[0].tag as string;
    };
    const impressionTag = await exported('impression-trackers', impressionId);
    const clickUrl = await exported('click-trackers', clickId);
    assert.match(
      impressionTag,
      /<Impression><!\[CDATA\[http:\/\/[^\]]+\/imptr\?id=\d+&cachebuster=\[CACHEBUSTING\]&t=2\]\]><\/Impression>/,
    );
    assert.match(clickUrl, /\/clktr\?id=\d+&cachebuster=\[CACHEBUSTING\]$/);
    // Pasted by ad ops into the DSP's ad: the tag after its <AdSystem>, the click after its ClickThrough.
    const vast = fixtureText('vast', 'v4.1_Inline_Simple.xml')
      .replace('</AdSystem>', `</AdSystem>\n      ${impressionTag}`)
      .replace(
        '</ClickThrough>',
        `</ClickThrough>\n              <ClickTracking><![CDATA[${clickUrl}]]></ClickTracking>`,
      );
    const viewers = [await play(page, vast), await play(page, vast)];
    await untilQuiet();
    const toTrackers = (requests: string[]) =>
      requests
        .filter((url) => /\/(imptr|clktr)\?/.test(url))
        .map((url) => url.replace(/^.*\/(imptr|clktr)\?id=\d+/, '$1'));
    assert.deepEqual(
      viewers.map((viewer) =>
        toTrackers(viewer.requests()).map((url) => url.replace(/cachebuster=\d{8}(?=&|$)/, 'cachebuster=N')),
      ),
      [
        ['imptr&cachebuster=N&t=2', 'clktr&cachebuster=N'],
        ['imptr&cachebuster=N&t=2', 'clktr&cachebuster=N'],
      ],
    );
    const report = await api(
      tally,
      tally.adminKey,
      'GET',
      `/v1/reports?${reportWindowAroundNow()}&groupBy=tracker,outcome,reason,cachebusterMissing&advertiser=${advertiserId}`,
    );
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.rows.map((row: any) => [
        row.tracker,
        row.outcome,
        row.reason,
        row.cachebusterMissing,
        row.events,
      ]),
      [
        [impressionId, 'counted', '', false, 2],
        [clickId, 'counted', '', false, 2],
      ],
    );
    assert.deepEqual(problems, []);
  });
});
