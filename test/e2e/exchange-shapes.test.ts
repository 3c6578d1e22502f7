import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { CHROME } from '../support/user-agents.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * Wins as real exchanges send them, messier than the specs' examples, over real HTTP: Prebid
 * Server's OpenRTB 2.5 requests (`imp.ext.prebid`, `regs.ext.gdpr`, `site.ext.amp`, OMID offered
 * in `imp.banner.api` beside MRAID), OpenRTB 2.6 imps offering banner, video and native at once
 * whose markup tells the format, and a CTV app's rewarded video served on its `nurl`. Each is
 * checked against the counting rules (format, channel, method, TTL), and its notice is fired where
 * the real client finds it in the markup it is served, as that client fires it.
 */

/** An Android app's web view, which renders an app banner and runs its scripts. */
const ANDROID_WEB_VIEW =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240505.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36';
/** A Roku player, which fires a CTV ad's VAST impression. */
const ROKU = 'Roku/DVP-12.0 (12.0.0.4182-88)';

const VAST_BODY =
  '<VAST version="4.0"><Ad id="ad-1"><InLine><AdSystem>dsp</AdSystem><AdTitle>spot</AdTitle>' +
  '<Impression><![CDATA[https://dsp.example/vast-imp]]></Impression><Creatives><Creative><Linear>' +
  '<Duration>00:00:15</Duration><MediaFiles><MediaFile delivery="progressive" type="video/mp4" ' +
  'width="640" height="360"><![CDATA[https://cdn.example/spot.mp4]]></MediaFile></MediaFiles>' +
  '</Linear></Creative></Creatives></InLine></Ad></VAST>';
const NATIVE_RESPONSE = {
  ver: '1.2',
  assets: [{ id: 1, title: { text: 'Headline' } }],
  link: { url: 'https://advertiser.example/' },
  eventtrackers: [{ event: 1, method: 1, url: 'https://dsp.example/native-imp' }],
};

let tally: TestServer;
let dsp: FakeDsp;

before(async () => {
  [tally, dsp] = await Promise.all([startServer(), startDsp()]);
});

after(async () => {
  await Promise.all([tally?.dispose(), dsp?.close()]);
});

async function register(wins: unknown[]): Promise<any[]> {
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body.results;
}

async function fire(url: string, userAgent: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { headers: { 'user-agent': userAgent, ...headers }, redirect: 'manual' });
  await response.arrayBuffer();
  return response.status;
}

/** Counted events of the last hour and the next, by seat, format, channel and method. */
async function countedRows(seat: string): Promise<string[]> {
  const hourMs = hourStartMs(Date.now());
  const window = `from=${new Date(hourMs - HOUR_MS).toISOString()}&to=${new Date(hourMs + 2 * HOUR_MS).toISOString()}`;
  const query = `${window}&groupBy=format,channel,method,outcome,currency&outcome=counted&seat=${encodeURIComponent(seat)}`;
  const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${query}`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  return report.body.rows
    .map(
      (row: any) => `${row.format}/${row.channel}/${row.method} ${row.outcome} ${row.events} ${row.currency}`,
    )
    .sort();
}

/** The attribute's value in the first tag of `markup` that has it. */
function attribute(markup: string, name: string): string | undefined {
  return new RegExp(`${name}="([^"]*)"`).exec(markup)?.[1];
}

describe('wins shaped as real exchanges send them', () => {
  it('counts a Prebid Server 2.5 web banner on an AMP page on its pixel, relaying the DSP burl with the 2.5 consent signals', async () => {
    const seat = 'pbs-appnexus';
    const [result] = await register([
      {
        request: {
          id: 'pbs-amp-1',
          imp: [
            {
              id: 'div-gpt-1',
              banner: {
                format: [
                  { w: 300, h: 250 },
                  { w: 320, h: 50 },
                ],
              },
              ext: { prebid: { bidder: { appnexus: { placementId: 13144370 } } } },
            },
          ],
          site: { page: 'https://news.example/amp/story', publisher: { id: 'pub-amp' }, ext: { amp: 1 } },
          device: { ua: CHROME, ip: '198.51.100.7' },
          regs: { ext: { gdpr: 1, us_privacy: '1YNN' } },
          user: { ext: { consent: 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA' } },
          ext: { prebid: { targeting: {}, cache: { bids: {} } } },
        },
        seat,
        bid: {
          id: 'pbs-bid-1',
          impid: 'div-gpt-1',
          price: 1.42,
          adm: '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body><div>ad</div></body></html>',
          burl: `${dsp.url}/pbs?p=\${AUCTION_PRICE}&gdpr=\${GDPR}&consent=\${GDPR_CONSENT_32}`,
          ext: { prebid: { type: 'banner', targeting: { hb_pb: '1.40' } } },
        },
      },
    ]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      [result.format, result.channel, result.method, result.ttlSeconds, result.burl, result.warnings],
      ['banner', 'web', 'adm', 600, null, []],
    );
    // The pixel a browser loads: an <img> before the document's </body>.
    assert.match(result.adm, /<div>ad<\/div><img src="([^"]+)"[^>]*><\/body><\/html>$/);
    assert.equal(attribute(result.adm, 'src'), result.noticeUrls.adm);
    assert.equal(await fire(result.noticeUrls.adm, CHROME), 200);
    await dsp.waitFor((hits) => hits.some((hit) => hit.path === '/pbs'));
    const [hit] = dsp.hits.filter((candidate) => candidate.path === '/pbs');
    assert.deepEqual(Object.fromEntries(hit?.query ?? []), {
      p: '1.42',
      gdpr: '1',
      consent: 'CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA',
    });
    assert.deepEqual(await countedRows(seat), ['banner/web/adm counted 1 USD']);
  });

  it('counts a Prebid Server 2.5 app banner offering MRAID and OMID (api 3, 5, 7) on the OMID notice its verification script carries', async () => {
    const seat = 'pbs-mobile';
    const [result] = await register([
      {
        request: {
          id: 'pbs-app-1',
          imp: [
            {
              id: 'banner-slot',
              banner: { format: [{ w: 320, h: 50 }], api: [3, 5, 7] },
              ext: { prebid: { storedrequest: { id: 'slot-1' } } },
            },
          ],
          app: { bundle: 'com.example.news', publisher: { id: 'pub-app' } },
          device: { devicetype: 4, os: 'android', ua: ANDROID_WEB_VIEW },
          source: { ext: { omidpn: 'Prebid', omidpv: '2.1.6' } },
        },
        seat,
        bid: {
          id: 'pbs-bid-2',
          impid: 'banner-slot',
          price: 0.9,
          adm: '<script src="mraid.js"></script><div>ad</div>',
          burl: `${dsp.url}/omid?p=\${AUCTION_PRICE}`,
          ext: { prebid: { type: 'banner' } },
        },
      },
    ]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      [result.format, result.channel, result.method, result.ttlSeconds, result.warnings],
      ['banner', 'app', 'omid', 10_800, []],
    );
    // Tally's verification script, with the notice it fires, and not the DSP's burl, which Tally
    // relays once the impression counts.
    assert.equal(attribute(result.adm, 'data-tally-notice'), result.noticeUrls.omid);
    assert.equal(result.adm.includes('/omid?p='), false);
    assert.equal(await fire(result.noticeUrls.omid, ANDROID_WEB_VIEW), 200);
    await dsp.waitFor((hits) => hits.some((hit) => hit.path === '/omid'));
    assert.deepEqual(await countedRows(seat), ['banner/app/omid counted 1 USD']);
  });

  it('takes the format of an OpenRTB 2.6 imp offering banner, video and native from the markup when the bid has no mtype, and counts each where its client fires it', async () => {
    const seat = 'multi-format';
    const nativeRequest = JSON.stringify({
      native: {
        ver: '1.2',
        assets: [{ id: 1, required: 1, title: { len: 90 } }],
        eventtrackers: [{ event: 1, methods: [1, 2] }],
      },
    });
    const win = (id: string, adm: string) => ({
      request: {
        id,
        imp: [
          {
            id: '1',
            banner: { w: 300, h: 250 },
            video: { mimes: ['video/mp4'], plcmt: 4, w: 300, h: 250 },
            native: { ver: '1.2', request: nativeRequest },
          },
        ],
        site: { page: 'https://news.example/', publisher: { id: 'pub-multi' } },
      },
      seat,
      bid: { id: `${id}-bid`, impid: '1', price: 2, adm },
    });
    const [video, native, banner] = await register([
      // A DSP template's line break before the XML declaration, which strict parsers refuse.
      win('multi-video', `\n<?xml version="1.0" encoding="UTF-8"?>\n${VAST_BODY}`),
      win('multi-native', JSON.stringify({ native: NATIVE_RESPONSE })),
      win(
        'multi-banner',
        '<!-- dsp creative 42 -->\n<iframe src="https://dsp.example/frame" width="300" height="250"></iframe>',
      ),
    ]);
    assert.deepEqual(
      [video, native, banner].map((result) => [
        result.format,
        result.channel,
        result.method,
        result.ttlSeconds,
      ]),
      [
        ['video', 'web', 'vast', 3600],
        ['native', 'web', 'native', 300],
        ['banner', 'web', 'adm', 600],
      ],
    );

    // The VAST is served from its XML declaration on, Tally's <Impression> after the DSP's.
    assert.equal(video.adm.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<VAST'), true, video.adm);
    assert.match(
      video.adm,
      new RegExp(
        `<Impression><!\\[CDATA\\[https://dsp.example/vast-imp\\]\\]></Impression><Impression><!\\[CDATA\\[${video.noticeUrls.vast}\\]\\]></Impression>`,
      ),
    );
    // The native response keeps its 1.1 wrapper; Tally's image event tracker joins the DSP's.
    assert.deepEqual(JSON.parse(native.adm), {
      native: {
        ...NATIVE_RESPONSE,
        eventtrackers: [
          ...NATIVE_RESPONSE.eventtrackers,
          { event: 1, method: 1, url: native.noticeUrls.native },
        ],
      },
    });
    assert.equal(attribute(banner.adm.slice(banner.adm.indexOf('</iframe>')), 'src'), banner.noticeUrls.adm);

    for (const url of [video.noticeUrls.vast, native.noticeUrls.native, banner.noticeUrls.adm]) {
      assert.equal(await fire(url, CHROME), 200, url);
    }
    assert.deepEqual(await countedRows(seat), [
      'banner/web/adm counted 1 USD',
      'native/web/native counted 1 USD',
      'video/web/vast counted 1 USD',
    ]);
  });

  it('wraps the nurl of a rewarded CTV video served on its win notice in VAST and counts the impression its player fires for 3 h', async () => {
    const seat = 'ctv-dsp';
    const [result] = await register([
      {
        request: {
          id: 'ctv-1',
          imp: [
            {
              id: '1',
              rwdd: 1,
              qty: { multiplier: 1, sourcetype: 1 },
              video: { mimes: ['video/mp4'], plcmt: 1, placement: 1, w: 1920, h: 1080 },
            },
          ],
          app: { bundle: 'roku.example.channel', publisher: { id: 'pub-ctv' } },
          device: { devicetype: 7, make: 'Roku', ua: ROKU },
        },
        seat,
        bid: {
          id: 'ctv-bid',
          impid: '1',
          price: 18.5,
          mtype: 2,
          adm: '',
          nurl: 'https://dsp.example/vast?price=${AUCTION_PRICE}&imp=${AUCTION_IMP_ID}',
        },
      },
    ]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      [result.format, result.channel, result.method, result.ttlSeconds, result.warnings],
      ['video', 'ctv', 'vast', 10_800, []],
    );
    assert.match(
      result.adm,
      /<Wrapper>\s*<AdSystem>Tally<\/AdSystem>\s*<VASTAdTagURI><!\[CDATA\[https:\/\/dsp\.example\/vast\?price=18\.5&imp=1\]\]><\/VASTAdTagURI>/,
    );
    assert.equal(result.adm.includes(`<Impression><![CDATA[${result.noticeUrls.vast}]]></Impression>`), true);
    assert.equal(await fire(result.noticeUrls.vast, ROKU), 200);
    assert.deepEqual(await countedRows(seat), ['video/ctv/vast counted 1 USD']);
  });

  it('wraps a VAST tag URL a DSP sent as a video adm in VAST that loads it, and counts the impression the player fires', async () => {
    const seat = 'vast-url-dsp';
    const [result] = await register([
      {
        request: {
          id: 'vast-url-1',
          imp: [
            { id: '1', video: { mimes: ['video/mp4'], plcmt: 2 }, ext: { prebid: { bidder: { x: {} } } } },
          ],
          site: { page: 'https://news.example/video', publisher: { id: 'pub-video' } },
        },
        seat,
        bid: {
          id: 'vast-url-bid',
          impid: '1',
          price: 4,
          adm: 'https://dsp.example/vast.xml?p=${AUCTION_PRICE}\n',
        },
      },
    ]);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(
      [result.format, result.channel, result.method, result.ttlSeconds],
      ['video', 'web', 'vast', 3600],
    );
    assert.match(
      result.adm,
      /<VASTAdTagURI><!\[CDATA\[https:\/\/dsp\.example\/vast\.xml\?p=4\]\]><\/VASTAdTagURI>/,
    );
    assert.equal(result.adm.includes(`<Impression><![CDATA[${result.noticeUrls.vast}]]></Impression>`), true);
    assert.equal(await fire(result.noticeUrls.vast, CHROME), 200);
    assert.deepEqual(await countedRows(seat), ['video/web/vast counted 1 USD']);
  });

  it('answers a call of 1 000 wins mixing good and bad with a result each, in order, a bad win failing none of the others', async () => {
    const seat = 'séat-日本-🎉';
    const wins = Array.from({ length: 1000 }, (_, index) => {
      const good = {
        request: {
          id: `bulk-${index}`,
          imp: [{ id: '1', banner: { w: 300, h: 250 } }],
          site: { publisher: { id: 'pub-bulk' } },
          cur: ['EUR', 'USD'],
        },
        seat,
        currency: 'EUR',
        bid: { id: `bulk-bid-${index}`, impid: '1', price: 1.1, adm: '<div>ad</div>' },
      };
      switch (index % 5) {
        case 1:
          return null;
        case 2:
          return { ...good, bid: { ...good.bid, price: '1.10' } };
        case 3:
          return { ...good, bid: { ...good.bid, impid: 'nope' } };
        default:
          return good;
      }
    });
    const results = await register(wins);
    assert.equal(results.length, 1000);
    const codes = results.map((result) => (result.ok === true ? 'ok' : result.error.code));
    assert.deepEqual(codes.slice(0, 5), [
      'ok',
      'VALIDATION_FAILED',
      'VALIDATION_FAILED',
      'IMP_NOT_FOUND',
      'ok',
    ]);
    assert.deepEqual(
      codes
        .map((code, index) => [code, index % 5])
        .filter(([code, kind]) => (code === 'ok') !== (kind === 0 || kind === 4)),
      [],
    );
    const good = results.filter((result) => result.ok === true);
    assert.equal(new Set(good.map((result) => result.noticeUrls.adm)).size, 400);
    // Two of them fired, the first twice: one counts in euros, the repeat is a duplicate.
    for (const result of [good[0], good[0], good[399]])
      assert.equal(await fire(result.noticeUrls.adm, CHROME), 200);
    assert.deepEqual(await countedRows(seat), ['banner/web/adm counted 2 EUR']);
  });
});
