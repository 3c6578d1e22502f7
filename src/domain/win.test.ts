import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import type { Document } from '@xmldom/xmldom';
import { XMLValidator } from 'fast-xml-parser';
import { fixtureJson, fixtureNames } from '../../test/support/fixtures.js';
import { decryptPrice } from '../../test/support/price-decrypt.js';
import { isPublicAddress } from '../billing/egress.js';
import { ampPixelTag, omidScriptTag, pixelTag, withoutAmpVariableNames } from './banner.js';
import { escapeHtml } from './html.js';
import { impressionKey } from './impression-key.js';
import type { PriceKeys } from './price-crypto.js';
import { RulesTable } from './rules.js';
import type { KeyRing } from './token.js';
import { generateKey, openToken } from './token.js';
import type { InstrumentedWin, WinEnvironment, WinInput } from './win.js';
import { encodedPrice } from './dsp-macros.js';
import { instrumentWin, MAX_NOTICE_URL_CHARS } from './win.js';
import { jsonError } from '../lib/json-error.js';

const ring: KeyRing = { signingKeyId: 1, keys: new Map([[1, generateKey()]]) };
const priceKeys: PriceKeys = { encryptionKey: Buffer.alloc(32, 1), integrityKey: Buffer.alloc(32, 2) };
const NOW_MS = Date.UTC(2026, 10, 22, 12);
const env: WinEnvironment = {
  accountId: 1,
  rulesFor: () => new RulesTable(),
  keyRing: ring,
  publicUrl: 'https://tally.example',
  priceKeysFor: (accountId, seat) => (accountId === 1 && seat === 'enc-seat' ? priceKeys : undefined),
  allowsBurlAddress: isPublicAddress,
  nowMs: NOW_MS,
};

function win(overrides: Partial<WinInput> & { imp?: object; context?: object; bid?: object } = {}): WinInput {
  const { imp, context, bid, ...rest } = overrides;
  return {
    request: {
      id: 'auction-1',
      imp: [{ id: '1', ...(imp ?? { banner: { w: 300, h: 250 } }) }],
      ...(context ?? { site: { publisher: { id: 'pub-1' } } }),
    },
    seat: 'seat-1',
    bid: {
      id: 'bid-1',
      impid: '1',
      price: 2.5,
      adm: '<div>creative</div>',
      burl: 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
      ...bid,
    },
    ...rest,
  };
}

function ok(input: WinInput): InstrumentedWin {
  const result = instrumentWin(input, env);
  assert.ok(result.ok, JSON.stringify(result));
  return result;
}

function claimsOf(url: string | undefined) {
  assert.ok(url !== undefined, 'the notice URL is given');
  const token = new URL(url).pathname.split('/').at(-1) ?? '';
  const opened = openToken(token, ring);
  assert.ok(opened.ok, `the notice token of ${url} opens; got ${JSON.stringify(opened)}`);
  return opened.claims;
}

const app = { app: { publisher: { id: 'pub-2' } } };

/** An AMPHTML ad as the AMP project's own example writes one. */
const AMP_AD =
  '<!doctype html><html ⚡4ads lang="en"><head><meta charset="utf-8">' +
  '<script async src="https://cdn.ampproject.org/amp4ads-v0.js"></script>' +
  '<style amp4ads-boilerplate>body{visibility:hidden}</style></head><body>' +
  '<amp-img src="https://dsp.example/ad.png" width="300" height="250"></amp-img></body></html>';

describe('instrumenting a win', () => {
  it('adds the notice pixel to a web banner and keeps the DSP burl for server-side relay', () => {
    const result = ok(win());
    assert.equal(result.method, 'adm');
    assert.equal(result.ttlSeconds, 600);
    assert.equal(result.burl, null);
    assert.ok(
      result.adm?.startsWith('<div>creative</div><img src="https://tally.example/n/'),
      `Tally’s pixel follows the creative; got ${result.adm}`,
    );
    const claims = claimsOf(result.noticeUrls.adm);
    assert.equal(claims.dspBurl, 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}');
    assert.equal(claims.priceMicros, 2_500_000);
    assert.equal(claims.auctionTimeMs, NOW_MS);
  });

  it('adds the OMID verification script to an app banner whose app supports OMID', () => {
    const result = ok(win({ context: app, imp: { banner: { api: [7] } } }));
    assert.equal(result.method, 'omid');
    assert.equal(result.ttlSeconds, 10800);
    assert.match(
      result.adm ?? '',
      /<script src="https:\/\/tally.example\/omid\/verify.js" data-tally-notice="https:\/\/tally.example\/n\/[\w-]+"><\/script>$/,
    );
    assert.equal(claimsOf(result.noticeUrls.omid).kind, 'omid');
    assert.equal(result.burl, null);
  });

  it('hands a burl-firing app publisher Tally’s own burl and puts only a non-billing load notice in the markup', () => {
    const result = ok(win({ context: app, publisherBurl: true }));
    assert.equal(result.method, 'burl');
    assert.equal(result.burl, result.noticeUrls.burl);
    assert.equal(claimsOf(result.burl ?? undefined).kind, 'burl');
    assert.equal(claimsOf(result.noticeUrls.loaded).kind, 'loaded');
    assert.ok(
      result.adm?.includes(result.noticeUrls.loaded?.replace(/&/g, '&amp;') ?? 'missing'),
      `the markup carries the loaded notice URL; got ${result.adm}`,
    );
    assert.doesNotMatch(result.adm ?? '', /dsp\.example/, 'the DSP burl is relayed, not in the markup');
  });

  it('puts Tally’s pixel and the DSP burl with its macros filled into an app banner with neither OMID nor burl', () => {
    const result = ok(win({ context: app }));
    assert.equal(result.method, 'adm');
    assert.ok(
      result.adm?.includes('<img src="https://dsp.example/bill?p=2.5&amp;a=auction-1"'),
      `the markup carries the DSP burl, its macros filled; got ${result.adm}`,
    );
    assert.equal(
      claimsOf(result.noticeUrls.adm).dspBurl,
      '',
      'the burl fires from the markup, not from Tally',
    );
    assert.deepEqual(
      result.warnings.map((warning) => warning.split(':')[0]),
      [
        "the DSP's burl goes into this app banner's markup beside Tally's pixel (the app offers no OMID, api 7, and publisherBurl is not set)",
      ],
      'the exchange is told the device fires the burl on every render',
    );
    assert.deepEqual(ok(win({ context: app, bid: { burl: undefined } })).warnings, [], 'no burl, no warning');
  });

  it('has Tally relay the DSP burl of a CTV banner once it counts, never from the markup, which fires on every render', () => {
    const result = ok(win({ context: { ...app, device: { devicetype: 3 } } }));
    assert.equal(result.channel, 'ctv');
    assert.equal(result.method, 'adm');
    assert.ok(!result.adm?.includes('dsp.example/bill'), result.adm ?? '');
    assert.equal(
      claimsOf(result.noticeUrls.adm).dspBurl,
      'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    );
  });

  it('never puts the DSP burl into the markup of a test app banner, which Tally never counts and the DSP must not be billed for', () => {
    const flagged = ok(win({ context: app, test: true }));
    const input = win({ context: app });
    (input.request as { test?: number }).test = 1;
    for (const result of [flagged, ok(input)]) {
      assert.equal(result.method, 'adm');
      assert.ok(!result.adm?.includes('dsp.example/bill'), result.adm ?? '');
      const claims = claimsOf(result.noticeUrls.adm);
      assert.equal(claims.test, true);
      assert.equal(claims.dspBurl, '', 'nor in its token: Tally never relays it');
    }
  });

  it('never puts the DSP burl into the markup of an app banner registered past its TTL, whose notices can never count', () => {
    const late = ok(win({ context: app, auctionTimeMs: NOW_MS - 600_001 }));
    assert.equal(late.ttlSeconds, 600);
    assert.ok(!late.adm?.includes('dsp.example/bill'), late.adm ?? '');
    assert.match(late.warnings.join('\n'), /past the 600 s TTL/);
    assert.equal(claimsOf(late.noticeUrls.adm).dspBurl, '', 'nor in its token: Tally never relays it');
    // So a burl too long for a notice URL never refuses such a win.
    const longBurl = `https://dsp.example/bill?x=${'a'.repeat(MAX_NOTICE_URL_CHARS)}`;
    for (const never of [
      win({ context: app, auctionTimeMs: NOW_MS - 600_001, bid: { burl: longBurl } }),
      win({ context: app, test: true, bid: { burl: longBurl } }),
    ]) {
      assert.equal(instrumentWin(never, env).ok, true);
    }
    // At the TTL itself its notice still counts, and the markup carries the burl.
    const atTtl = ok(win({ context: app, auctionTimeMs: NOW_MS - 600_000 }));
    assert.ok(atTtl.adm?.includes('dsp.example/bill'), atTtl.adm ?? '');
  });

  it('has Tally relay the DSP burl of a nurl-served app banner, which has no markup to carry it', () => {
    const result = ok(win({ context: app, bid: { adm: undefined, nurl: 'https://dsp.example/win' } }));
    assert.equal(result.adm, null);
    assert.equal(
      claimsOf(result.noticeUrls.adm).dspBurl,
      'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    );
  });

  it('tells the exchange the very tags to add to a nurl-served banner: the OMID script, or the load pixel and never the publisher burl', () => {
    const nurl = { adm: undefined, nurl: 'https://dsp.example/win' };
    const burl = ok(win({ context: app, publisherBurl: true, bid: nurl }));
    const burlWarning = burl.warnings.find((warning) => warning.startsWith('the bid has no adm')) ?? '';
    assert.ok(burlWarning.endsWith(pixelTag(burl.noticeUrls.loaded ?? 'missing')), burlWarning);
    assert.ok(!burlWarning.includes(escapeHtml(burl.burl ?? 'missing')), burlWarning);
    const omid = ok(win({ context: app, imp: { banner: { api: [7] } }, bid: nurl }));
    const omidWarning = omid.warnings.find((warning) => warning.startsWith('the bid has no adm')) ?? '';
    assert.ok(
      omidWarning.endsWith(
        omidScriptTag('https://tally.example/omid/verify.js', omid.noticeUrls.omid ?? 'missing'),
      ),
      omidWarning,
    );
  });

  it('fills ${AUCTION_MBR} as a plain decimal, even when the clearing price is a tiny share of the bid', () => {
    const burl = 'https://dsp.example/bill?mbr=${AUCTION_MBR}';
    const tiny = ok(win({ context: app, clearingPrice: 0.000001, bid: { price: 10, burl } }));
    assert.ok(tiny.adm?.includes('<img src="https://dsp.example/bill?mbr=0.0000001"'), tiny.adm ?? '');
  });

  it('warns that ${AUCTION_MBR} is filled empty where the win gives no bid.price above 0, the ratio having nothing to divide by', () => {
    const burl = 'https://dsp.example/bill?mbr=${AUCTION_MBR}';
    const warning =
      'bid.burl holds ${AUCTION_MBR}, which Tally fills empty: it has no value for it (${AUCTION_MBR} is the clearing price over bid.price, which the win gives as none or 0)';
    const noBidPrice = win({ clearingPrice: 1, bid: { burl } });
    delete (noBidPrice.bid as { price?: unknown }).price;
    const zeroBidPrice = win({ clearingPrice: 0, bid: { price: 0, burl } });
    for (const input of [noBidPrice, zeroBidPrice]) {
      const result = ok(input);
      assert.deepEqual(result.warnings, [warning]);
      assert.equal(claimsOf(result.noticeUrls.adm).bidMicros, 0);
    }
    assert.deepEqual(ok(win({ clearingPrice: 1, bid: { price: 2, burl } })).warnings, []);
  });

  it('fills ${AUCTION_BID_ID} with the BidResponse bidid the exchange gave, never with bid.id', () => {
    const burl = 'https://dsp.example/bill?r=${AUCTION_BID_ID}&mbr=${AUCTION_MBR}';
    const given = ok(win({ context: app, clearingPrice: 2, bidResponseId: 'resp-9', bid: { burl } }));
    assert.ok(
      given.adm?.includes('<img src="https://dsp.example/bill?r=resp-9&amp;mbr=0.8"'),
      given.adm ?? '',
    );
    const absent = ok(win({ context: app, clearingPrice: 2, bid: { burl } }));
    assert.ok(absent.adm?.includes('<img src="https://dsp.example/bill?r=&amp;mbr=0.8"'), absent.adm ?? '');
    // Relayed by Tally: the token carries both for when the notice counts.
    const relayed = ok(
      win({
        context: app,
        bidResponseId: 'resp-9',
        bid: { burl, adm: undefined, nurl: 'https://dsp.example/w' },
      }),
    );
    const claims = claimsOf(relayed.noticeUrls.adm);
    assert.equal(claims.bidResponseId, 'resp-9');
    assert.equal(claims.bidMicros, 2_500_000);
    assert.equal(claims.bidId, 'bid-1');
  });

  it('changes nothing DSP-related for a DSP without a burl', () => {
    const result = ok(
      win({ context: app, bid: { burl: undefined, adm: '<img src="https://dsp.example/own-tracker">' } }),
    );
    assert.equal(claimsOf(result.noticeUrls.adm).dspBurl, '');
    assert.ok(
      result.adm?.startsWith('<img src="https://dsp.example/own-tracker"><img src="https://tally.example/n/'),
      `Tally’s pixel follows the DSP’s markup; got ${result.adm}`,
    );
  });

  it('instruments an AMPHTML ad with <amp-pixel> elements, which AMP4ADS allows where an <img> makes the ad invalid', () => {
    const web = ok(win({ bid: { adm: AMP_AD } }));
    const notice = web.noticeUrls.adm ?? 'missing';
    assert.equal(
      web.adm,
      AMP_AD.replace('</body>', `${ampPixelTag(withoutAmpVariableNames(notice))}</body>`),
    );
    assert.deepEqual(web.warnings, []);
    // Its token's capitals escaped read back as the notice URL itself.
    assert.equal(decodeURIComponent(withoutAmpVariableNames(notice)), notice);
    // An app banner's markup carries the DSP's burl in one too.
    const inApp = ok(win({ context: app, bid: { adm: AMP_AD } }));
    assert.equal(
      inApp.adm,
      AMP_AD.replace(
        '</body>',
        ampPixelTag(withoutAmpVariableNames(inApp.noticeUrls.adm ?? 'missing')) +
          ampPixelTag('https://dsp.example/bill?p=2.5&a=auction-1') +
          '</body>',
      ),
    );
    assert.ok(!/<img/i.test(inApp.adm ?? ''), inApp.adm ?? '');
    // The markup of an app whose publisher fires the burl gets its load pixel so.
    const loaded = ok(win({ context: app, publisherBurl: true, bid: { adm: AMP_AD } }));
    assert.equal(
      loaded.adm,
      AMP_AD.replace(
        '</body>',
        `${ampPixelTag(withoutAmpVariableNames(loaded.noticeUrls.loaded ?? 'missing'))}</body>`,
      ),
    );
  });

  it('adds the OMID script to an AMPHTML ad all the same, warning that it makes the ad invalid AMP and how to count without it', () => {
    const result = ok(win({ context: app, imp: { banner: { api: [7] } }, bid: { adm: AMP_AD } }));
    const omid = result.noticeUrls.omid ?? 'missing';
    assert.equal(
      result.adm,
      AMP_AD.replace('</body>', `${omidScriptTag('https://tally.example/omid/verify.js', omid)}</body>`),
    );
    assert.deepEqual(result.warnings, [
      "bid.adm is an AMPHTML ad (<html ⚡4ads>), which may hold no script but the AMP runtime's: Tally's OMID verification script, added all the same, makes it invalid AMP, which AMP validators refuse; to serve it valid, serve it as it came and have the app load https://tally.example/omid/verify.js as an OMID verification resource, noticeUrls.omid its verificationParameters",
    ]);
  });

  it('warns that the AMP runtime fires no <amp-pixel> at an http URL, Tally’s or the DSP’s burl in an app banner’s markup', () => {
    const http = { ...env, publicUrl: 'http://tally.example' };
    const web = instrumentWin(win({ bid: { adm: AMP_AD } }), http);
    assert.ok(web.ok, JSON.stringify(web));
    assert.deepEqual(web.warnings, [
      "bid.adm is an AMPHTML ad (<html ⚡4ads>), whose runtime fires an <amp-pixel> at an https URL only: Tally's notice URL (TALLY_PUBLIC_URL) is http, so it is never fired and the impression cannot count",
    ]);
    const burl = ok(
      win({ context: app, bid: { adm: AMP_AD, burl: 'http://dsp.example/bill?p=${AUCTION_PRICE}' } }),
    );
    assert.deepEqual(
      burl.warnings.filter((warning) => warning.startsWith('bid.adm is an AMPHTML ad')),
      [
        "bid.adm is an AMPHTML ad (<html ⚡4ads>), whose runtime fires an <amp-pixel> at an https URL only: the DSP's burl is http, so it is never fired and the DSP never billed",
      ],
    );
    // An ordinary banner's <img> loads from either.
    const plain = instrumentWin(win(), http);
    assert.ok(plain.ok, JSON.stringify(plain));
    assert.deepEqual(plain.warnings, []);
  });

  it('warns of banner markup that is only a URL, and adds the pixel after it all the same', () => {
    const result = ok(win({ bid: { adm: 'https://dsp.example/ad.html' } }));
    assert.equal(result.adm, `https://dsp.example/ad.html${pixelTag(result.noticeUrls.adm ?? 'missing')}`);
    assert.deepEqual(result.warnings, [
      "bid.adm is a URL, not HTML markup: a page shows it as text, and one loading it (as an iframe's src) gets a URL that no longer works, Tally's tags following it; send markup instead, such as an <iframe> that loads the URL",
    ]);
  });

  it('warns that a Content-Security-Policy the markup sets may block Tally’s pixel or OMID script', () => {
    const adm = `<meta http-equiv="Content-Security-Policy" content="default-src https://dsp.example"><div>ad</div>`;
    assert.deepEqual(ok(win({ bid: { adm } })).warnings, [
      "bid.adm sets a Content-Security-Policy (<meta http-equiv>) whose img-src or default-src may block Tally's pixel: it loads only if that admits https://tally.example",
    ]);
    assert.deepEqual(ok(win({ context: app, imp: { banner: { api: [7] } }, bid: { adm } })).warnings, [
      "bid.adm sets a Content-Security-Policy (<meta http-equiv>) whose script-src or default-src may block Tally's OMID verification script: it loads only if that admits https://tally.example",
    ]);
  });

  it('fills the encrypted price macro with the seat’s keys', () => {
    const result = ok(
      win({ context: app, seat: 'enc-seat', bid: { burl: 'https://dsp.example/b?p=${AUCTION_PRICE:BF}' } }),
    );
    const encrypted = /p=([\w-]{38})"/.exec(result.adm ?? '')?.[1] ?? '';
    assert.deepEqual(decryptPrice(encrypted, priceKeys), { ok: true, priceMicros: 2_500_000 });
  });

  it('injects an impression and an error tracker into the VAST of a video win', () => {
    const adm =
      '<VAST version="3.0"><Ad id="1"><InLine><AdSystem>x</AdSystem><AdTitle>t</AdTitle><Creatives/></InLine></Ad></VAST>';
    const result = ok(win({ imp: { video: {} }, bid: { adm } }));
    assert.equal(result.method, 'vast');
    assert.equal(result.ttlSeconds, 3600);
    const doc = new DOMParser().parseFromString(result.adm ?? '', 'text/xml');
    const impressions = Array.from(doc.getElementsByTagName('Impression')).map((node) =>
      node.textContent?.trim(),
    );
    assert.deepEqual(impressions, [result.noticeUrls.vast]);
    const errors = Array.from(doc.getElementsByTagName('Error')).map((node) => node.textContent?.trim());
    assert.deepEqual(errors, [result.noticeUrls.vast_error]);
    assert.match(result.noticeUrls.vast_error ?? '', /\?e=\[ERRORCODE\]$/);
  });

  it('wraps a video bid that only has a nurl into a VAST wrapper', () => {
    const result = ok(
      win({
        imp: { video: {} },
        context: app,
        bid: { adm: undefined, nurl: 'https://dsp.example/vast?a=${AUCTION_ID}' },
      }),
    );
    const doc = new DOMParser().parseFromString(result.adm ?? '', 'text/xml');
    assert.equal(
      doc.getElementsByTagName('VASTAdTagURI')[0]?.textContent?.trim(),
      'https://dsp.example/vast?a=auction-1',
    );
    assert.equal(result.ttlSeconds, 10800);
  });

  it('wraps a video or audio bid whose adm is a VAST tag URL, as Prebid adapters read one, into a VAST wrapper that loads it, saying so', () => {
    for (const [imp, adm, loaded] of [
      [
        { video: {} },
        'https://dsp.example/vast.xml?a=${AUCTION_ID}&p=${AUCTION_PRICE}',
        'https://dsp.example/vast.xml?a=auction-1&p=1.5',
      ],
      [
        { audio: {} },
        '\n  http://dsp.example/daast?a=${AUCTION_ID} ',
        'http://dsp.example/daast?a=auction-1',
      ],
    ] as const) {
      const result = ok(
        win({ imp, context: app, bid: { adm, price: 1.5, nurl: 'https://dsp.example/win' } }),
      );
      const doc = new DOMParser().parseFromString(result.adm ?? '', 'text/xml');
      assert.equal(doc.getElementsByTagName('VASTAdTagURI')[0]?.textContent?.trim(), loaded);
      assert.deepEqual(
        Array.from(doc.getElementsByTagName('Impression')).map((node) => node.textContent?.trim()),
        [result.noticeUrls.vast],
      );
      assert.equal(result.method, 'vast');
      assert.deepEqual(result.warnings, [
        'bid.adm is a URL, not VAST markup: the VAST wrapper Tally serves loads it as its <VASTAdTagURI>, as a player given a VAST tag URL would; send the VAST document itself as adm, or the URL as bid.nurl without adm',
      ]);
    }
  });

  it('takes only an adm that is one absolute http(s) URL for a VAST tag URL: VAST markup is instrumented, a text with a space served as it came', () => {
    const adm = '<VAST version="3.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>';
    const result = ok(win({ imp: { video: {} }, bid: { adm } }));
    assert.equal(
      result.adm?.startsWith('<VAST version="3.0"><Ad><InLine><AdSystem>x</AdSystem><Error>'),
      true,
    );
    const url = ok(win({ imp: { video: {} }, bid: { adm: 'https://dsp.example/a b' } }));
    assert.equal(url.adm, 'https://dsp.example/a b');
  });

  it('counts SSAI video on the publisher burl when the publisher fires it', () => {
    const result = ok(
      win({
        imp: { video: {} },
        context: { ...app, device: { devicetype: 3 } },
        publisherBurl: true,
        bid: { adm: undefined, nurl: 'https://dsp.example/v' },
      }),
    );
    assert.equal(result.channel, 'ctv');
    assert.equal(result.method, 'burl');
    assert.equal(claimsOf(result.noticeUrls.vast).kind, 'vast');
  });

  it('adds an event tracker to native markup when the request offered image event trackers', () => {
    const request = JSON.stringify({ ver: '1.2', assets: [], eventtrackers: [{ event: 1, methods: [1] }] });
    const result = ok(
      win({
        imp: { native: { request } },
        bid: { adm: JSON.stringify({ assets: [], link: { url: 'https://x' } }) },
      }),
    );
    assert.equal(result.ttlSeconds, 300);
    assert.deepEqual(JSON.parse(result.adm ?? '').eventtrackers, [
      { event: 1, method: 1, url: result.noticeUrls.native },
    ]);
  });

  it('adds a script event tracker, its notice URL answering 204, when the request offered only script event trackers', () => {
    const request = JSON.stringify({ ver: '1.2', assets: [], eventtrackers: [{ event: 1, methods: [2] }] });
    const result = ok(
      win({
        imp: { native: { request } },
        bid: { adm: JSON.stringify({ assets: [], link: { url: 'https://x' } }) },
      }),
    );
    assert.deepEqual(JSON.parse(result.adm ?? '').eventtrackers, [
      { event: 1, method: 2, url: `${result.noticeUrls.native}?f=b` },
    ]);
    assert.doesNotMatch(result.adm ?? '', /imptrackers/);
  });

  it('warns that a native request it cannot read gave no event trackers, so that its notice went into imptrackers', () => {
    const adm = JSON.stringify({ assets: [], link: { url: 'https://x' } });
    const why = (what: string) =>
      `${what}, so Tally could not read which impression event trackers it offers: its notice went into the native response's imptrackers, which a renderer firing only the event trackers the request offered does not fire; send imp.native.request as the JSON text of a native request object`;
    const cases: [request: unknown, warning: string][] = [
      [
        '{"ver":"1.2","eventtrackers":[{"event":1,"methods":[2]}]',
        why('imp.native.request is not valid JSON'),
      ],
      ['[1]', why('imp.native.request is not a JSON object')],
      [42, why('imp.native.request is not a JSON object')],
      [
        '{"ver":"1.2","eventtrackers":{"event":1}}',
        why("imp.native.request's eventtrackers is not an array"),
      ],
    ];
    for (const [request, warning] of cases) {
      const result = ok(win({ imp: { native: { request } }, bid: { adm } }));
      assert.deepEqual(JSON.parse(result.adm ?? '').imptrackers, [result.noticeUrls.native]);
      assert.deepEqual(result.warnings, [warning], JSON.stringify(request));
    }
    // Where the notice went into no imptrackers (no adm, or one Tally cannot read), nothing is said of it.
    const unreadable = cases[0]?.[0];
    assert.deepEqual(
      ok(win({ imp: { native: { request: unreadable } }, bid: { adm: undefined } })).warnings,
      ['the bid has no adm: add noticeUrls.native to the native response it serves'],
    );
    assert.deepEqual(ok(win({ imp: { native: { request: unreadable } }, bid: { adm: '[]' } })).warnings, [
      "native markup is not a JSON object: the markup is served as it came, without Tally's notice, so this impression cannot count unless noticeUrls.native is fired as an impression tracker of the native response",
    ]);
    for (const request of [undefined, '{"ver":"1.2","assets":[]}', { ver: '1.2', assets: [] }]) {
      assert.deepEqual(
        ok(win({ imp: { native: { request } }, bid: { adm } })).warnings,
        [],
        JSON.stringify(request),
      );
    }
  });

  it('warns that its notice went into imptrackers when the native request offers the impression event by no method Tally has, an image or a script', () => {
    const adm = JSON.stringify({ assets: [], link: { url: 'https://x' } });
    const cases: [methods: unknown[], shown: string][] = [
      [[500], '[500]'],
      [['1', '2'], '["1","2"]'],
    ];
    for (const [methods, shown] of cases) {
      const request = JSON.stringify({ ver: '1.2', eventtrackers: [{ event: 1, methods }], assets: [] });
      const result = ok(win({ imp: { native: { request } }, bid: { adm } }));
      assert.deepEqual(JSON.parse(result.adm ?? '').imptrackers, [result.noticeUrls.native]);
      assert.deepEqual(result.warnings, [
        `imp.native.request offers the impression event (eventtrackers event 1) by methods ${shown}, neither of Tally's, an image (1) or a script (2), as numbers: its notice went into the native response's imptrackers, which a renderer firing only the event trackers the request offered does not fire`,
      ]);
    }
    const otherEvents = JSON.stringify({
      ver: '1.2',
      eventtrackers: [{ event: 2, methods: [1] }],
      assets: [],
    });
    assert.deepEqual(ok(win({ imp: { native: { request: otherEvents } }, bid: { adm } })).warnings, []);
  });

  it('reads a native response after a byte order mark as native where the imp offers a banner too, and serves it without the mark', () => {
    const request = JSON.stringify({ ver: '1.2', assets: [], eventtrackers: [{ event: 1, methods: [1] }] });
    const adm = JSON.stringify({ assets: [], link: { url: 'https://x' } });
    const result = ok(win({ imp: { banner: {}, native: { request } }, bid: { adm: `\uFEFF${adm}` } }));
    assert.equal(result.format, 'native');
    assert.deepEqual(JSON.parse(result.adm ?? ''), {
      assets: [],
      link: { url: 'https://x' },
      eventtrackers: [{ event: 1, method: 1, url: result.noticeUrls.native }],
    });
  });

  it('puts the notice pixel of a banner that is a whole document before its </body>', () => {
    const result = ok(win({ bid: { adm: '<html><body><div>creative</div></body></html>' } }));
    assert.equal(
      result.adm,
      `<html><body><div>creative</div>${pixelTag(result.noticeUrls.adm ?? '')}</body></html>`,
    );
  });

  it('hands back markup it cannot instrument untouched, saying why and that the impression cannot count without its notice: VAST it cannot read, native that is not JSON', () => {
    const video = ok(win({ imp: { video: {} }, bid: { adm: '<html>not vast</html>' } }));
    assert.equal(video.adm, '<html>not vast</html>');
    assert.equal(video.warnings.length, 1);
    assert.match(
      video.warnings[0] ?? '',
      /^no <InLine> or <Wrapper> .*: the markup is served as it came, without Tally's notice, so this impression cannot count unless noticeUrls\.vast is fired as an <Impression> of the VAST the player reads$/,
    );
    const native = ok(win({ imp: { native: {} }, bid: { adm: '{"assets": [' } }));
    assert.equal(native.adm, '{"assets": [');
    assert.deepEqual(native.warnings, [
      `native markup is not valid JSON (${jsonError('{"assets": [')}): the markup is served as it came, without Tally's notice, so this impression cannot count unless noticeUrls.native is fired as an impression tracker of the native response`,
    ]);
    // Counted on the publisher's burl, the impression does not need the markup's notice.
    const burl = ok(win({ imp: { native: {} }, publisherBurl: true, bid: { adm: '{"assets": [' } }));
    assert.deepEqual(burl.warnings, [
      `native markup is not valid JSON (${jsonError('{"assets": [')}): the markup is served as it came`,
    ]);
  });

  it('says of a no-ad VAST response that no impression can happen on it, not that it needs the notice fired', () => {
    const adm = '<VAST version="3.0"><Error><![CDATA[https://dsp.example/e?c=[ERRORCODE]]]></Error></VAST>';
    const result = ok(win({ imp: { video: {} }, bid: { adm } }));
    assert.equal(result.adm, adm);
    assert.deepEqual(result.warnings, [
      'the VAST is a no-ad response (its root element holds no <Ad>): a player plays nothing, so no impression can happen; the markup is served as it came',
    ]);
  });

  it('tells the exchange to add the native notice URL itself when a native bid has no adm', () => {
    const result = ok(win({ imp: { native: {} }, bid: { adm: undefined, nurl: 'https://dsp.example/n' } }));
    assert.equal(result.adm, null);
    assert.deepEqual(result.warnings, [
      'the bid has no adm: add noticeUrls.native to the native response it serves',
    ]);
  });

  it('tells the exchange which tracker to add when a native bid has no adm: an image event tracker, or a script one with ?f=b where the request offers only scripts', () => {
    const offering = (methods: number[]) =>
      JSON.stringify({ ver: '1.2', assets: [], eventtrackers: [{ event: 1, methods }] });
    const image = ok(win({ imp: { native: { request: offering([1, 2]) } }, bid: { adm: undefined } }));
    assert.deepEqual(image.warnings, [
      'the bid has no adm: add noticeUrls.native to the native response it serves, as an event tracker {"event": 1, "method": 1}',
    ]);
    const script = ok(win({ imp: { native: { request: offering([2]) } }, bid: { adm: undefined } }));
    assert.deepEqual(script.warnings, [
      'the bid has no adm: add noticeUrls.native with ?f=b after it (its notice then answers 204, not an image) to the native response it serves, as an event tracker {"event": 1, "method": 2}',
    ]);
  });

  it('fills macros in audio markup as XML, as for video: an id with hyphens stays as it is in a CDATA section', () => {
    const adm =
      '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem><Impression><![CDATA[https://dsp.example/i?a=${AUCTION_ID}]]></Impression></InLine></Ad></VAST>';
    const result = ok(winWithAuctionId('3f1c-42-a9', { imp: { audio: {} }, bid: { adm } }));
    assert.equal(result.format, 'audio');
    assert.deepEqual(textsOf(parseXmlStrictly(result.adm ?? ''), 'Impression'), [
      'https://dsp.example/i?a=3f1c-42-a9',
      result.noticeUrls.vast,
    ]);
  });

  it('seals each notice URL of a video or native win with its own kind: only the impression bills, never the error tracker', () => {
    const adm =
      '<VAST version="3.0"><Ad id="1"><InLine><AdSystem>x</AdSystem><AdTitle>t</AdTitle><Creatives/></InLine></Ad></VAST>';
    const video = ok(win({ imp: { video: {} }, bid: { adm } }));
    assert.equal(claimsOf(video.noticeUrls.vast).kind, 'vast');
    assert.equal(claimsOf(video.noticeUrls.vast_error?.replace(/\?e=.*$/, '')).kind, 'vast_error');
    const native = ok(
      win({ imp: { native: {} }, bid: { adm: JSON.stringify({ assets: [], link: { url: 'https://x' } }) } }),
    );
    assert.equal(native.method, 'native');
    assert.equal(claimsOf(native.noticeUrls.native).kind, 'native');
  });

  it('instruments a win built from every OpenRTB bid-response fixture', () => {
    const bannerRequest = fixtureJson('openrtb', 'bid-request_2.6_simple-banner.json');
    const videoRequest = fixtureJson('openrtb', 'bid-request_2.6_video.json');
    const names = fixtureNames('openrtb').filter((name) => name.startsWith('bid-response'));
    assert.equal(names.length, 4);
    for (const name of names) {
      const response = fixtureJson('openrtb', name);
      const bid = response.seatbid[0].bid[0];
      const isVideo = typeof bid.adm === 'string' && bid.adm.includes('<VAST');
      const isNative = typeof bid.adm === 'string' && bid.adm.includes('"native"');
      const base = isVideo ? videoRequest : bannerRequest;
      const imp = isNative ? { id: bid.impid, native: { request: '{}' } } : { ...base.imp[0], id: bid.impid };
      const result = ok({ request: { ...base, imp: [imp] }, seat: response.seatbid[0].seat ?? 'seat', bid });
      assert.equal(result.format, isVideo ? 'video' : isNative ? 'native' : 'banner', name);
      assert.ok(Object.keys(result.noticeUrls).length > 0, name);
      if (isVideo) assert.ok(result.adm?.includes(result.noticeUrls.vast ?? 'missing'), name);
    }
  });

  it('escapes a hostile id and burl so that they cannot break out of the markup', () => {
    const hostile = '"><script>alert(1)</script>';
    const result = ok(
      win({
        context: app,
        bidResponseId: hostile,
        bid: { id: hostile, burl: `https://dsp.example/b?x=${hostile}&id=\${AUCTION_BID_ID}` },
      }),
    );
    assert.ok(!result.adm?.includes('<script>'), result.adm ?? '');
    assert.equal((result.adm?.match(/<img /g) ?? []).length, 2);
    const video = ok(
      win({ imp: { video: {} }, bid: { adm: undefined, nurl: `https://dsp.example/v?x=]]>${hostile}` } }),
    );
    const doc = new DOMParser().parseFromString(video.adm ?? '', 'text/xml');
    assert.equal(doc.getElementsByTagName('script').length, 0);
    assert.equal(
      doc.getElementsByTagName('VASTAdTagURI')[0]?.textContent?.trim(),
      `https://dsp.example/v?x=]]>${hostile}`,
    );
  });

  it('rejects a win without the fields it needs, naming each fix', () => {
    const cases: [WinInput, RegExp][] = [
      [{}, /request/],
      [
        { ...win(), seat: '' },
        /^seat must be a non-empty string, as OpenRTB ids are \(a whole number is read as its digits\): the winning seatbid\.seat, or, where the DSP names no seat, one id of your own/,
      ],
      [{ ...win(), clearingPrice: -1 }, /clearingPrice/],
      [{ ...win(), currency: 'dollars' }, /currency/],
      [{ ...win(), auctionTimeMs: 'yesterday' }, /auctionTimeMs/],
      [{ ...win(), auctionTimeMs: NOW_MS + 3_600_000 }, /ahead of Tally's clock/],
      [{ ...win(), publisherBurl: 'yes' }, /publisherBurl/],
      [{ ...win(), bidResponseId: true }, /bidResponseId/],
      [{ ...win(), currency: 'usd' }, /currency/],
      [{ ...win(), test: 'yes' }, /test must be true or false/],
      [{ ...win(), auctionTimeMs: NOW_MS - 0.5 }, /auctionTimeMs/],
    ];
    for (const [input, message] of cases) {
      const result = instrumentWin(input, env);
      assert.equal(result.ok, false);
      assert.match(!result.ok ? result.error.message : '', message);
    }
  });

  it('says what came where the request or bid object should be, and to send the object itself where it came as JSON text', () => {
    const { request, bid } = win() as { request: object; bid: object };
    const refusal = (input: WinInput) => {
      const result = instrumentWin(input, env);
      return result.ok ? 'accepted' : result.error.message;
    };
    assert.equal(
      refusal({ ...win(), request: JSON.stringify(request) }),
      'request is a string of JSON text, not an object: send the OpenRTB BidRequest of the auction as the JSON object itself, not as a string of it',
    );
    assert.equal(
      refusal({ ...win(), bid: JSON.stringify(bid) }),
      'bid is a string of JSON text, not an object: send the winning OpenRTB Bid as the JSON object itself, not as a string of it',
    );
    assert.equal(
      refusal({ ...win(), request: [request] }),
      'request must be the OpenRTB BidRequest object of the auction, not an array',
    );
    assert.equal(
      refusal({ ...win(), bid: [bid] }),
      'bid must be the winning OpenRTB Bid object, not an array',
    );
    assert.equal(
      refusal({ ...win(), bid: 'b1' }),
      'bid must be the winning OpenRTB Bid object, not a string ("b1")',
    );
    assert.equal(
      refusal({ seat: 's1', bid }),
      'request is missing: it must be the OpenRTB BidRequest object of the auction',
    );
  });

  it('refuses each optional field of a win sent as the wrong JSON type, saying the type it needs, and a bid.price beside a clearingPrice too', () => {
    const cpm = 'a CPM in currency units from 0 to 1000000000, e.g. 1.25';
    const cases: [WinInput, string][] = [
      [{ ...win(), test: 'yes' }, 'test must be true or false, not a string ("yes")'],
      [{ ...win(), publisherBurl: 1 }, 'publisherBurl must be true or false, not 1'],
      [
        { ...win(), auctionTimeMs: '123' },
        'auctionTimeMs must be the auction time in milliseconds since the epoch (an integer), not a string ("123")',
      ],
      [
        { ...win(), auctionTimeMs: NOW_MS + 0.5 },
        `auctionTimeMs must be the auction time in milliseconds since the epoch (an integer), not ${NOW_MS + 0.5}`,
      ],
      [{ ...win(), clearingPrice: '1.5' }, `clearingPrice must be a number, ${cpm}, not a string ("1.5")`],
      [
        { ...win(), currency: 1 },
        'currency must be an ISO 4217 code of three capital letters, e.g. "USD", not 1',
      ],
      [
        { ...win(), bidResponseId: true },
        "bidResponseId must be the BidResponse's bidid, a non-empty string, as OpenRTB ids are (a whole number is read as its digits)",
      ],
      // The bid's own price fills ${AUCTION_MBR} and is checked against the clearing price.
      [
        win({ clearingPrice: 1, bid: { price: '2.5' } }),
        `bid.price must be a number, ${cpm}, not a string ("2.5")`,
      ],
      [win({ clearingPrice: 1, bid: { price: -2 } }), `bid.price must be ${cpm}, not -2`],
      [
        win({ bid: { price: { cpm: 2.5 } } }),
        `bid.price must be a number, ${cpm}, not an object ({"cpm":2.5})`,
      ],
    ];
    for (const [input, message] of cases) {
      const result = instrumentWin(input, env);
      assert.deepEqual(result.ok ? result : result.error, { code: 'VALIDATION_FAILED', message }, message);
    }
    // A clearing price with no bid price, or a null one, is billed as before.
    assert.equal(ok(win({ clearingPrice: 1, bid: { price: undefined } })).ok, true);
    assert.equal(ok(win({ clearingPrice: 1, bid: { price: null } })).ok, true);
  });

  it('refuses an id sent as a number JSON cannot hold exactly, which would give two impressions one dedupe key, and keeps a whole one as its text', () => {
    // 2^53 + 1 reads as 2^53: two auctions 9007199254740993 and 9007199254740992 would be one.
    const pastSafe = JSON.parse('9007199254740993') as number;
    const inexact: [WinInput, string][] = [
      [{ ...win(), request: { ...(win().request as object), id: pastSafe } }, 'request.id'],
      [win({ bid: { impid: 1.5 } }), 'bid.impid'],
      [win({ bid: { id: 1e21 } }), 'bid.id'],
      [win({ bid: { adid: 2 ** 60 } }), 'bid.adid'],
      [win({ context: { site: { publisher: { id: pastSafe } } } }), 'request.site.publisher.id'],
      [win({ context: { app: { publisher: { id: -(2 ** 54) } } } }), 'request.app.publisher.id'],
      [{ ...win(), seat: 2.5 }, 'seat'],
      [{ ...win(), bidResponseId: pastSafe }, 'bidResponseId'],
    ];
    for (const [input, field] of inexact) {
      const result = instrumentWin(input, env);
      assert.equal(result.ok, false, field);
      assert.match(
        !result.ok ? result.error.message : '',
        new RegExp(`^${field.replace(/\./g, '\\.')} is a number .* send it as a string`),
      );
    }
    const whole = ok({
      ...win({ imp: { id: 7, banner: { w: 300, h: 250 } }, bid: { id: 9007199254740991, impid: 7 } }),
      request: { id: 42, imp: [{ id: 7, banner: { w: 300, h: 250 } }], site: { publisher: { id: 5 } } },
    });
    const claims = claimsOf(whole.noticeUrls.adm);
    assert.deepEqual(
      [claims.auctionId, claims.impId, claims.bidId, claims.publisherId],
      ['42', '7', '9007199254740991', '5'],
    );
  });

  it('takes ids sent as whole numbers as the strings of their digits, seat and bidResponseId too, warning that OpenRTB writes them as strings', () => {
    const asNumbers = win({ imp: { id: 7, banner: { w: 300, h: 250 } }, bid: { id: 9, impid: 7, adid: 3 } });
    const numeric = ok({
      ...asNumbers,
      request: { ...(asNumbers.request as object), id: 42, site: { publisher: { id: 5 } } },
      seat: 11,
      bidResponseId: 0,
    });
    assert.deepEqual(numeric.warnings, [
      'request.id, request.imp[0].id, bid.impid, bid.id, bid.adid, seat, bidResponseId and request.site.publisher.id are numbers where OpenRTB ids are strings: each is read as the string of its digits (42 as "42", which is the same id)',
    ]);
    const claims = claimsOf(numeric.noticeUrls.adm);
    assert.deepEqual(
      [claims.auctionId, claims.impId, claims.bidId, claims.adId, claims.seat, claims.bidResponseId],
      ['42', '7', '9', '3', '11', '0'],
    );
    // The same win sent with strings is the same impression: one dedupe key.
    const asStrings = win({ imp: { id: '7', banner: { w: 300, h: 250 } }, bid: { id: '9', impid: '7' } });
    const text = ok({ ...asStrings, request: { ...(asStrings.request as object), id: '42' }, seat: '11' });
    assert.deepEqual(text.warnings, []);
    assert.equal(impressionKey(claimsOf(text.noticeUrls.adm)), impressionKey(claims));
    // One number alone is named alone; another imp's id is not the won imp's.
    const one = win({ bid: { impid: 1 } });
    (one.request as { imp: object[] }).imp.push({ id: 2, banner: { w: 300, h: 250 } });
    assert.deepEqual(ok(one).warnings, [
      'bid.impid is a number where OpenRTB ids are strings: it is read as the string of its digits (1 as "1", which is the same id)',
    ]);
  });

  it('takes an empty bidResponseId as none, as when it is left out, rather than refuse the win', () => {
    const absent = ok(win());
    const empty = ok(win({ bidResponseId: '' }));
    assert.deepEqual(empty.warnings, absent.warnings);
    assert.equal(claimsOf(empty.noticeUrls.adm).bidResponseId, '');
  });

  it('says, refusing an id that is neither a string nor a whole number, that a whole number is read as its digits', () => {
    const refusals: [WinInput, string][] = [
      [
        { ...win(), request: { ...(win().request as object), id: true } },
        'request.id (the auction id) must be',
      ],
      [win({ bid: { impid: '' } }), 'bid.impid must be'],
      [win({ bid: { id: { id: 'b' } } }), 'bid.id must be'],
      [{ ...win(), seat: ['s'] }, 'seat must be'],
      [{ ...win(), bidResponseId: false }, "bidResponseId must be the BidResponse's bidid,"],
    ];
    for (const [input, start] of refusals) {
      const result = instrumentWin(input, env);
      const message = result.ok ? 'accepted' : result.error.message;
      assert.ok(
        message.startsWith(
          `${start} a non-empty string, as OpenRTB ids are (a whole number is read as its digits)`,
        ),
        message,
      );
    }
  });

  it('refuses an imp whose id is a number JSON cannot hold exactly, naming it, rather than answer that the bid won no imp', () => {
    // Read as 2^53, the imp would match a bid.impid "9007199254740992" that no one sent for it.
    const pastSafe = JSON.parse('9007199254740993') as number;
    const input = win({ bid: { impid: '9007199254740993' } });
    (input.request as { imp: object[] }).imp.push({ id: pastSafe, banner: { w: 300, h: 250 } });
    const result = instrumentWin(input, env);
    assert.deepEqual(!result.ok && [result.error.code, result.error.message], [
      'VALIDATION_FAILED',
      'request.imp[1].id is a number that is not whole or passes 2^53 - 1, which JSON readers round (two such ids can read as one): send it as a string',
    ]);
    // A bid.impid sent as the same number: the imp's id, first in the request, is named.
    (input.bid as { impid: unknown }).impid = pastSafe;
    const both = instrumentWin(input, env);
    assert.match(!both.ok ? both.error.message : '', /^request\.imp\[1\]\.id is a number/);
    (input.bid as { impid: unknown }).impid = '9007199254740993';
    (input.request as { imp: object[] }).imp[1] = {
      id: '9007199254740993',
      banner: { w: 300, h: 250 },
    };
    assert.equal(claimsOf(ok(input).noticeUrls.adm).impId, '9007199254740993');
  });

  it('refuses a bid.adm sent as a JSON object holding a number past 2^53 - 1, which would be served rounded, and serves the same response sent as a string as sent', () => {
    const text =
      '{"native":{"assets":[{"id":9007199254740993,"title":{"text":"x"}}],"link":{"url":"https://x"}}}';
    const refused = instrumentWin(
      win({ imp: { native: {} }, bid: { adm: JSON.parse(text) as object } }),
      env,
    );
    assert.deepEqual(!refused.ok && [refused.error.code, refused.error.message], [
      'VALIDATION_FAILED',
      'bid.adm.native.assets[0].id is a number past 2^53 - 1 in size, which JSON readers round: a bid.adm sent as a JSON object is served as the JSON of what was read, which would carry another number, so send bid.adm as a string, whose text is served as sent',
    ]);
    const served = ok(win({ imp: { native: {} }, bid: { adm: text } }));
    assert.match(served.adm ?? '', /"id":9007199254740993,/);
    // A safe integer in an object is served as it came.
    const safe = ok(
      win({ imp: { native: {} }, bid: { adm: JSON.parse(text.replace('993', '991')) as object } }),
    );
    assert.match(safe.adm ?? '', /"id":9007199254740991,/);
  });

  it('names the first number past 2^53 - 1 in an object bid.adm by its path as the text has it: the first in the text, a name that is no identifier in brackets, cut after 200 characters', () => {
    const refusal = (adm: string) => {
      const result = instrumentWin(
        win({ imp: { native: {} }, bid: { adm: JSON.parse(adm) as object } }),
        env,
      );
      assert.ok(!result.ok, adm);
      return result.error.message.split(' is a number past')[0];
    };
    const big = '9007199254740993';
    assert.equal(refusal(`{"native":{"a":[1,{"b":${big}}],"c":${big}}}`), 'bid.adm.native.a[1].b');
    assert.equal(refusal(`{"native":{"data-x":[${big}]}}`), 'bid.adm.native["data-x"][0]');
    // "bid.adm." and a name of 192 characters make 200; one more is cut.
    assert.equal(refusal(`{"${'n'.repeat(192)}":${big}}`), `bid.adm.${'n'.repeat(192)}`);
    assert.equal(refusal(`{"${'n'.repeat(193)}":${big}}`), `bid.adm.${'n'.repeat(192)}…`);
  });

  it('refuses for a number past 2^53 - 1 only a bid.adm served as its JSON: not one that is a number or an array (never served), nor for a fraction', () => {
    const big = JSON.parse('9007199254740993') as number;
    for (const adm of [big, [big]]) {
      const result = ok(win({ imp: { native: {} }, bid: { adm } }));
      assert.match(
        result.warnings.join(),
        /^bid\.adm is (a number|an array), not a string/,
        JSON.stringify(adm),
      );
    }
    const fraction = ok(
      win({ imp: { native: {} }, bid: { adm: { native: { assets: [], ratio: 1.5, eventtrackers: [] } } } }),
    );
    assert.match(fraction.adm ?? '', /"ratio":1\.5/);
  });

  it('answers a win whose request.imp is not a list of objects that the bid won no imp, rather than fail reading the imps’ ids', () => {
    for (const imp of [[null], {}, 'imp']) {
      const input = win();
      (input.request as { imp: unknown }).imp = imp;
      const result = instrumentWin(input, env);
      assert.deepEqual(!result.ok && result.error.code, 'IMP_NOT_FOUND', JSON.stringify(imp));
    }
  });

  it('refuses markup whose macros, filled with long ids, could grow it by more than 16 MiB, before building it', () => {
    const longId = 'a'.repeat(2000);
    const withMacros = (count: number) => ({
      ...win({ bid: { adm: `<p>${'${AUCTION_ID}'.repeat(count)}</p>` } }),
      request: { ...(win().request as object), id: longId },
    });
    // Each macro could add 2000 characters, up to 17 each once escaped: 450 of them stay within
    // 16 MiB, 500 do not.
    assert.equal(ok(withMacros(450)).adm?.includes(longId.repeat(450)), true, 'the 450 macros are filled');
    const refused = instrumentWin(withMacros(500), env);
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.error.code, 'MARKUP_TOO_LARGE');
    assert.match(!refused.ok ? refused.error.message : '', /use fewer macros or shorter ids/);
  });

  it('refuses a win whose sealed burl would make its notice URLs too long to be read, and accepts one whose burl goes into the markup', () => {
    const longBurl = `https://dsp.example/bill?d=${'x'.repeat(12_000)}`;
    const relayed = instrumentWin(win({ bid: { burl: longBurl } }), env);
    assert.equal(relayed.ok, false);
    assert.equal(!relayed.ok && relayed.error.code, 'NOTICE_URL_TOO_LONG');
    assert.match(
      !relayed.ok ? relayed.error.message : '',
      /over the 8192 .* shorten bid\.burl \(12027 characters\)/,
    );
    const longId = instrumentWin(
      { ...win(), request: { ...(win().request as object), id: 'a'.repeat(9000) } },
      env,
    );
    assert.match(!longId.ok ? longId.error.message : '', /shorten request\.id \(9000 characters\)/);
    // An app banner with neither OMID nor publisher burl carries the DSP burl in its markup.
    const inMarkup = ok(win({ context: app, bid: { burl: longBurl } }));
    assert.ok(
      (inMarkup.noticeUrls.adm?.length ?? Infinity) < 1000,
      `a burl carried in the markup leaves the notice URL short; got ${inMarkup.noticeUrls.adm?.length} characters`,
    );
    const usual = ok(win({ bid: { burl: `https://dsp.example/bill?d=${'x'.repeat(5_000)}` } }));
    assert.ok(
      (usual.noticeUrls.adm?.length ?? Infinity) <= MAX_NOTICE_URL_CHARS,
      `a 5000-character burl fits the notice URL; got ${usual.noticeUrls.adm?.length} characters`,
    );
  });

  it('warns when the imp requires secure markup (imp.secure 1) and Tally hands out http notice URLs', () => {
    const plainHttp = { ...env, publicUrl: 'http://tally.example' };
    const warned = (input: WinInput, environment: WinEnvironment) => {
      const result = instrumentWin(input, environment);
      assert.ok(result.ok, JSON.stringify(result));
      return result.warnings.filter((warning) => warning.startsWith('imp.secure is 1'));
    };
    const secure = win({ imp: { secure: 1, banner: { w: 300, h: 250 } } });
    assert.equal(warned(secure, plainHttp).length, 1);
    assert.match(warned(secure, plainHttp)[0] ?? '', /http:\/\/tally\.example.*serve Tally over https/);
    const secureVideo = win({
      imp: { secure: 1, video: {} },
      bid: { adm: '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>' },
    });
    assert.equal(warned(secureVideo, plainHttp).length, 1, 'a VAST impression alike');
    assert.deepEqual(warned(secure, env), [], 'https notice URLs');
    assert.deepEqual(warned(win({ imp: { secure: 0, banner: {} } }), plainHttp), [], 'imp.secure 0');
    assert.deepEqual(warned(win(), plainHttp), [], 'imp.secure absent: http assumed fine');
  });

  it('cuts the TTL to a shorter bid.exp, sealed into the notices, ignores a longer one, and warns of one that is not a positive number', () => {
    const short = ok(win({ bid: { exp: 30.9 } }));
    assert.equal(short.ttlSeconds, 30);
    assert.equal(claimsOf(short.noticeUrls.adm).ttlSeconds, 30);
    assert.deepEqual(short.warnings, [
      "bid.exp is 30 s, shorter than the 600 s TTL of its counting rule: the DSP pays for no impression after it, so the win's notices count for 30 s",
    ]);
    const long = ok(win({ bid: { exp: 3600 } }));
    assert.deepEqual([long.ttlSeconds, long.warnings], [600, []]);
    const same = ok(win({ bid: { exp: 600 } }));
    assert.deepEqual([same.ttlSeconds, same.warnings], [600, []], 'as long as the TTL: nothing to cut');
    const underASecond = ok(win({ bid: { exp: 0.5 } }));
    assert.equal(underASecond.ttlSeconds, 1, 'whole seconds, at least one');
    assert.match(underASecond.warnings.join(), /^bid\.exp is 1 s, shorter than the 600 s TTL/);
    for (const exp of [0, -5, '30']) {
      const ignored = ok(win({ bid: { exp } }));
      assert.equal(ignored.ttlSeconds, 600);
      assert.match(ignored.warnings.join(), /^bid\.exp .* is not a positive number of seconds: ignored/);
    }
  });

  it('repeats a caller’s value in a message cut short, and a number past the float range (1e400) as such, not as null', () => {
    const huge = 'x'.repeat(100_000);
    const outOfRange = ok(win({ bid: { exp: Infinity } }));
    assert.match(
      outOfRange.warnings.join(),
      /^bid\.exp a number out of range is not a positive number of seconds/,
    );
    const longExp = ok(win({ bid: { exp: huge } }));
    const refused = [
      instrumentWin(win({ bid: { impid: huge } }), env),
      instrumentWin(win({ imp: { banner: {}, qty: { multiplier: huge } } }), env),
    ];
    const messages = [
      ...longExp.warnings,
      ...refused.map((result) => (result.ok ? 'registered' : result.error.message)),
    ];
    for (const message of messages) {
      assert.ok(message.length < 400, message.slice(0, 200));
      assert.match(message, /… \(100000 characters\)/);
    }
  });

  it('accepts an auction time up to 5 minutes ahead of the clock, and refuses one a millisecond later', () => {
    assert.equal(
      claimsOf(ok(win({ auctionTimeMs: NOW_MS + 300_000 })).noticeUrls.adm).auctionTimeMs,
      NOW_MS + 300_000,
    );
    const ahead = instrumentWin(win({ auctionTimeMs: NOW_MS + 300_001 }), env);
    assert.equal(ahead.ok, false);
    assert.equal(
      !ahead.ok && ahead.error.message,
      `auctionTimeMs ${NOW_MS + 300_001} (${new Date(NOW_MS + 300_001).toISOString()}) is 300001 ms ahead of Tally's clock (${new Date(NOW_MS).toISOString()}), more than the 5 minutes allowed: send the auction time in milliseconds since the epoch (UTC); if it was, Tally's clock is behind, for its operator to set`,
    );
  });

  it('refuses an auction time past any date (microseconds, say) as ahead of the clock, in words', () => {
    const ahead = instrumentWin(win({ auctionTimeMs: Number.MAX_SAFE_INTEGER }), env);
    assert.equal(!ahead.ok && ahead.error.code, 'VALIDATION_FAILED');
    assert.match(
      !ahead.ok ? ahead.error.message : '',
      /^auctionTimeMs 9007199254740991 \(past any date\) is \d+ ms ahead of Tally's clock \(/,
    );
  });

  it("seals the registering account, the app's publisher and the bid's adid into the token, and counts by that publisher's rules", () => {
    const asked: string[] = [];
    const custom: WinEnvironment = {
      ...env,
      accountId: 42,
      rulesFor: (publisherId) => {
        asked.push(publisherId);
        return new RulesTable(
          publisherId === 'pub-2'
            ? [{ format: 'banner', channel: 'app', method: 'adm', ttlSeconds: 900 }]
            : [],
        );
      },
    };
    const result = instrumentWin(win({ context: app, bid: { adid: 'cr-9' } }), custom);
    assert.ok(result.ok, JSON.stringify(result));
    assert.deepEqual(asked, ['pub-2']);
    assert.equal(result.ttlSeconds, 900);
    const claims = claimsOf(result.noticeUrls.adm);
    assert.equal(claims.accountId, 42);
    assert.equal(claims.publisherId, 'pub-2');
    assert.equal(claims.adId, 'cr-9');
    assert.equal(claims.ttlSeconds, 900);
  });

  it("refuses a publisher id that is neither a string nor a whole number, or a publisher that is not an object, rather than count the win by every publisher's rules", () => {
    const cases: [object, string][] = [
      [
        { site: { publisher: { id: { id: 'pub-1' } } } },
        'request.site.publisher.id is {"id":"pub-1"}, neither a string nor a whole number',
      ],
      [
        { app: { publisher: { id: true } } },
        'request.app.publisher.id is true, neither a string nor a whole number',
      ],
      [{ app: { publisher: { id: ['pub-2'] } } }, 'request.app.publisher.id is ["pub-2"], neither a string'],
      // The site's is refused, not passed over for the app's.
      [
        { site: { publisher: { id: false } }, app: { publisher: { id: 'pub-2' } } },
        'request.site.publisher.id is false, neither',
      ],
      [{ app: { publisher: 'pub-2' } }, 'request.app.publisher is "pub-2", not an object'],
    ];
    for (const [context, message] of cases) {
      const result = instrumentWin(win({ context }), env);
      assert.deepEqual(!result.ok && result.error.code, 'VALIDATION_FAILED', JSON.stringify(context));
      assert.ok(
        !result.ok &&
          result.error.message.startsWith(message) &&
          result.error.message.includes('TALLY_RULES'),
        `refused naming what was read and why; got ${JSON.stringify(result)}`,
      );
    }
    // None named (absent, null or empty) counts by every publisher's rules, as before.
    const asked: string[] = [];
    const recording: WinEnvironment = {
      ...env,
      rulesFor: (publisherId) => {
        asked.push(publisherId);
        return new RulesTable();
      },
    };
    for (const context of [
      { site: {} },
      { site: { publisher: null } },
      { site: { publisher: { id: '' } } },
    ]) {
      const result = instrumentWin(win({ context }), recording);
      assert.ok(result.ok, JSON.stringify(result));
    }
    assert.deepEqual(asked, ['', '', '']);
  });

  it('fills ${AUCTION_AD_ID} with bid.adid and ${AUCTION_LOSS} with 0 (won) in the DSP burl', () => {
    const burl = 'https://dsp.example/bill?ad=${AUCTION_AD_ID}&l=${AUCTION_LOSS}';
    const result = ok(win({ context: app, bid: { adid: 'cr-9', burl } }));
    assert.ok(result.adm?.includes('<img src="https://dsp.example/bill?ad=cr-9&amp;l=0"'), result.adm ?? '');
  });

  it('warns that a bid.adid neither a string nor a whole number is read as none, ${AUCTION_AD_ID} filled empty', () => {
    const burl = 'https://dsp.example/bill?ad=${AUCTION_AD_ID}';
    for (const adid of [true, { id: 'cr-9' }, ['cr-9']]) {
      const result = ok(win({ bid: { adid, burl } }));
      assert.deepEqual(result.warnings, [
        `bid.adid ${JSON.stringify(adid)} is neither a string nor a whole number: read as none, so \${AUCTION_AD_ID} is filled empty`,
      ]);
      assert.equal(claimsOf(result.noticeUrls.adm).adId, '', JSON.stringify(adid));
    }
    for (const adid of [undefined, null, '', 'cr-9']) {
      assert.deepEqual(ok(win({ bid: { adid, burl } })).warnings, [], String(adid));
    }
  });

  it("fills ${AUCTION_MULTIPLIER} with 1, and warns of the macros it fills empty: min-to-win, the discounts, Index's supply fee, and the bid id without bidResponseId", () => {
    const burl =
      'https://dsp.example/bill?m=${AUCTION_MULTIPLIER}&w=${AUCTION_MIN_TO_WIN}&d=${AUCTION_DISCOUNT_PCT}&f=${SUPPLY_FEE}&b=${AUCTION_BID_ID}';
    const result = ok(win({ bid: { burl } }));
    assert.equal(claimsOf(result.noticeUrls.adm).dspBurl, burl);
    assert.deepEqual(result.warnings, [
      "bid.burl holds ${AUCTION_MIN_TO_WIN}, ${AUCTION_DISCOUNT_PCT}, ${SUPPLY_FEE}, ${AUCTION_BID_ID}, which Tally fills empty: it has no value for them (send the BidResponse's bidid as bidResponseId)",
    ]);
    const inApp = ok(win({ context: app, bidResponseId: 'resp-1', bid: { burl } }));
    assert.ok(
      inApp.adm?.includes('<img src="https://dsp.example/bill?m=1&amp;w=&amp;d=&amp;f=&amp;b=resp-1"'),
      inApp.adm ?? '',
    );
    assert.match(
      inApp.warnings.join('\n'),
      /^bid\.burl holds \$\{AUCTION_MIN_TO_WIN\}, \$\{AUCTION_DISCOUNT_PCT\}, \$\{SUPPLY_FEE\}, which Tally fills empty: it has no value for them$/m,
    );
  });

  it('fills with AUDIT, in a test win, the macros it has no value for, so that the DSP can tell and drop its hits; the known ones as in any win', () => {
    const adm =
      '<img src="https://dsp.example/imp?w=${AUCTION_MIN_TO_WIN}&d=${AUCTION_DISCOUNT_PCT}&c=${AUCTION_DISCOUNT_CPM}&f=${SUPPLY_FEE}&b=${AUCTION_BID_ID}&ad=${AUCTION_AD_ID}&ts=${AUCTION_IMP_TS}&p=${AUCTION_PRICE}&a=${AUCTION_ID}&m=${AUCTION_MULTIPLIER}">';
    const filled =
      '<img src="https://dsp.example/imp?w=AUDIT&d=AUDIT&c=AUDIT&f=AUDIT&b=AUDIT&ad=AUDIT&ts=AUDIT&p=2.5&a=auction-1&m=1">';
    const flagged = ok(win({ test: true, bid: { adm, burl: undefined } }));
    assert.ok(flagged.adm?.includes(filled), flagged.adm ?? '');
    const inRequest = ok(
      win({ context: { site: { publisher: { id: 'pub-1' } }, test: 1 }, bid: { adm, burl: undefined } }),
    );
    assert.ok(inRequest.adm?.includes(filled), inRequest.adm ?? '');
    assert.deepEqual(flagged.warnings, [
      "bid.adm holds ${AUCTION_MIN_TO_WIN}, ${AUCTION_DISCOUNT_PCT}, ${AUCTION_DISCOUNT_CPM}, ${SUPPLY_FEE}, ${AUCTION_BID_ID}, which Tally fills with AUDIT in this test win: it has no value for them (send the BidResponse's bidid as bidResponseId)",
      "bid.adm holds ${AUCTION_IMP_TS}, which Tally fills with AUDIT in this test win: it has no value for it (the impression's time is known only once a notice counts: only the burl Tally calls or redirects to carries it)",
    ]);
    const billed = ok(win({ bid: { adm, burl: undefined }, bidResponseId: 'resp-1' }));
    assert.ok(billed.adm?.includes('w=&d=&c=&f=&b=resp-1&ad=&ts=&p=2.5'), billed.adm ?? '');
  });

  it('warns that ${AUCTION_IMP_TS} is filled empty where it is filled before the impression: markup, a nurl, a burl put into the markup', () => {
    const burl = 'https://dsp.example/bill?ts=${AUCTION_IMP_TS}';
    const emptyWarning = (field: string) =>
      `${field} holds \${AUCTION_IMP_TS}, which Tally fills empty: it has no value for it (the impression's time is known only once a notice counts: only the burl Tally calls or redirects to carries it)`;
    // Tally calls the web banner's burl when the impression counts, with its time.
    assert.deepEqual(ok(win({ bid: { burl } })).warnings, []);
    // The app banner's burl goes into its markup, filled as the win is registered.
    const inApp = ok(win({ context: app, bid: { burl } }));
    assert.ok(inApp.adm?.includes('<img src="https://dsp.example/bill?ts="'), inApp.adm ?? '');
    assert.ok(inApp.warnings.includes(emptyWarning('bid.burl')), inApp.warnings.join('\n'));
    const markup = ok(win({ bid: { adm: '<img src="https://dsp.example/imp?ts=${AUCTION_IMP_TS}">' } }));
    assert.deepEqual(markup.warnings, [emptyWarning('bid.adm')]);
    const wrapped = ok(
      win({
        imp: { video: {} },
        bid: { adm: undefined, nurl: 'https://dsp.example/vast?ts=${AUCTION_IMP_TS}' },
      }),
    );
    assert.deepEqual(wrapped.warnings, [emptyWarning('bid.nurl')]);
  });

  it('warns of a price with more decimals than a micro, billed rounded (however small, to 0), and not of one a float only spells long or of 0', () => {
    const rounded = ok(win({ clearingPrice: 1.23456789 }));
    assert.equal(claimsOf(rounded.noticeUrls.adm).priceMicros, 1_234_568);
    assert.deepEqual(rounded.warnings, [
      "clearingPrice 1.23456789 has more than 6 decimals: it is billed, and filled into the DSP's macros, as 1.234568",
    ]);
    assert.match(
      ok(win({ bid: { price: 0.0000004 } })).warnings.join(),
      /^bid\.price 4e-7 has more than 6 decimals: .* as 0$/,
    );
    // Below EPSILON, as far as the smallest number: still rounded to 0, still warned of.
    for (const [price, shown] of [
      [1e-20, '1e-20'],
      [5e-324, '5e-324'],
    ] as const) {
      const free = ok(win({ bid: { price } }));
      assert.equal(claimsOf(free.noticeUrls.adm).priceMicros, 0);
      assert.deepEqual(free.warnings, [
        `bid.price ${shown} has more than 6 decimals: it is billed, and filled into the DSP's macros, as 0`,
      ]);
    }
    assert.deepEqual(ok(win({ bid: { price: 0 } })).warnings, []);
    for (const clearingPrice of [1.5, 0.1 + 0.2, 123456.789012]) {
      assert.deepEqual(
        ok(win({ clearingPrice, bid: { price: 200_000 } })).warnings,
        [],
        String(clearingPrice),
      );
    }
  });

  it('warns of a privacy macro filled empty though the request gives its signal in another form than OpenRTB’s, and not of one it fills or has no signal for', () => {
    const result = ok(
      win({
        context: { site: {}, regs: { gdpr: '1', ext: { gpp_sid: '2,6' } } },
        bid: {
          burl: 'https://dsp.example/b?g=${GDPR}&s=${GPP_SID}',
          adm: '<img src="https://dsp.example/i?g=${GDPR}">',
        },
      }),
    );
    assert.deepEqual(result.warnings, [
      'bid.burl holds ${GDPR}, which Tally fills empty: regs.gdpr is "1", where OpenRTB gives 0 or 1, a number',
      'bid.burl holds ${GPP_SID}, which Tally fills empty: regs.ext.gpp_sid is "2,6", where OpenRTB gives an array of section ids, whole numbers',
      'bid.adm holds ${GDPR}, which Tally fills empty: regs.gdpr is "1", where OpenRTB gives 0 or 1, a number',
    ]);
    for (const regs of [
      { gdpr: 1, gpp_sid: [2, 6] },
      { gdpr: 0, gpp_sid: [] },
      {},
      { gdpr: null },
      { ext: { gdpr: null } },
    ]) {
      const read = ok(
        win({ context: { site: {}, regs }, bid: { burl: 'https://dsp.example/b?g=${GDPR}&s=${GPP_SID}' } }),
      );
      assert.deepEqual(read.warnings, [], JSON.stringify(regs));
    }
    const sectionsAsText = ok(
      win({
        context: { site: {}, regs: { gpp_sid: ['2', '6'] } },
        bid: { burl: 'https://dsp.example/b?s=${GPP_SID}' },
      }),
    );
    assert.deepEqual(sectionsAsText.warnings, [
      'bid.burl holds ${GPP_SID}, which Tally fills empty: regs.gpp_sid is ["2","6"], where OpenRTB gives an array of section ids, whole numbers',
    ]);
    const unused = ok(win({ context: { site: {}, regs: { gdpr: 'yes' } } }));
    assert.deepEqual(unused.warnings, [], 'no macro of the signal: nothing is filled empty');
  });

  it('fills the request’s privacy signals into the DSP’s burl as it seals it, and into its markup, leaving the auction macros for the notice', () => {
    const result = ok(
      win({
        context: { site: {}, regs: { gdpr: 1 }, user: { consent: 'TCF-string' } },
        bid: {
          burl: 'https://dsp.example/b?g=${GDPR}&gc=${GDPR_CONSENT_755}&p=${AUCTION_PRICE}',
          adm: '<img src="https://dsp.example/i?gc=${GDPR_CONSENT_755}">',
        },
      }),
    );
    assert.equal(
      claimsOf(result.noticeUrls.adm).dspBurl,
      'https://dsp.example/b?g=1&gc=TCF-string&p=${AUCTION_PRICE}',
    );
    assert.ok(result.adm?.includes('<img src="https://dsp.example/i?gc=TCF-string">'), result.adm ?? '');
    // A request's value is no macro: filled once, in one pass with the auction macros.
    const macroInConsent = ok(
      win({
        context: { site: {}, user: { consent: '${AUCTION_PRICE}' } },
        bid: { burl: 'https://dsp.example/b?gc=${GDPR_CONSENT_1}', adm: '<p>${GDPR_CONSENT_1}</p>' },
      }),
    );
    assert.ok(macroInConsent.adm?.includes('<p>${AUCTION_PRICE}</p>'), macroInConsent.adm ?? '');
    assert.deepEqual(macroInConsent.warnings, []);
    const flood = instrumentWin(
      win({
        context: { site: {}, user: { consent: 'c'.repeat(100_000) } },
        bid: { adm: `<p>${'${GDPR_CONSENT_1}'.repeat(100)}</p>` },
      }),
      env,
    );
    const urlFlood = instrumentWin(
      win({
        context: { site: {}, user: { consent: 'c'.repeat(100_000) } },
        bid: { nurl: `https://dsp.example/n?${'c=${GDPR_CONSENT_1}&'.repeat(100)}` },
      }),
      env,
    );
    assert.ok(
      !urlFlood.ok && urlFlood.error.code === 'MARKUP_TOO_LARGE',
      JSON.stringify(urlFlood).slice(0, 300),
    );
    assert.ok(!flood.ok && flood.error.code === 'MARKUP_TOO_LARGE', JSON.stringify(flood).slice(0, 300));
  });

  it('refuses a whole BidResponse sent as bid, saying to send its winning Bid, seat and bidid apart', () => {
    const response = { id: 'resp-1', bidid: 'abc', seatbid: [{ seat: 'seat-1', bid: [win().bid] }] };
    assert.deepEqual(instrumentWin({ ...win(), bid: response }, env), {
      ok: false,
      error: {
        code: 'VALIDATION_FAILED',
        message:
          'bid is a whole BidResponse (it has seatbid): send the winning Bid, seatbid[].bid[], as bid, its seatbid.seat as seat and its bidid as bidResponseId',
      },
    });
  });

  it('treats a blank adm as no markup', () => {
    const result = ok(win({ bid: { adm: '  \n ', nurl: 'https://dsp.example/win' } }));
    assert.equal(result.adm, null);
    assert.match(result.warnings.join('\n'), /the bid has no adm/);
  });

  it('tells the exchange where to add the tags of a banner bid with neither adm nor nurl, not to the markup a nurl it lacks returns', () => {
    const result = ok(win({ bid: { adm: undefined } }));
    assert.equal(result.adm, null);
    assert.deepEqual(result.warnings, [
      `the bid has neither adm nor nurl: add these tags to the markup wherever the ad is served: ${pixelTag(result.noticeUrls.adm ?? 'missing')}`,
    ]);
  });

  it('refuses an auction time in seconds instead of registering a win whose every notice would be late', () => {
    const inSeconds = instrumentWin(win({ auctionTimeMs: Math.floor(NOW_MS / 1000) }), env);
    assert.equal(inSeconds.ok, false);
    assert.match(
      !inSeconds.ok ? inSeconds.error.message : '',
      /auctionTimeMs 1795348800 is 1970-01-21T.*Z: send the auction time in milliseconds since the epoch, not seconds/,
    );
  });

  it('warns when a win is registered after its TTL, as none of its notices can count then', () => {
    assert.deepEqual(ok(win({ auctionTimeMs: NOW_MS - 600_000 })).warnings, []);
    assert.deepEqual(ok(win({ auctionTimeMs: NOW_MS - 601_000 })).warnings, [
      'the auction was 601 s ago, past the 600 s TTL of this win: none of its notices can count',
    ]);
    // Not rounded down to the TTL itself: a notice at exactly 600 s would count, this one's cannot.
    assert.deepEqual(ok(win({ auctionTimeMs: NOW_MS - 600_001 })).warnings, [
      'the auction was 600.001 s ago, past the 600 s TTL of this win: none of its notices can count',
    ]);
  });

  it('marks a win flagged test, or from a test request, as a test in its token', () => {
    assert.equal(claimsOf(ok(win({ test: true })).noticeUrls.adm).test, true);
    const input = win();
    (input.request as { test?: number }).test = 1;
    assert.equal(claimsOf(ok(input).noticeUrls.adm).test, true);
    for (const live of [0, null, undefined]) {
      (input.request as { test?: unknown }).test = live;
      assert.equal(claimsOf(ok(input).noticeUrls.adm).test, false, String(live));
    }
  });

  it('refuses a request.test other than 0 or 1, rather than guess whether the auction is billed', () => {
    for (const test of ['1', '0', true, 2, [1]]) {
      const input = win();
      (input.request as { test?: unknown }).test = test;
      const result = instrumentWin(input, env);
      assert.equal(result.ok, false, JSON.stringify(test));
      assert.deepEqual(!result.ok && [result.error.code, result.error.message], [
        'VALIDATION_FAILED',
        `request.test must be 0 (a live auction) or 1 (a test one, never billed), as OpenRTB defines it; it is ${JSON.stringify(test)}`,
      ]);
    }
    // 2^53 + 1 reads as 2^53: the message does not repeat a number the caller never sent.
    const input = win();
    (input.request as { test?: unknown }).test = JSON.parse('9007199254740993');
    const result = instrumentWin(input, env);
    assert.match(
      !result.ok ? result.error.message : '',
      /; it is a number past 2\^53 - 1 in size \(JSON readers round it\)$/,
    );
  });

  it('warns when a win bills more than the bid, or in a currency the request did not allow, and not otherwise', () => {
    assert.deepEqual(ok(win({ clearingPrice: 2 })).warnings, []);
    assert.deepEqual(ok(win({ clearingPrice: 5 })).warnings, [
      'clearingPrice 5 is above bid.price 2.5: the DSP is billed more than it bid',
    ]);
    const yen = win();
    (yen.request as { cur?: string[] }).cur = ['JPY'];
    assert.deepEqual(ok(yen).warnings, [
      'the win is billed in USD but request.cur allows only JPY: send currency (USD when absent)',
    ]);
    assert.deepEqual(ok({ ...yen, currency: 'JPY' }).warnings, []);
    assert.deepEqual(ok({ ...yen, currency: 'EUR' }).warnings, [
      'the win is billed in EUR but request.cur allows only JPY: check currency',
    ]);
    // request.cur given as a lone string, not OpenRTB's array, is still read.
    (yen.request as { cur?: string }).cur = 'JPY';
    assert.deepEqual(ok({ ...yen, currency: 'JPY' }).warnings, []);
    assert.deepEqual(ok({ ...yen, currency: 'EUR' }).warnings, [
      'the win is billed in EUR but request.cur allows only JPY: check currency',
    ]);
  });

  it('warns of a currency shaped as an ISO 4217 code that is none Tally knows, a misspelt USD, and not of a known one', () => {
    assert.deepEqual(ok(win({ currency: 'UDS' })).warnings, [
      'currency "UDS" is no ISO 4217 currency Tally knows: the win is billed in UDS, reported apart from every other currency; check the code',
    ]);
    for (const currency of ['EUR', 'JPY', 'GBP', undefined]) {
      assert.deepEqual(ok(win({ currency })).warnings, [], `no warning for ${String(currency)}`);
    }
  });

  it('refuses a misspelt or unknown field of a win, naming the field it was likely meant as, rather than ignoring it', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ clearing_price: 0.9 }, '"clearing_price" is not a field of a win: send it as clearingPrice'],
      [{ Test: true }, '"Test" is not a field of a win: send it as test'],
      [{ 'publisher-burl': true }, '"publisher-burl" is not a field of a win: send it as publisherBurl'],
      // The BidResponse's own names for what a win calls bidResponseId and currency.
      [{ bidid: 'r1' }, '"bidid" is not a field of a win: send it as bidResponseId'],
      [{ cur: 'EUR' }, '"cur" is not a field of a win: send it as currency'],
      [{ BidId: 'r1' }, '"BidId" is not a field of a win: send it as bidResponseId'],
      [{ CUR: 'EUR' }, '"CUR" is not a field of a win: send it as currency'],
      // Misspelt: letters swapped, dropped, added or changed, whatever the case, `_` or `-`.
      [{ tset: true }, '"tset" is not a field of a win: send it as test'],
      [{ testt: true }, '"testt" is not a field of a win: send it as test'],
      [{ clearingPrise: 0.9 }, '"clearingPrise" is not a field of a win: send it as clearingPrice'],
      [{ clearing_prce: 0.9 }, '"clearing_prce" is not a field of a win: send it as clearingPrice'],
      [{ currncy: 'EUR' }, '"currncy" is not a field of a win: send it as currency'],
      // A name every object has (Object.prototype's) is no BidResponse name.
      [
        { constructor: 1 },
        '"constructor" is not a field of a win; the fields are request, seat, bid, clearingPrice, bidResponseId, currency, auctionTimeMs, publisherBurl, test',
      ],
      [
        { price: 0.9 },
        '"price" is not a field of a win; the fields are request, seat, bid, clearingPrice, bidResponseId, currency, auctionTimeMs, publisherBurl, test',
      ],
    ];
    for (const [extra, message] of cases) {
      const result = instrumentWin({ ...win(), ...extra }, env);
      assert.deepEqual(result, { ok: false, error: { code: 'VALIDATION_FAILED', message } });
    }
  });

  it('names an unknown field of a win by at most 64 of its characters, however long it is', () => {
    const result = instrumentWin({ ...win(), [`${'k'.repeat(64)}${'z'.repeat(100_000)}`]: 1 }, env);
    assert.ok(!result.ok, 'a win with an unknown field is refused');
    assert.ok(
      result.error.message.startsWith(`"${'k'.repeat(64)}…" is not a field of a win;`),
      result.error.message.slice(0, 200),
    );
    assert.ok(result.error.message.length < 300, `${result.error.message.length} characters`);
  });

  it('takes a price up to 10^9 currency units (CPM), as small-unit currencies need, and refuses one above, naming its field and what came', () => {
    const rupiah = win({ clearingPrice: 1_200_000, currency: 'IDR' });
    assert.equal(claimsOf(ok(rupiah).noticeUrls.adm).priceMicros, 1_200_000_000_000);
    assert.equal(claimsOf(ok(win({ clearingPrice: 1e9 })).noticeUrls.adm).priceMicros, 1e15);
    const limit = 'must be a CPM in currency units from 0 to 1000000000, e.g. 1.25';
    for (const [input, field, sent] of [
      [win({ clearingPrice: 1_000_000_000.000001 }), 'clearingPrice', '1000000000.000001'],
      [win({ clearingPrice: 9e9 }), 'clearingPrice', '9000000000'],
      [win({ bid: { price: 1e10 } }), 'bid.price', '10000000000'],
      [win({ clearingPrice: -1 }), 'clearingPrice', '-1'],
      [{ ...win({ bid: { price: 1e10 } }), clearingPrice: null }, 'bid.price', '10000000000'],
    ] as const) {
      assert.deepEqual(instrumentWin(input as WinInput, env), {
        ok: false,
        error: { code: 'VALIDATION_FAILED', message: `${field} ${limit}, not ${sent}` },
      });
    }
  });

  it('refuses a win with neither bid.price nor clearingPrice, saying the price is missing', () => {
    const input = win();
    delete (input.bid as { price?: unknown }).price;
    assert.deepEqual(instrumentWin(input, env), {
      ok: false,
      error: {
        code: 'VALIDATION_FAILED',
        message:
          'bid.price is missing: send the price billed, a CPM in currency units from 0 to 1000000000, e.g. 1.25, as bid.price or clearingPrice',
      },
    });
  });

  it('takes an optional field sent as null as absent', () => {
    const result = ok({
      ...win(),
      clearingPrice: null,
      currency: null,
      auctionTimeMs: null,
      publisherBurl: null,
      test: null,
      bidResponseId: null,
    });
    const claims = claimsOf(result.noticeUrls.adm);
    assert.deepEqual(
      [
        claims.priceMicros,
        claims.currency,
        claims.auctionTimeMs,
        claims.test,
        claims.bidResponseId,
        result.method,
      ],
      [2_500_000, 'USD', NOW_MS, false, '', 'adm'],
    );
  });

  it('warns when publisherBurl is set but the win counts on OMID, so the publisher has no burl to fire', () => {
    const omidApp = { app: { publisher: { id: 'pub-1' } } };
    const omid = ok(
      win({ publisherBurl: true, context: omidApp, imp: { banner: { w: 300, h: 250, api: [7] } } }),
    );
    assert.equal(omid.method, 'omid');
    assert.equal(omid.burl, null);
    assert.deepEqual(omid.warnings, [
      'publisherBurl is set but this win counts on its omid notice, as the app supports OMID (api 7), which comes first: there is no Tally burl for the publisher to fire',
    ]);
    assert.deepEqual(ok(win({ publisherBurl: true })).warnings, []);
  });

  it('takes a blank bid.burl for none: no pixel of it goes into an app banner’s markup, and no warning calls it a URL', () => {
    const result = ok(win({ context: { app: { publisher: { id: 'pub-1' } } }, bid: { burl: '  ' } }));
    assert.equal(result.method, 'adm');
    assert.equal(result.adm?.split('<img ').length, 2, result.adm ?? '');
    assert.deepEqual(result.warnings, []);
  });

  it('counts an app banner whose bid has no burl on its markup, not on the publisher burl, as Index counts it, and says why', () => {
    const app = { app: { publisher: { id: 'pub-1' } } };
    for (const bid of [{ burl: undefined }, { burl: '' }, { burl: ' \t\n' }]) {
      const result = ok(win({ context: app, publisherBurl: true, bid }));
      assert.equal(result.method, 'adm', JSON.stringify(bid));
      assert.equal(result.ttlSeconds, 600);
      assert.equal(result.burl, null);
      assert.equal(claimsOf(result.noticeUrls.adm).kind, 'adm');
      assert.ok(
        result.warnings.includes(
          "publisherBurl is set but this win counts on its adm notice, as the bid has no burl: an app banner without one counts where the DSP's own tracker does, on its markup (as Index counts it): there is no Tally burl for the publisher to fire",
        ),
        JSON.stringify(result.warnings),
      );
    }
    // OMID still comes first, and a bid with a burl still counts on the publisher's.
    const omid = ok(
      win({ context: app, publisherBurl: true, imp: { banner: { api: [7] } }, bid: { burl: undefined } }),
    );
    assert.equal(omid.method, 'omid');
    assert.equal(ok(win({ context: app, publisherBurl: true })).method, 'burl');
    // Only app banners: a video or native win without a burl still counts on the publisher's.
    const video = ok(
      win({
        publisherBurl: true,
        imp: { video: {} },
        bid: {
          burl: undefined,
          adm: '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem></InLine></Ad></VAST>',
        },
      }),
    );
    assert.equal(video.method, 'burl');
  });

  it('warns when bid.burl is not a valid absolute http(s) URL, which can never be called', () => {
    for (const burl of [
      '/bill?p=${AUCTION_PRICE}',
      'dsp.example/bill',
      'ftp://dsp.example/bill',
      'https://',
    ]) {
      assert.match(
        ok(win({ bid: { burl } })).warnings.join('\n'),
        /is not a valid absolute http\(s\) URL/,
        burl,
      );
    }
    assert.deepEqual(ok(win({ bid: { burl: 'HTTPS://dsp.example/bill' } })).warnings, []);
  });

  it('quotes the first 100 characters of a burl or nurl it warns of, cut before a character of two UTF-16 units, not between its halves', () => {
    // The 100th unit is the first half of the emoji: kept alone, JSON.stringify wrote it as `\ud83d`.
    const head = `dsp.example/bill?x=${'a'.repeat(80)}`;
    const url = `${head}😀`;
    const burl = ok(win({ bid: { burl: url } })).warnings.filter((warning) => warning.startsWith('bid.burl'));
    assert.deepEqual(burl, [
      `bid.burl ${JSON.stringify(head)} is not a valid absolute http(s) URL: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
    ]);
    const nurl = ok(win({ imp: { video: {} }, bid: { adm: undefined, burl: undefined, nurl: url } }));
    assert.deepEqual(nurl.warnings, [
      `bid.nurl ${JSON.stringify(head)} is not an absolute http(s) URL: it is the <VASTAdTagURI> of the VAST wrapper Tally serves, which the player cannot load, so the ad cannot play`,
    ]);
  });

  it('warns of a burl the relay cannot read as a URL though it starts with http://: a space or control character in its host, a port that is no number', () => {
    const warningOf = (burl: string) =>
      `bid.burl ${JSON.stringify(burl)} is not a valid absolute http(s) URL: the DSP's billing URL can never be called, so the DSP is not billed for this win`;
    for (const burl of [
      'http://dsp .example/bill',
      'http://dsp\u0001.example/bill',
      'http://dsp\u007f.example/bill',
      'https://dsp.example:99999/bill',
      'https://dsp.example:${DSP_PORT}/bill',
      'http://[::1/bill',
    ]) {
      const warnings = ok(win({ bid: { burl } })).warnings.filter((warning) =>
        warning.startsWith('bid.burl'),
      );
      assert.deepEqual(warnings, [warningOf(burl)], JSON.stringify(burl));
    }
  });

  it('warns of a burl on port 0, which the relay never calls', () => {
    const burl = 'https://dsp.example:0/bill?p=${AUCTION_PRICE}';
    assert.deepEqual(
      ok(win({ bid: { burl } })).warnings.filter((warning) => warning.startsWith('bid.burl')),
      [
        `bid.burl ${JSON.stringify(burl)} names port 0, which no server listens on: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
      ],
    );
  });

  it('warns of a burl on port 0 or not a URL where the device fires it from the markup too, which no one can call', () => {
    for (const [burl, why] of [
      ['https://dsp.example:0/bill', 'names port 0, which no server listens on'],
      ['dsp.example/bill', 'is not a valid absolute http(s) URL'],
    ] as const) {
      const inMarkup = ok(win({ context: app, bid: { burl } }));
      assert.ok(inMarkup.adm?.includes(`<img src="${burl}"`), inMarkup.adm ?? '');
      assert.deepEqual(
        inMarkup.warnings.filter((warning) => warning.startsWith('bid.burl')),
        [
          `bid.burl ${JSON.stringify(burl)} ${why}: the DSP's billing URL can never be called, so the DSP is not billed for this win`,
        ],
      );
    }
  });

  it('quotes at most the first 100 characters of a burl it warns of', () => {
    const burl = `http://10.0.0.5/${'b'.repeat(200)}`;
    assert.match(
      ok(win({ bid: { burl } })).warnings.join(),
      new RegExp(`^bid\\.burl "${burl.slice(0, 100)}" names 10\\.0\\.0\\.5,`),
    );
  });

  it('warns of a burl Tally relays whose host is an address outside the public internet, which the relay refuses: the DSP is never billed', () => {
    const warningOf = (burl: string, address: string) =>
      `bid.burl ${JSON.stringify(burl)} names ${address}, an address outside the public internet, which Tally's relay refuses to call: its delivery is dead as soon as the impression counts, so the DSP's billing URL is never called and the DSP is not billed for this win; give the DSP's public host, or set TALLY_BURL_PRIVATE_NETWORKS=allow to call DSPs on private networks`;
    for (const [burl, address] of [
      ['http://10.0.0.5/bill?p=${AUCTION_PRICE}', '10.0.0.5'],
      ['https://127.1:8443/bill', '127.0.0.1'],
      ['http://169.254.169.254/latest/meta-data', '169.254.169.254'],
      ['http://[::1]/bill', '::1'],
      ['http://[::ffff:192.168.0.1]/bill', '::ffff:c0a8:1'],
      ['http://dsp.example@192.168.1.20/bill', '192.168.1.20'],
    ] as const) {
      assert.deepEqual(ok(win({ bid: { burl } })).warnings, [warningOf(burl, address)], burl);
    }
    // As the relay reads it, with the win's macros filled.
    const filled = win({ bid: { burl: 'http://${AUCTION_ID}/bill' } });
    (filled.request as { id: string }).id = '10.0.0.6';
    assert.deepEqual(ok(filled).warnings, [warningOf('http://${AUCTION_ID}/bill', '10.0.0.6')]);
    // A public address, or any once TALLY_BURL_PRIVATE_NETWORKS=allow lets the relay call it.
    assert.deepEqual(ok(win({ bid: { burl: 'http://198.51.99.7/bill' } })).warnings, []);
    const allowed = instrumentWin(win({ bid: { burl: 'http://10.0.0.5/bill' } }), {
      ...env,
      allowsBurlAddress: () => true,
    });
    assert.deepEqual(allowed.ok && allowed.warnings, []);
  });

  it('warns of a publisher burl’s private address that the relay refuses it wherever the publisher is not answered with a 302 to it', () => {
    const burl = 'http://10.0.0.5/bill';
    assert.deepEqual(ok(win({ publisherBurl: true, bid: { burl } })).warnings, [
      `bid.burl "http://10.0.0.5/bill" names 10.0.0.5, an address outside the public internet, which Tally's relay refuses to call: unless the publisher's burl is answered with a 302 to it (the account's redirect allow-list admits its host, as it admits any while off), its delivery is dead as soon as the impression counts, so the DSP's billing URL is never called and the DSP is not billed for this win; give the DSP's public host, or set TALLY_BURL_PRIVATE_NETWORKS=allow to call DSPs on private networks`,
    ]);
  });

  it('does not warn of a private address in a burl Tally never relays: one the device fires from the markup, or one of a win that never counts', () => {
    const burl = 'http://10.0.0.5/bill';
    const inMarkup = ok(win({ context: app, bid: { burl } }));
    assert.ok(inMarkup.adm?.includes('<img src="http://10.0.0.5/bill"'), inMarkup.adm ?? '');
    assert.deepEqual(
      inMarkup.warnings.filter((warning) => warning.includes('10.0.0.5')),
      [],
    );
    for (const never of [
      win({ test: true, bid: { burl } }),
      win({ auctionTimeMs: NOW_MS - 600_001, bid: { burl } }),
    ]) {
      assert.deepEqual(
        ok(never).warnings.filter((warning) => warning.includes('10.0.0.5')),
        [],
      );
    }
  });

  it('does not warn of a burl the relay calls: a host name (looked up only when called), spaces in its path, line breaks or tabs (dropped by the URL parser), a user name', () => {
    for (const burl of [
      'http://localhost/bill',
      'http://dsp.internal/bill',
      'https://dsp.example/bi\r\nll?p=${AUCTION_PRICE}',
      'https://dsp\r\n.example/bill',
      'https://dsp.example/bi\tll p',
      'https://user:secret@dsp.example/bill',
      'http:/dsp.example/bill',
    ]) {
      assert.deepEqual(ok(win({ bid: { burl } })).warnings, [], JSON.stringify(burl));
    }
  });

  it('takes a burl or nurl with spaces or line breaks around it for the URL it is, as the relay and players read it, without a warning', () => {
    for (const url of [' https://dsp.example/bill', '\n\thttps://dsp.example/bill \n']) {
      assert.deepEqual(ok(win({ bid: { burl: url } })).warnings, [], JSON.stringify(url));
      assert.deepEqual(
        ok(win({ imp: { video: {} }, bid: { adm: undefined, nurl: url } })).warnings,
        [],
        JSON.stringify(url),
      );
    }
  });

  it('warns when the nurl a VAST wrapper names is not an absolute http(s) URL, which the player cannot load', () => {
    const warningOf = (nurl: string) =>
      `bid.nurl ${JSON.stringify(nurl)} is not an absolute http(s) URL: it is the <VASTAdTagURI> of the VAST wrapper Tally serves, which the player cannot load, so the ad cannot play`;
    // The OpenRTB spec's own direct-deal example spells its nurl "http: //…".
    const response = fixtureJson('openrtb', 'bid-response_2.6_direct-deal-ad-served-on-win-notice.json');
    const specBid = { ...response.seatbid[0].bid[0], impid: '1', adm: undefined, burl: undefined };
    assert.equal(specBid.nurl, 'http: //adserver.com/winnotice?impid=102');
    const spec = ok(win({ imp: { video: {} }, bid: specBid }));
    assert.ok(spec.adm?.includes('<VASTAdTagURI>'), spec.adm ?? '');
    assert.deepEqual(spec.warnings, [warningOf(specBid.nurl)]);
    for (const nurl of ['/vast?a=${AUCTION_ID}', 'dsp.example/vast', 'ftp://dsp.example/vast', 'https://']) {
      const result = ok(win({ imp: { audio: {} }, bid: { adm: undefined, nurl } }));
      assert.deepEqual(result.warnings, [warningOf(nurl)], nurl);
    }
    assert.deepEqual(
      ok(win({ imp: { video: {} }, bid: { adm: undefined, nurl: 'HTTPS://dsp.example/vast' } })).warnings,
      [],
    );
  });

  it('says that a bid.adm sent as a number, an array or a boolean is not a string, not that the bid has no adm', () => {
    const notString = (type: string) =>
      `bid.adm is ${type}, not a string (markup must be one; a native response may also be a JSON object), so it is not served`;
    const banner = ok(win({ bid: { adm: 42, nurl: 'https://dsp.example/win' } }));
    assert.equal(banner.adm, null);
    assert.equal(banner.warnings.length, 1);
    assert.ok(
      banner.warnings[0]?.startsWith(
        `${notString('a number')}: add these tags to the markup the nurl returns: <img `,
      ),
      banner.warnings[0],
    );
    const noNurl = ok(win({ bid: { adm: 42 } })).warnings[0];
    assert.ok(
      noNurl?.startsWith(
        `${notString('a number')}, and the bid has no nurl: add these tags to the markup wherever the ad is served: <img `,
      ),
      noNurl,
    );
    assert.deepEqual(ok(win({ imp: { video: {} }, bid: { adm: ['<VAST/>'] } })).warnings, [
      `${notString('an array')}, and the bid has no nurl: there is no VAST to instrument`,
    ]);
    const wrapped = ok(win({ imp: { video: {} }, bid: { adm: true, nurl: 'https://dsp.example/vast' } }));
    assert.ok(wrapped.adm?.includes('<VASTAdTagURI>'), wrapped.adm ?? '');
    assert.deepEqual(wrapped.warnings, [
      `${notString('a boolean')}: the VAST wrapper loads bid.nurl instead`,
    ]);
    assert.deepEqual(ok(win({ imp: { native: {} }, bid: { adm: 7 } })).warnings, [
      `${notString('a number')}: add noticeUrls.native to the native response it serves`,
    ]);
    // Absent, it is still named so, and a VAST wrapper's adm needs no word.
    assert.deepEqual(ok(win({ imp: { video: {} }, bid: { adm: null } })).warnings, [
      'the bid has neither adm nor nurl: there is no VAST to instrument',
    ]);
    assert.deepEqual(
      ok(win({ imp: { video: {} }, bid: { adm: undefined, nurl: 'https://dsp.example/vast' } })).warnings,
      [],
    );
  });

  it('warns of macros in the burl, nurl or markup that Tally leaves unfilled: misspelt or percent-encoded', () => {
    const result = ok(
      win({
        bid: {
          burl: 'https://dsp.example/bill?p=%24%7BAUCTION_PRICE%7D',
          nurl: 'https://dsp.example/win?p=${AUCTION_PRICE}',
          adm: '<div>${AUCTION_PRICES}</div>',
        },
      }),
    );
    assert.deepEqual(result.warnings, [
      'bid.burl holds macros Tally does not fill, left as they are: %24%7BAUCTION_PRICE%7D (OpenRTB macros are filled only when spelt ${AUCTION_…} exactly, not percent-encoded)',
      'bid.adm holds ${AUCTION_PRICES}, which Tally does not fill: did you mean ${AUCTION_PRICE}?',
    ]);
  });

  it('warns of each misspelt macro in the burl, nurl or markup naming the macro it likely means, beside those near none', () => {
    const result = ok(
      win({
        bid: {
          burl: 'https://dsp.example/bill?p=${AUCITON_PRICE}&a=${AUCTON_ID}&x=%24%7BAUCTION_ID%7D',
          adm: '<a href="${CLICK_URL}">${AUCTION_PRCIE}${AUCTION_FOO}</a><script>`${width}`</script>',
        },
      }),
    );
    assert.deepEqual(result.warnings, [
      'bid.burl holds ${AUCITON_PRICE}, which Tally does not fill: did you mean ${AUCTION_PRICE}?',
      'bid.burl holds ${AUCTON_ID}, which Tally does not fill: did you mean ${AUCTION_ID}?',
      'bid.burl holds macros Tally does not fill, left as they are: %24%7BAUCTION_ID%7D (OpenRTB macros are filled only when spelt ${AUCTION_…} exactly, not percent-encoded)',
      'bid.adm holds ${AUCTION_PRCIE}, which Tally does not fill: did you mean ${AUCTION_PRICE}?',
      'bid.adm holds macros Tally does not fill, left as they are: ${AUCTION_FOO} (OpenRTB macros are filled only when spelt ${AUCTION_…} exactly, not percent-encoded)',
    ]);
    const many = Array.from({ length: 7 }, (_unused, index) => `&p${index}=\${AUCTION_PRICE${index}}`);
    const capped = ok(win({ bid: { burl: `https://dsp.example/bill?${many.join('')}` } })).warnings;
    assert.deepEqual(
      capped,
      [0, 1, 2, 3, 4].map(
        (index) =>
          `bid.burl holds \${AUCTION_PRICE${index}}, which Tally does not fill: did you mean \${AUCTION_PRICE}?`,
      ),
    );
  });

  it("warns of a vendor's privacy macro without its vendor id showing the form it needs, apart from the macros left as they are", () => {
    const result = ok(
      win({
        bid: {
          burl: 'https://dsp.example/bill?gc=${GDPR_CONSENT}&x=%24%7BAUCTION_ID%7D',
          adm: '<img src="https://dsp.example/i?gpp=${GPP_STRING_XXXX}">',
        },
      }),
    );
    assert.deepEqual(result.warnings, [
      "bid.burl holds ${GDPR_CONSENT}, which Tally does not fill: the IAB's macro ends in the id of the vendor the URL calls, as the Global Vendor List numbers it, ${GDPR_CONSENT_<vendor id>} (e.g. ${GDPR_CONSENT_755} for vendor 755)",
      'bid.burl holds macros Tally does not fill, left as they are: %24%7BAUCTION_ID%7D (OpenRTB macros are filled only when spelt ${AUCTION_…} exactly, not percent-encoded)',
      "bid.adm holds ${GPP_STRING_XXXX}, which Tally does not fill: the IAB's macro ends in the id of the vendor the URL calls, as the Global Vendor List numbers it, ${GPP_STRING_<vendor id>} (e.g. ${GPP_STRING_755} for vendor 755)",
    ]);
  });

  it('warns when the burl, nurl or markup asks for an encrypted price and the seat has no price keys', () => {
    const warning =
      'the bid asks for an encrypted price (${AUCTION_PRICE:…}) but seat "seat-1" has no price keys for account 1 in TALLY_PRICE_KEYS: it is filled with an empty string';
    const encrypted = 'https://dsp.example/bill?p=${AUCTION_PRICE:BF}';
    assert.deepEqual(ok(win({ bid: { burl: encrypted } })).warnings, [warning]);
    const wrapped = { imp: { video: {} }, bid: { adm: undefined, nurl: encrypted } };
    assert.deepEqual(ok(win(wrapped)).warnings, [warning], 'the nurl a VAST wrapper loads');
    // Any other nurl is the exchange's win notice: Tally neither fills nor calls it.
    assert.deepEqual(ok(win({ bid: { nurl: encrypted } })).warnings, []);
    const timed =
      'https://dsp.example/win?ts=${AUCTION_IMP_TS}&m=${AUCTION_MIN_TO_WIN}&x=%24%7BAUCTION_ID%7D';
    assert.deepEqual(ok(win({ bid: { nurl: timed } })).warnings, []);
    assert.equal(ok(win({ imp: { video: {} }, bid: { adm: undefined, nurl: timed } })).warnings.length, 3);
    assert.deepEqual(ok(win({ bid: { adm: `<img src="${encrypted}">` } })).warnings, [warning]);
    assert.deepEqual(ok(win({ seat: 'enc-seat', bid: { burl: encrypted } })).warnings, []);
    assert.deepEqual(ok(win()).warnings, [], 'a plain ${AUCTION_PRICE} needs no keys');
  });

  it('fills an encrypted price the seat has no keys for with AUDIT in a test win, and says so', () => {
    const adm = '<img src="https://dsp.example/imp?p=${AUCTION_PRICE:BF}&b=${AUCTION_PRICE:B64}">';
    const tested = ok(win({ test: true, bid: { adm, burl: undefined } }));
    assert.equal(tested.adm?.includes('imp?p=AUDIT&b=Mi41'), true, tested.adm ?? '');
    assert.deepEqual(tested.warnings, [
      'the bid asks for an encrypted price (${AUCTION_PRICE:…}) but seat "seat-1" has no price keys for account 1 in TALLY_PRICE_KEYS: it is filled with AUDIT in this test win',
    ]);
    assert.equal(encodedPrice('BF', claimsOf(tested.noticeUrls.adm), env, Date.now()), 'AUDIT');
    const billed = ok(win({ bid: { adm, burl: undefined } }));
    assert.equal(billed.adm?.includes('imp?p=&b=Mi41'), true, billed.adm ?? '');
  });

  it("never encrypts another account's win with a seat's price keys: they are the keys of one account's DSP", () => {
    const encrypted = 'https://dsp.example/bill?p=${AUCTION_PRICE:BF}';
    const own = instrumentWin(win({ seat: 'enc-seat', bid: { burl: encrypted } }), env);
    const other = instrumentWin(win({ seat: 'enc-seat', bid: { burl: encrypted } }), {
      ...env,
      accountId: 2,
    });
    assert.ok(own.ok && other.ok, JSON.stringify([own, other]));
    assert.deepEqual(own.warnings, []);
    assert.deepEqual(other.warnings, [
      'the bid asks for an encrypted price (${AUCTION_PRICE:…}) but seat "enc-seat" has no price keys for account 2 in TALLY_PRICE_KEYS: it is filled with an empty string',
    ]);
    assert.match(encodedPrice('BF', claimsOf(own.noticeUrls.adm), env, Date.now()), /^[A-Za-z0-9_-]{38}$/);
    assert.equal(encodedPrice('BF', claimsOf(other.noticeUrls.adm), env, Date.now()), '');
  });

  it('encrypts the same impression registered again with another price under another IV, and the same price under the same', () => {
    const claims = claimsOf(ok(win({ seat: 'enc-seat' })).noticeUrls.adm);
    const atMs = claims.auctionTimeMs;
    // Google's scheme: the IV is the first 16 bytes of the web-safe Base64 ciphertext.
    const ivOf = (priceMicros: number) =>
      Buffer.from(encodedPrice('BF', { ...claims, priceMicros }, env, atMs), 'base64url').subarray(0, 16);
    assert.deepEqual(ivOf(claims.priceMicros), ivOf(claims.priceMicros));
    // One pad over two prices would give away their XOR to whoever saw both markups.
    assert.notDeepEqual(ivOf(claims.priceMicros + 1), ivOf(claims.priceMicros));
  });

  it('encrypts the same price of two impressions of one auction, at one time, under two IVs', () => {
    const claims = claimsOf(ok(win({ seat: 'enc-seat' })).noticeUrls.adm);
    const atMs = claims.auctionTimeMs;
    const ivOf = (ids: Partial<typeof claims>) =>
      Buffer.from(encodedPrice('BF', { ...claims, ...ids }, env, atMs), 'base64url').subarray(0, 16);
    const first = ivOf({});
    // Another imp, another bid of the same auction: another impression.
    assert.notDeepEqual(ivOf({ impId: `${claims.impId}-2` }), first);
    assert.notDeepEqual(ivOf({ bidId: `${claims.bidId}-2` }), first);
  });

  it('writes the time it fills the impression in for into the encrypted price’s IV, as Google’s scheme does', () => {
    const claims = claimsOf(ok(win({ seat: 'enc-seat' })).noticeUrls.adm);
    const atMs = claims.auctionTimeMs + 61_250;
    const iv = Buffer.from(encodedPrice('BF', claims, env, atMs), 'base64url').subarray(0, 16);
    assert.equal(iv.readUInt32BE(0), Math.floor(atMs / 1000));
    assert.equal(iv.readUInt32BE(4), (atMs % 1000) * 1000);
  });
});

/** A win whose auction id (`request.id`) is `auctionId`. */
function winWithAuctionId(auctionId: string, overrides: Parameters<typeof win>[0]): WinInput {
  const input = win(overrides);
  (input.request as { id: string }).id = auctionId;
  return input;
}

/** Parses XML with a parser that throws on any error, so markup that is not well-formed fails. */
function parseXmlStrictly(xml: string): Document {
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new Error(`${level}: ${message}`);
    },
  });
  return parser.parseFromString(xml, 'text/xml');
}

function textsOf(document: Document, name: string): string[] {
  return Array.from(document.getElementsByTagName(name)).map((node) => node.textContent ?? '');
}

describe('the DSP burl and the price of a win', () => {
  it('has Tally relay the DSP burl of an app banner counted on OMID or on the publisher burl, and keeps it out of the markup', () => {
    const burl = 'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}';
    const omid = ok(win({ context: app, imp: { banner: { api: [7] } } }));
    assert.equal(omid.method, 'omid');
    assert.equal(claimsOf(omid.noticeUrls.omid).dspBurl, burl);
    assert.ok(!omid.adm?.includes('dsp.example/bill'), omid.adm ?? '');
    const publisher = ok(win({ context: app, publisherBurl: true }));
    assert.equal(publisher.method, 'burl');
    assert.equal(claimsOf(publisher.noticeUrls.burl).dspBurl, burl);
    assert.ok(!publisher.adm?.includes('dsp.example/bill'), publisher.adm ?? '');
  });

  it('fills ${AUCTION_PRICE} with the clearing price, not the bid price, in the DSP burl in the markup', () => {
    const result = ok(win({ context: app, clearingPrice: 2 }));
    assert.ok(
      result.adm?.includes('<img src="https://dsp.example/bill?p=2&amp;a=auction-1"'),
      result.adm ?? '',
    );
  });

  it('encrypts the clearing price, not the bid price, into ${AUCTION_PRICE:…}', () => {
    const result = ok(
      win({
        context: app,
        seat: 'enc-seat',
        clearingPrice: 2,
        bid: { burl: 'https://dsp.example/b?p=${AUCTION_PRICE:BF}' },
      }),
    );
    const encrypted = /p=([\w-]{38})"/.exec(result.adm ?? '')?.[1] ?? '';
    assert.deepEqual(decryptPrice(encrypted, priceKeys), { ok: true, priceMicros: 2_000_000 });
  });

  it('fills ${AUCTION_PRICE:B64} with the clearing price in Base64, as OpenRTB names that code, needing no price keys', () => {
    const result = ok(
      win({
        context: app,
        clearingPrice: 1.5,
        bid: { burl: 'https://dsp.example/b?p=${AUCTION_PRICE:B64}&q=${AUCTION_PRICE:b64}' },
      }),
    );
    assert.ok(
      !result.warnings.some((warning) => warning.includes('price keys')),
      'a seat without keys is not warned of an empty price',
    );
    assert.ok(result.adm?.includes('<img src="https://dsp.example/b?p=MS41&amp;q=MS41"'), result.adm ?? '');
    assert.equal(Buffer.from('MS41', 'base64').toString(), '1.5');
    const keyed = claimsOf(ok(win({ seat: 'enc-seat', clearingPrice: 1.5 })).noticeUrls.adm);
    assert.equal(
      encodedPrice('B64', keyed, env, Date.now()),
      'MS41',
      'a seat with keys gets Base64 there too',
    );
  });

  it('accepts a win whose longest notice URL is exactly the limit, and refuses one whose burl is a character longer', () => {
    const urlFor = (padding: number) => {
      const result = instrumentWin(
        win({ bid: { burl: `https://dsp.example/b?d=${'x'.repeat(padding)}` } }),
        env,
      );
      return { result, length: result.ok ? (result.noticeUrls.adm?.length ?? 0) : 0 };
    };
    let padding = 5_000;
    while (urlFor(padding).length < MAX_NOTICE_URL_CHARS && padding < 7_000) padding++;
    const atLimit = urlFor(padding);
    assert.equal(atLimit.length, MAX_NOTICE_URL_CHARS);
    assert.equal(atLimit.result.ok, true);
    const over = instrumentWin(
      win({ bid: { burl: `https://dsp.example/b?d=${'x'.repeat(padding + 1)}` } }),
      env,
    );
    assert.equal(!over.ok && over.error.code, 'NOTICE_URL_TOO_LONG');
  });

  it('refuses a currency in small letters, padded, or sent as a list, naming the code to send', () => {
    const cases: [unknown, string][] = [
      ['usd', 'not "usd": send "USD"'],
      [' EUR ', 'not " EUR ": send "EUR"'],
      [['USD'], 'not an array (["USD"]): send one code, "USD"'],
      ['dollars', 'not "dollars"'],
    ];
    for (const [currency, sent] of cases) {
      const result = instrumentWin({ ...win(), currency }, env);
      assert.deepEqual(result.ok ? result : result.error, {
        code: 'VALIDATION_FAILED',
        message: `currency must be an ISO 4217 code of three capital letters, e.g. "USD", ${sent}`,
      });
    }
  });

  it('names no code to send for a currency whose capitals are no ISO 4217 code Tally knows', () => {
    // "NaN" in capitals is "NAN", shaped as a code but no currency: sent, it would bill in it.
    for (const [currency, sent] of [
      ['NaN', 'not "NaN"'],
      ['uds', 'not "uds"'],
      [['XYZ'], 'not an array (["XYZ"])'],
    ] as const) {
      const result = instrumentWin({ ...win(), currency }, env);
      assert.deepEqual(result.ok ? result : result.error, {
        code: 'VALIDATION_FAILED',
        message: `currency must be an ISO 4217 code of three capital letters, e.g. "USD", ${sent}`,
      });
    }
  });

  it('refuses a currency that is empty or holds more than the three capital letters', () => {
    for (const currency of ['', 'USDX', 'XUSD', 'US']) {
      const result = instrumentWin({ ...win(), currency }, env);
      assert.equal(result.ok, false, currency);
      assert.match(!result.ok ? result.error.message : '', /currency must be an ISO 4217 code/, currency);
    }
  });

  it('relays nothing for a bid.burl that is not a string, and warns that the DSP can never be billed; of no burl (null or empty) it says nothing', () => {
    const result = ok(win({ bid: { burl: { url: 'https://dsp.example/bill' } } }));
    assert.equal(claimsOf(result.noticeUrls.adm).dspBurl, '');
    assert.deepEqual(result.warnings, [
      'bid.burl is not a string but {"url":"https://dsp.example/bill"}: the DSP\'s billing URL can never be called, so the DSP is not billed for this win',
    ]);
    assert.match(ok(win({ bid: { burl: 7 } })).warnings.join(), /bid\.burl is not a string but 7/);
    assert.deepEqual(ok(win({ bid: { burl: null } })).warnings, []);
    assert.deepEqual(ok(win({ bid: { burl: '' } })).warnings, []);
  });

  it('warns that a bid.adm sent as a JSON object is no banner or video markup, and takes it from a native bid', () => {
    const banner = ok(win({ bid: { adm: {} } }));
    assert.deepEqual(banner.warnings, [
      'bid.adm is a JSON object, not the markup of a banner ad: it was served as its JSON text; send the markup as a string',
    ]);
    const native = ok(
      win({
        imp: { native: { request: '{"ver":"1.2","assets":[]}' } },
        bid: { adm: { native: { ver: '1.2', assets: [], link: { url: 'https://adv.example' } } } },
      }),
    );
    assert.equal(native.format, 'native');
    assert.ok(
      !native.warnings.some((warning) => warning.startsWith('bid.adm is a JSON object')),
      native.warnings.join(),
    );
  });

  it('reads only the currency codes among the entries of request.cur', () => {
    const input = win();
    for (const cur of [[840, null], [840, 'USD'], '', [''], ['usd', 'dollars']]) {
      (input.request as { cur?: unknown }).cur = cur;
      assert.deepEqual(ok(input).warnings, [], JSON.stringify(cur));
    }
    (input.request as { cur?: unknown[] }).cur = [840, '', 'JPY'];
    assert.deepEqual(ok(input).warnings, [
      'the win is billed in USD but request.cur allows only JPY: send currency (USD when absent)',
    ]);
  });
});

describe('macro values in the markup of a win', () => {
  it('keeps native JSON valid, with its tracker, when the auction id holds a quote, a backslash and a control character', () => {
    const auctionId = 'a"b\\c\u0001d';
    const link = 'https://dsp.example/c?a=${AUCTION_ID}&p=${AUCTION_PRICE}';
    const expectedLink = `https://dsp.example/c?a=${auctionId}&p=2.5`;
    for (const adm of [
      `{"native":{"link":{"url":"${link}"},"assets":[]}}`,
      { native: { link: { url: link }, assets: [] } },
    ]) {
      const result = ok(winWithAuctionId(auctionId, { imp: { native: {} }, bid: { adm } }));
      assert.deepEqual(result.warnings, []);
      const document = JSON.parse(result.adm ?? '') as {
        native: { link: { url: string }; imptrackers: string[] };
      };
      assert.equal(document.native.link.url, expectedLink);
      assert.deepEqual(document.native.imptrackers, [result.noticeUrls.native]);
      assert.equal(claimsOf(result.noticeUrls.native).auctionId, auctionId);
    }
  });

  it('keeps VAST well-formed when an id holding & < " stands in an attribute and in text, and the parsed values are the raw id', () => {
    const auctionId = `a&b<c"d'e>f`;
    const adm = [
      '<VAST version="3.0"><Ad id="${AUCTION_ID}"><InLine><AdSystem>x</AdSystem>',
      "<AdTitle>${AUCTION_ID}</AdTitle><Description lang='${AUCTION_ID}'>d</Description>",
      '<Impression>https://dsp.example/i?a=${AUCTION_ID}&amp;p=${AUCTION_PRICE}</Impression>',
      '<Creatives/></InLine></Ad></VAST>',
    ].join('');
    const result = ok(winWithAuctionId(auctionId, { imp: { video: {} }, bid: { adm } }));
    assert.deepEqual(result.warnings, []);
    const markup = result.adm ?? '';
    assert.equal(XMLValidator.validate(markup), true);
    const document = parseXmlStrictly(markup);
    assert.equal(document.getElementsByTagName('Ad')[0]?.getAttribute('id'), auctionId);
    assert.equal(document.getElementsByTagName('Description')[0]?.getAttribute('lang'), auctionId);
    assert.deepEqual(textsOf(document, 'AdTitle'), [auctionId]);
    assert.deepEqual(textsOf(document, 'Impression'), [
      `https://dsp.example/i?a=${auctionId}&p=2.5`,
      result.noticeUrls.vast,
    ]);
  });

  it('substitutes the raw value inside VAST CDATA sections, and a value holding ]]> leaves them well-formed', () => {
    for (const auctionId of ['a&b<c', 'x]]>y', ']]>', 'z]]', ']>']) {
      const adm = [
        '<VAST version="4.0"><Ad><InLine><AdSystem>x</AdSystem>',
        '<AdTitle><![CDATA[${AUCTION_ID}]]></AdTitle>',
        '<Impression><![CDATA[https://dsp.example/i?a=${AUCTION_ID}&p=${AUCTION_PRICE}]]></Impression>',
        '<Creatives/></InLine></Ad></VAST>',
      ].join('');
      const result = ok(winWithAuctionId(auctionId, { imp: { video: {} }, bid: { adm } }));
      assert.deepEqual(result.warnings, [], auctionId);
      const document = parseXmlStrictly(result.adm ?? '');
      assert.deepEqual(textsOf(document, 'AdTitle'), [auctionId]);
      assert.deepEqual(textsOf(document, 'Impression'), [
        `https://dsp.example/i?a=${auctionId}&p=2.5`,
        result.noticeUrls.vast,
      ]);
    }
    const plain = ok(
      winWithAuctionId('a&b', {
        imp: { video: {} },
        bid: {
          adm: '<VAST version="4.0"><Ad><InLine><AdSystem><![CDATA[${AUCTION_ID}]]></AdSystem></InLine></Ad></VAST>',
        },
      }),
    );
    assert.match(plain.adm ?? '', /<AdSystem><!\[CDATA\[a&b\]\]><\/AdSystem>/);
  });

  it('HTML-escapes values in banner attribute values and text, and escapes them as a JavaScript string in scripts', () => {
    const auctionId = `a"b&c<d'e`;
    const adm = [
      '<a href="https://dsp.example/c?a=${AUCTION_ID}" title="x>y">',
      "<img src='https://dsp.example/i?a=${AUCTION_ID}&p=${AUCTION_PRICE}'></a>",
      '<p>${AUCTION_ID}</p><script type="text/javascript">var id = "${AUCTION_ID}";</script>',
    ].join('');
    const result = ok(winWithAuctionId(auctionId, { bid: { adm } }));
    const escaped = 'a&quot;b&amp;c&lt;d&#39;e';
    assert.ok(
      result.adm?.startsWith(
        [
          `<a href="https://dsp.example/c?a=${escaped}" title="x>y">`,
          `<img src='https://dsp.example/i?a=${escaped}&p=2.5'></a>`,
          `<p>${escaped}</p><script type="text/javascript">var id = "a\\u0022b\\u0026c\\u003Cd\\u0027e";</script>`,
        ].join(''),
      ),
      result.adm ?? '',
    );
  });

  it('percent-encodes values into the URLs Tally wraps or relays, so that an id fills its own parameter and no other', () => {
    const auctionId = 'a&b]]>c#d';
    const wrapped = ok(
      winWithAuctionId(auctionId, {
        imp: { video: {} },
        bid: { adm: undefined, nurl: 'https://dsp.example/vast?a=${AUCTION_ID}&p=${AUCTION_PRICE}' },
      }),
    );
    const [nurl = ''] = textsOf(parseXmlStrictly(wrapped.adm ?? ''), 'VASTAdTagURI');
    assert.equal(nurl, 'https://dsp.example/vast?a=a%26b%5D%5D%3Ec%23d&p=2.5');
    assert.deepEqual(
      [...new URL(nurl).searchParams],
      [
        ['a', auctionId],
        ['p', '2.5'],
      ],
    );
    const banner = ok(winWithAuctionId(auctionId, {}));
    assert.equal(
      claimsOf(banner.noticeUrls.adm).dspBurl,
      'https://dsp.example/bill?p=${AUCTION_PRICE}&a=${AUCTION_ID}',
    );
  });
});
