import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureJson, fixtureNames, fixtureText } from '../../test/support/fixtures.js';
import { classifyWin, isClassifyError } from './classify.js';
import type { Classification } from './classify.js';

function classify(request: unknown, bid: unknown): Classification {
  const result = classifyWin(request as never, bid as never);
  assert.ok(!isClassifyError(result), JSON.stringify(result));
  return result;
}

const site = { publisher: { id: 'p' } };

describe('classifying a win', () => {
  it('classifies every OpenRTB fixture request by its single media object and its site or app', () => {
    const expected: Record<string, [string, string, boolean]> = {
      'bid-request_2.6_expandable-creative.json': ['banner', 'web', false],
      'bid-request_2.6_mobile.json': ['banner', 'app', false],
      'bid-request_2.6_pmp-with-direct-deal.json': ['banner', 'web', false],
      'bid-request_2.6_simple-banner.json': ['banner', 'web', false],
      'bid-request_2.6_video.json': ['video', 'web', false],
    };
    const names = fixtureNames('openrtb').filter((name) => name.startsWith('bid-request'));
    assert.deepEqual(names, Object.keys(expected).sort());
    for (const name of names) {
      const request = fixtureJson('openrtb', name);
      const { format, channel, omidSupported } = classify(request, { id: 'b', impid: request.imp[0].id });
      assert.deepEqual([format, channel, omidSupported], expected[name], name);
    }
  });

  it('takes the format from bid.mtype over the imp', () => {
    const request = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] };
    assert.equal(classify(request, { impid: '1', mtype: 2 }).format, 'video');
    assert.equal(classify(request, { impid: '1', mtype: 3 }).format, 'audio');
    assert.equal(classify(request, { impid: '1', mtype: 4 }).format, 'native');
  });

  it('takes the format from Prebid Server’s bid.ext.prebid.type when mtype is unset, over the imp and the markup', () => {
    const bannerOrVideo = { imp: [{ id: '1', banner: {}, video: {} }], site: {} };
    const prebid = (type: unknown) => ({ prebid: { type } });
    assert.equal(classify(bannerOrVideo, { impid: '1', ext: prebid('video') }).format, 'video');
    assert.equal(
      classify(bannerOrVideo, { impid: '1', adm: '<div>ad</div>', ext: prebid('video') }).format,
      'video',
    );
    assert.equal(classify(bannerOrVideo, { impid: '1', mtype: 1, ext: prebid('video') }).format, 'banner');
    // A type Prebid does not define decides nothing: the markup does.
    assert.equal(
      classify(bannerOrVideo, { impid: '1', adm: '<div>ad</div>', ext: prebid('constructor') }).format,
      'banner',
    );
    assert.deepEqual(
      classify(
        { imp: [{ id: '1', banner: {} }], site: {} },
        { impid: '1', adm: '<VAST version="4.0"></VAST>', ext: prebid('video') },
      ).warnings,
      [
        'bid.ext.prebid.type "video" names video, which imp "1" does not offer (it offers banner): the win is instrumented as video',
      ],
    );
  });

  it('warns of a bid at odds with its imp: an mtype or markup the imp does not offer, VAST in a banner', () => {
    const banner = { id: 'a', site, imp: [{ id: '1', banner: {} }] };
    assert.deepEqual(
      classify(banner, { impid: '1', mtype: 2, adm: '<VAST version="4.0"></VAST>' }).warnings,
      [
        'bid.mtype 2 names video, which imp "1" does not offer (it offers banner): the win is instrumented as video',
      ],
    );
    assert.deepEqual(classify(banner, { impid: '1', adm: '<VAST version="4.0"></VAST>' }).warnings, [
      'bid.adm is VAST but the win is a banner: Tally added its pixel as to HTML, which leaves the VAST invalid; set bid.mtype 2 (video) or 3 (audio) if the imp offers it',
    ]);
    const bannerOrNative = { id: 'a', site, imp: [{ id: '1', banner: {}, native: {} }] };
    assert.deepEqual(classify(bannerOrNative, { impid: '1', adm: '<VAST version="4.0"></VAST>' }).warnings, [
      'the markup reads as video, which imp "1" does not offer (it offers banner, native): the win is instrumented as video',
    ]);
    // An mtype outside 1-4 decides nothing: the markup does, and the mtype is warned of.
    assert.deepEqual(
      classify(bannerOrNative, { impid: '1', mtype: 5, adm: '<VAST version="4.0"></VAST>' }).warnings,
      [
        "bid.mtype 5 is none of OpenRTB's (1 banner, 2 video, 3 audio, 4 native), so Tally ignored it and instrumented the win as video, as the rest of the win reads; send the number of the format the bid serves",
        'the markup reads as video, which imp "1" does not offer (it offers banner, native): the win is instrumented as video',
      ],
    );
    assert.deepEqual(classify(banner, { impid: '1', mtype: 1, adm: '<div>ad</div>' }).warnings, []);
    assert.deepEqual(classify({ id: 'a', site, imp: [{ id: '1' }] }, { impid: '1', mtype: 2 }).warnings, []);
  });

  it('warns of native markup in a banner, which Tally’s pixel leaves invalid JSON, as of VAST in one', () => {
    const warning =
      'bid.adm is a native response but the win is a banner: Tally added its pixel as to HTML, which leaves the JSON invalid; set bid.mtype 4 (native) if the imp offers it';
    const banner = { id: 'a', site, imp: [{ id: '1', banner: {} }] };
    const native = '{"native":{"assets":[],"link":{"url":"https://adv.example"}}}';
    assert.deepEqual(classify(banner, { impid: '1', adm: native }).warnings, [warning]);
    assert.deepEqual(classify(banner, { impid: '1', adm: ' {"assets":[]}' }).warnings, [warning]);
    const bannerOrNative = { id: 'a', site, imp: [{ id: '1', banner: {}, native: {} }] };
    assert.deepEqual(classify(bannerOrNative, { impid: '1', mtype: 1, adm: native }).warnings, [warning]);
    assert.deepEqual(classify(bannerOrNative, { impid: '1', mtype: 4, adm: native }).warnings, []);
  });

  it('warns of an mtype that is none of OpenRTB 1 to 4 (a string of one included), ignored for the format, and not of a null one', () => {
    const bannerOrVideo = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] };
    for (const mtype of [0, 9, 2.5, '2']) {
      const { format, warnings } = classify(bannerOrVideo, { impid: '1', mtype, adm: '<div>ad</div>' });
      assert.equal(format, 'banner', String(mtype));
      assert.deepEqual(warnings, [
        `bid.mtype ${JSON.stringify(mtype)} is none of OpenRTB's (1 banner, 2 video, 3 audio, 4 native), so Tally ignored it and instrumented the win as banner, as the rest of the win reads; send the number of the format the bid serves`,
      ]);
    }
    assert.deepEqual(classify(bannerOrVideo, { impid: '1', mtype: null, adm: '<div>ad</div>' }).warnings, []);
  });

  it('sniffs the markup when the imp offers several formats and the bid has no mtype', () => {
    const request = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {}, native: {} }] };
    assert.equal(
      classify(request, { impid: '1', adm: '<?xml version="1.0"?><VAST version="4.0"></VAST>' }).format,
      'video',
    );
    assert.equal(classify(request, { impid: '1', adm: '{"native":{"assets":[]}}' }).format, 'native');
    assert.equal(classify(request, { impid: '1', adm: '<div>ad</div>' }).format, 'banner');
    // A native adm sent as a JSON object rather than a string of it.
    assert.equal(classify(request, { impid: '1', adm: { native: { assets: [] } } }).format, 'native');
  });

  it('calls a site or app on a connected TV or set-top box streaming TV', () => {
    for (const devicetype of [3, 7]) {
      assert.equal(
        classify({ id: 'a', app: {}, device: { devicetype }, imp: [{ id: '1', video: {} }] }, { impid: '1' })
          .channel,
        'ctv',
      );
      assert.equal(
        classify({ id: 'a', site, device: { devicetype }, imp: [{ id: '1', video: {} }] }, { impid: '1' })
          .channel,
        'ctv',
      );
    }
    assert.equal(
      classify({ id: 'a', app: {}, device: { devicetype: 4 }, imp: [{ id: '1', video: {} }] }, { impid: '1' })
        .channel,
      'app',
    );
  });

  it('reads OMID support from api 7 on the media object of the format', () => {
    const request = { id: 'a', app: {}, imp: [{ id: '1', banner: { api: [3, 7] } }] };
    assert.equal(classify(request, { impid: '1' }).omidSupported, true);
    const video = { id: 'a', app: {}, imp: [{ id: '1', banner: { api: [7] }, video: { api: [2] } }] };
    assert.equal(classify(video, { impid: '1', mtype: 2 }).omidSupported, false);
  });

  it('takes only api 7 for OMID, not the VPAID, MRAID or ORMMA frameworks (api 1 to 6)', () => {
    const request = { id: 'a', app: {}, imp: [{ id: '1', banner: { api: [1, 2, 3, 4, 5, 6] } }] };
    assert.equal(classify(request, { impid: '1' }).omidSupported, false);
  });

  it('warns of OMID offered as the string "7", which it does not take for OMID, and not of the number', () => {
    const request = (api: unknown[]) => ({ id: 'a', app: {}, imp: [{ id: '1', banner: { api } }] });
    const asString = classify(request([3, '7']), { impid: '1' });
    assert.equal(asString.omidSupported, false);
    assert.deepEqual(
      asString.warnings.filter((warning) => /api/.test(warning)),
      [
        'imp.banner.api holds "7", a string, where AdCOM\'s API frameworks are numbers: Tally reads OMID support from the number 7 alone, so the imp is taken not to offer OMID; send 7 as a number',
      ],
    );
    assert.deepEqual(
      classify(request([3, 7]), { impid: '1' }).warnings,
      [],
      'the number 7 is OMID, unwarned',
    );
    const video = { id: 'a', app: {}, imp: [{ id: '1', banner: {}, video: { api: ['7'] } }] };
    assert.deepEqual(
      classify(video, { impid: '1', mtype: 2 }).warnings.filter((warning) => /api/.test(warning)),
      [
        'imp.video.api holds "7", a string, where AdCOM\'s API frameworks are numbers: Tally reads OMID support from the number 7 alone, so the imp is taken not to offer OMID; send 7 as a number',
      ],
      'the api of the media object the bid won, a video',
    );
  });

  it('does not warn of OMID offered as the string "7" beside the number 7, which it takes for OMID', () => {
    const request = { id: 'a', app: {}, imp: [{ id: '1', banner: { api: [7, '7'] } }] };
    const result = classify(request, { impid: '1' });
    assert.equal(result.omidSupported, true);
    assert.deepEqual(result.warnings, []);
  });

  it('refuses a bid whose impid matches no imp, naming the fix', () => {
    const result = classifyWin({ id: 'a', site, imp: [{ id: '1', banner: {} }] }, { impid: '9' });
    assert.ok(
      isClassifyError(result),
      `a bid whose impid matches no imp is refused; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.code, 'IMP_NOT_FOUND');
  });

  it('names the imps the request has when the bid won none of them, and says so when it has none', () => {
    const refusal = (request: unknown, bid: unknown) => {
      const result = classifyWin(request as never, bid as never);
      assert.ok(isClassifyError(result), JSON.stringify(result));
      return [result.code, result.message];
    };
    const imps = ['1', '2', '3', '4', '5', '6'].map((id) => ({ id, banner: {} }));
    assert.deepEqual(refusal({ id: 'a', site, imp: imps.slice(0, 2) }, { impid: 'imp-2' }), [
      'IMP_NOT_FOUND',
      'bid.impid "imp-2" matches no request.imp[].id (the request\'s imps are "1", "2"): send the request the bid won an imp of, or the bid that won one of its imps',
    ]);
    // At most five are named, and an imp without an id is said to have none.
    assert.deepEqual(refusal({ id: 'a', site, imp: [{ banner: {} }, ...imps] }, { impid: '9' }), [
      'IMP_NOT_FOUND',
      'bid.impid "9" matches no request.imp[].id (the request\'s imps are no id, "1", "2", "3", "4" and 2 more): send the request the bid won an imp of, or the bid that won one of its imps',
    ]);
    for (const [imp, said] of [
      [undefined, 'request.imp is missing'],
      [[], 'request.imp is empty'],
      [{ id: '1', banner: {} }, 'request.imp is an object, not an array'],
    ] as const) {
      assert.deepEqual(refusal({ id: 'a', site, imp }, { impid: '1' }), [
        'IMP_NOT_FOUND',
        `${said}: send the request's imps as OpenRTB's array of Imp objects, the one the bid won (bid.impid "1") among them`,
      ]);
    }
  });

  it("warns of imps sharing the won imp's id, instrumenting the first", () => {
    const result = classify(
      {
        id: 'a',
        site,
        imp: [
          { id: '1', banner: {} },
          { id: '2', video: {} },
          { id: '1', video: {} },
        ],
      },
      { impid: '1', adm: '<p>ad</p>' },
    );
    assert.equal(result.format, 'banner');
    assert.deepEqual(result.warnings, [
      'request.imp holds 2 imps with id "1": the first is instrumented; imp ids must be unique within a request',
    ]);
    assert.deepEqual(
      classify({ id: 'a', site, imp: [{ id: '1', banner: {} }, { id: '2' }] }, { impid: '1' }).warnings,
      [],
    );
  });

  it('warns of a request with both site and app, saying which it takes the channel and the publisher from', () => {
    const result = classify({ id: 'a', site, app: {}, imp: [{ id: '1', banner: {} }] }, { impid: '1' });
    assert.equal(result.channel, 'app');
    assert.deepEqual(result.warnings, [
      'the bid request has both site and app, where OpenRTB allows one: Tally takes the channel (app) from app and the publisher from site, if it names one',
    ]);
  });

  it('refuses a win whose format cannot be told', () => {
    const result = classifyWin({ id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] }, { impid: '1' });
    assert.ok(
      isClassifyError(result),
      `an imp both banner and video is refused; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.code, 'FORMAT_UNDETERMINED');
  });

  it('says, refusing a win whose format cannot be told, which formats the imp offers or that it offers none', () => {
    const message = (imp: object, bid: object = {}) => {
      const result = classifyWin({ id: 'a', site, imp: [{ id: '1', ...imp }] }, { impid: '1', ...bid });
      assert.ok(isClassifyError(result), JSON.stringify(result));
      return [result.code, result.message];
    };
    assert.deepEqual(message({ banner: {}, video: {} }, { nurl: 'https://dsp.example/win' }), [
      'FORMAT_UNDETERMINED',
      'cannot tell the format: imp "1" offers banner and video and the bid has no adm to tell them apart by; set bid.mtype (1 banner, 2 video, 3 audio, 4 native)',
    ]);
    assert.deepEqual(message({ banner: {}, video: {}, native: {} }), [
      'FORMAT_UNDETERMINED',
      'cannot tell the format: imp "1" offers banner, video and native and the bid has no adm to tell them apart by; set bid.mtype (1 banner, 2 video, 3 audio, 4 native)',
    ]);
    assert.deepEqual(message({ tagid: 'slot-1' }), [
      'FORMAT_UNDETERMINED',
      'cannot tell the format: imp "1" has no banner, video, audio or native object and the bid has no adm; set bid.mtype (1 banner, 2 video, 3 audio, 4 native), or send the imp with the media object it offered',
    ]);
  });

  it('refuses a request with neither site nor app', () => {
    const result = classifyWin({ id: 'a', imp: [{ id: '1', banner: {} }] }, { impid: '1' });
    assert.ok(
      isClassifyError(result),
      `a request with neither site nor app is refused; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.code, 'CHANNEL_UNDETERMINED');
    assert.equal(result.message, 'the bid request has neither site nor app; send one of them');
  });

  it('says that a site or app sent as no object is none, rather than that the request has neither', () => {
    for (const [context, message] of [
      [{ site: 'news.example' }, 'request.site is a string ("news.example"), not an object'],
      [{ app: ['com.example'] }, 'request.app is an array, not an object'],
    ] as const) {
      const result = classifyWin({ id: 'a', imp: [{ id: '1', banner: {} }], ...context } as never, {
        impid: '1',
      });
      assert.ok(isClassifyError(result), JSON.stringify(result));
      assert.deepEqual(
        [result.code, result.message],
        [
          'CHANNEL_UNDETERMINED',
          `${message}: send OpenRTB's Site object for a website or its App object for an app, as Tally counts the win by which`,
        ],
      );
    }
  });

  it('refuses a digital out-of-home request saying that DOOH is not counted, not asking for a site or app', () => {
    const result = classifyWin(
      { id: 'a', dooh: { id: 'screen-1' }, imp: [{ id: '1', banner: {} }] },
      { impid: '1' },
    );
    assert.ok(isClassifyError(result), `a dooh request is refused; got ${JSON.stringify(result)}`);
    assert.equal(result.code, 'CHANNEL_UNDETERMINED');
    assert.match(result.message, /digital out-of-home \(dooh\), which Tally does not count/);
  });

  it('takes a VAST markup as video when the imp offers both video and audio, and as audio when it offers audio alone', () => {
    const vast = '<VAST version="4.0"></VAST>';
    const both = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {}, audio: {} }] };
    assert.equal(classify(both, { impid: '1', adm: vast }).format, 'video');
    const audio = { id: 'a', site, imp: [{ id: '1', banner: {}, audio: {} }] };
    assert.equal(classify(audio, { impid: '1', adm: vast }).format, 'audio');
  });

  it('takes a VAST document whose every ad says adType="audio" as audio, as the IAB audio sample, when the imp offers video too', () => {
    const sample = fixtureText('vast', 'v4.1_Audio_DAAST_Sample.xml');
    const both = { id: 'a', site, imp: [{ id: '1', video: {}, audio: {} }] };
    const result = classify(both, { impid: '1', adm: sample });
    assert.equal(result.format, 'audio');
    assert.deepEqual(result.warnings, []);
    const ad = (type: string) => `<Ad ${type}><InLine><AdSystem>x</AdSystem></InLine></Ad>`;
    const vast = (...ads: string[]) => `<VAST version="4.1">${ads.join('')}</VAST>`;
    assert.equal(
      classify(both, { impid: '1', adm: vast(ad("adType='audio'"), ad('adType="audio"')) }).format,
      'audio',
    );
    // VAST's default, video, for an ad that names no type, a video or a hybrid one; and another
    // attribute saying audio says nothing of it.
    for (const other of ['', 'adType="video"', 'adType="hybrid"', 'conditionalAd="audio"']) {
      assert.equal(
        classify(both, { impid: '1', adm: vast(ad('adType="audio"'), ad(other)) }).format,
        'video',
        other,
      );
    }
    // An audio ad's type inside a comment, or on an element that is no ad of the document, says nothing.
    const hidden = `<VAST version="4.1"><!-- <Ad adType="audio"> --><Ad><InLine><Extensions><Extension><Ad adType="audio"/></Extension></Extensions></InLine></Ad></VAST>`;
    assert.equal(classify(both, { impid: '1', adm: hidden }).format, 'video');
  });

  it('reads adType as XML writes it (spaces about =, any case, padded), on the ads of the root alone, and past stray end tags', () => {
    const both = { id: 'a', site, imp: [{ id: '1', video: {}, audio: {} }] };
    const ad = (type: string, body = '') => `<Ad ${type}><InLine><AdSystem>x</AdSystem>${body}</InLine></Ad>`;
    const formatOf = (...ads: string[]) =>
      classify(both, { impid: '1', adm: `<VAST version="4.1">${ads.join('')}</VAST>` }).format;
    assert.equal(formatOf(ad('adType = "audio"'), ad("adType\n=\t' Audio '")), 'audio');
    // Another namespace's adType is not VAST's; an empty <Ad/> that says no type is video.
    assert.equal(formatOf(ad('vendor:adType="audio"')), 'video');
    assert.equal(formatOf('<Ad adType="audio"/>', '<Ad/>'), 'video');
    // Ads an extension holds are no ads of the document, whatever they say.
    const extension = '<Extensions><Extension><Ad></Ad><Ad adType="video"></Ad></Extension></Extensions>';
    assert.equal(formatOf(ad('adType="audio"', extension), ad('adType="audio"')), 'audio');
    // An end tag that closes nothing is passed over, not thrown on.
    assert.equal(formatOf('</Creative>', ad('adType="audio"')), 'audio');
  });

  it('takes a VAST document whose ads say adType="audio" as audio on an imp that offers no audio, and says so', () => {
    const bannerOrVideo = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] };
    const adm = '<VAST version="4.1"><Ad adType="audio"><InLine></InLine></Ad></VAST>';
    const result = classify(bannerOrVideo, { impid: '1', adm });
    assert.equal(result.format, 'audio');
    assert.deepEqual(result.warnings, [
      'the markup reads as audio, which imp "1" does not offer (it offers banner, video): the win is instrumented as audio',
    ]);
  });

  it('takes a DAAST markup as audio, on an imp that offers audio and banner as on one that offers no audio', () => {
    const daast = '<?xml version="1.0"?><DAAST version="1.0"><Ad id="1"><InLine></InLine></Ad></DAAST>';
    const audioOrBanner = { id: 'a', site, imp: [{ id: '1', banner: {}, audio: {} }] };
    const result = classify(audioOrBanner, { impid: '1', adm: daast });
    assert.equal(result.format, 'audio');
    assert.deepEqual(result.warnings, []);
    const videoOrBanner = { id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] };
    assert.equal(classify(videoOrBanner, { impid: '1', adm: daast }).format, 'audio');
  });

  it('warns of DAAST markup named a banner by mtype, as of VAST', () => {
    const banner = { id: 'a', site, imp: [{ id: '1', banner: {}, audio: {} }] };
    assert.deepEqual(classify(banner, { impid: '1', mtype: 1, adm: '<DAAST version="1.0"/>' }).warnings, [
      'bid.adm is DAAST but the win is a banner: Tally added its pixel as to HTML, which leaves the DAAST invalid; set bid.mtype 2 (video) or 3 (audio) if the imp offers it',
    ]);
  });

  it('refuses a request naming dooh beside a site or an app, rather than count an out-of-home screen as web or app', () => {
    for (const request of [
      { id: 'a', site, dooh: { id: 'venue' }, imp: [{ id: '1', banner: {} }] },
      { id: 'a', app: site, dooh: { id: 'venue' }, imp: [{ id: '1', banner: {} }] },
    ]) {
      const result = classifyWin(request, { impid: '1' });
      assert.ok(
        isClassifyError(result),
        `a request with dooh beside site or app is refused; got ${JSON.stringify(result)}`,
      );
      assert.equal(result.code, 'CHANNEL_UNDETERMINED');
      assert.match(result.message, /digital out-of-home \(dooh\), which Tally does not count/);
    }
  });

  it('refuses a site or app request from an out-of-home device (devicetype 8), as requests said out-of-home before dooh', () => {
    for (const request of [
      { id: 'a', site, device: { devicetype: 8 }, imp: [{ id: '1', banner: {} }] },
      { id: 'a', app: site, device: { devicetype: 8 }, imp: [{ id: '1', banner: {} }] },
    ]) {
      const result = classifyWin(request, { impid: '1' });
      assert.ok(
        isClassifyError(result),
        `a site or app request from an out-of-home device (type 8) is refused; got ${JSON.stringify(result)}`,
      );
      assert.equal(result.code, 'CHANNEL_UNDETERMINED');
      assert.match(
        result.message,
        /an out-of-home device \(device\.devicetype 8\), which Tally does not count/,
      );
    }
  });

  it('refuses an imp whose qty.multiplier is not 1 rather than count one impression for many, or for a part of one', () => {
    for (const multiplier of [25, 0.5, 0]) {
      const request = { id: 'a', site, imp: [{ id: '1', banner: {}, qty: { multiplier, sourcetype: 1 } }] };
      const result = classifyWin(request, { impid: '1' });
      assert.ok(isClassifyError(result), String(multiplier));
      assert.equal(result.code, 'IMP_QTY_UNSUPPORTED');
      assert.equal(
        result.message,
        `imp.qty.multiplier is ${multiplier}: one showing of the ad billed as ${multiplier} impressions, which Tally does not count (it counts one impression a notice); send qty.multiplier 1 or no qty`,
      );
    }
    for (const multiplier of ['25', '1', true]) {
      const request = { id: 'a', site, imp: [{ id: '1', banner: {}, qty: { multiplier } }] };
      const result = classifyWin(request, { impid: '1' });
      assert.ok(isClassifyError(result), String(multiplier));
      assert.equal(result.code, 'VALIDATION_FAILED');
      assert.match(result.message, /^imp\.qty\.multiplier must be a number/);
    }
  });

  it('counts an imp whose qty.multiplier is 1, or whose qty names none, as one impression', () => {
    for (const qty of [{ multiplier: 1 }, { multiplier: null }, {}, null]) {
      const request = { id: 'a', site, imp: [{ id: '1', banner: {}, qty }] };
      assert.equal(classify(request, { impid: '1' }).format, 'banner');
    }
  });

  it('refuses an imp.qty that is no object, which may mean a multiplier Tally would not bill by', () => {
    for (const [qty, sent] of [
      [3, '3'],
      ['garbage', '"garbage"'],
      [[{ multiplier: 2 }], '[{"multiplier":2}]'],
    ] as const) {
      const request = { id: 'a', site, imp: [{ id: '1', banner: {}, qty }] };
      assert.deepEqual(classifyWin(request, { impid: '1' }), {
        code: 'VALIDATION_FAILED',
        message: `imp.qty must be an object such as {"multiplier": 1}, not ${sent}`,
      });
    }
  });

  it('refuses a digital out-of-home request on a connected-TV device type rather than count it as CTV', () => {
    const result = classifyWin(
      { id: 'a', dooh: { id: 'screen-1' }, device: { devicetype: 3 }, imp: [{ id: '1', banner: {} }] },
      { impid: '1' },
    );
    assert.ok(
      isClassifyError(result),
      `a dooh request is refused whatever its device type; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.code, 'CHANNEL_UNDETERMINED');
  });

  it('cannot tell the format from a blank markup when the imp offers several', () => {
    const result = classifyWin(
      { id: 'a', site, imp: [{ id: '1', banner: {}, video: {} }] },
      { impid: '1', adm: ' \n\t ' },
    );
    assert.ok(
      isClassifyError(result),
      `an imp both banner and video is refused whatever blank markup says; got ${JSON.stringify(result)}`,
    );
    assert.equal(result.code, 'FORMAT_UNDETERMINED');
  });

  it('ignores a device type that is not a number rather than call the channel streaming TV', () => {
    for (const devicetype of ['3', '7']) {
      assert.equal(
        classify({ id: 'a', app: {}, device: { devicetype }, imp: [{ id: '1', video: {} }] }, { impid: '1' })
          .channel,
        'app',
      );
    }
  });

  it('warns of a device type that is not a number, which it ignores, naming the channel it counts the win on', () => {
    const cases = [
      { request: { id: 'a', site, device: { devicetype: '3' } }, channel: 'web' },
      { request: { id: 'a', app: {}, device: { devicetype: 'CTV' } }, channel: 'app' },
      { request: { id: 'a', app: {}, device: { devicetype: '8' } }, channel: 'app' },
      { request: { id: 'a', site, device: { devicetype: true } }, channel: 'web' },
    ];
    for (const { request, channel } of cases) {
      const result = classify({ ...request, imp: [{ id: '1', video: {} }] }, { impid: '1' });
      assert.equal(result.channel, channel);
      assert.deepEqual(
        result.warnings.filter((warning) => warning.startsWith('device.devicetype')),
        [
          `device.devicetype ${JSON.stringify(request.device.devicetype)} is not a number, as AdCOM's device types are: Tally ignored it and counts the win as ${channel}; send 3 (connected TV) or 7 (set-top box) as a number for CTV`,
        ],
      );
    }
    for (const device of [{ devicetype: 3 }, { devicetype: null }, {}]) {
      const result = classify({ id: 'a', site, device, imp: [{ id: '1', video: {} }] }, { impid: '1' });
      assert.deepEqual(result.warnings, [], `no warning for ${JSON.stringify(device)}`);
    }
  });

  it('ignores a bid.mtype that is not a number and takes the format from the imp', () => {
    const request = { id: 'a', site, imp: [{ id: '1', video: {} }] };
    assert.equal(classify(request, { impid: '1', mtype: '3' }).format, 'video');
  });

  it('survives hostile shapes without throwing', () => {
    for (const request of [{}, { imp: 'x' }, { imp: [null, 3, 'x'] }, { imp: [{ id: {} }] }]) {
      const result = classifyWin(request, { impid: '1' });
      assert.ok(
        isClassifyError(result),
        `${JSON.stringify(request)} is refused; got ${JSON.stringify(result)}`,
      );
    }
  });
});
