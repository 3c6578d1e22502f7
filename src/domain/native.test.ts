import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import type { ImpressionTrackerOffer } from './native.js';
import { instrumentNative, looksLikeNative, nativeImpressionTrackerOffer } from './native.js';

const NATIVE_FIXTURES = new URL('../../../shared/fixtures/native/', import.meta.url);
const OPENRTB_FIXTURES = new URL('../../../shared/fixtures/openrtb/', import.meta.url);
const IMPRESSION_URL = 'https://tally.example/n/tok123?src=native&cb=42';
const TALLY_EVENT_TRACKER = { event: 1, method: 1, url: IMPRESSION_URL };

type Json = Record<string, unknown>;

function fixture(name: string): string {
  return readFileSync(new URL(name, NATIVE_FIXTURES), 'utf8');
}

function parse(markup: string): Json {
  return JSON.parse(markup) as Json;
}

function instrumentedJson(adm: string | object, offer: ImpressionTrackerOffer): Json {
  const result = instrumentNative(adm, IMPRESSION_URL, offer);
  assert.ok(result.ok, result.ok ? '' : result.warning);
  assert.equal(result.usedEventTrackers, offer !== 'none');
  return parse(result.markup);
}

/** The response with one tracker appended to `field`, everything else as it was. */
function withTracker(response: Json, field: 'eventtrackers' | 'imptrackers', tracker: unknown): Json {
  const existing = (response[field] as unknown[] | undefined) ?? [];
  return { ...response, [field]: [...existing, tracker] };
}

/**
 * `output` with the one stretch of text it added to `input` taken out again: `input` itself when
 * that is all that changed.
 */
function withoutOneInsertion(output: string, input: string): string {
  let at = 0;
  while (at < input.length && output[at] === input[at]) at++;
  return output.slice(0, at) + output.slice(at + output.length - input.length);
}

/** The object without one of its fields. */
function without(object: Json, field: string): Json {
  return Object.fromEntries(Object.entries(object).filter(([key]) => key !== field));
}

const files = readdirSync(NATIVE_FIXTURES).filter((name) => name.endsWith('.json'));
const responseFiles = files.filter((name) => name.startsWith('response'));
const requestFiles = files.filter((name) => name.startsWith('request'));

describe('instrumentNative on the Native 1.2 response samples', () => {
  test('reads the sample directory', () => {
    assert.equal(responseFiles.length, 3);
    assert.equal(requestFiles.length, 3);
  });

  for (const file of responseFiles) {
    const response = parse(fixture(file));

    test(`appends an image impression event tracker to ${file} when the request offered one`, () => {
      assert.deepEqual(
        instrumentedJson(fixture(file), 'image'),
        withTracker(response, 'eventtrackers', TALLY_EVENT_TRACKER),
      );
    });

    test(`appends a script impression event tracker to ${file}, its URL asking for a 204, when the request offered only scripts`, () => {
      assert.deepEqual(
        instrumentedJson(fixture(file), 'script'),
        withTracker(response, 'eventtrackers', { event: 1, method: 2, url: `${IMPRESSION_URL}&f=b` }),
      );
    });

    test(`appends the URL to the imptrackers of ${file} when event trackers were not offered`, () => {
      assert.deepEqual(
        instrumentedJson(fixture(file), 'none'),
        withTracker(response, 'imptrackers', IMPRESSION_URL),
      );
    });

    test(`writes the tracker into the text of ${file} and leaves every other byte of it as it was`, () => {
      for (const offer of ['image', 'script', 'none'] as const) {
        const result = instrumentNative(fixture(file), IMPRESSION_URL, offer);
        assert.ok(result.ok, result.ok ? '' : `${offer}: ${result.warning}`);
        assert.equal(withoutOneInsertion(result.markup, fixture(file)), fixture(file));
      }
    });

    test(`keeps the {"native": ...} wrapper of ${file} when wrapped`, () => {
      const wrapped = JSON.stringify({ native: response });
      assert.deepEqual(instrumentedJson(wrapped, 'none'), {
        native: withTracker(response, 'imptrackers', IMPRESSION_URL),
      });
    });
  }

  test('adds the URL to imptrackers as well as eventtrackers when a response offered event trackers is written to Native 1.0 or 1.1', () => {
    const older = [
      { ver: '1.1', assets: [] },
      { ver: 1.0, link: { url: 'https://x.example' } },
      { assets: [], imptrackers: ['https://dsp.example/i'] },
    ];
    for (const response of older) {
      const instrumented = instrumentedJson(JSON.stringify({ native: response }), 'image');
      assert.deepEqual(
        instrumented,
        {
          native: withTracker(
            withTracker(response, 'eventtrackers', TALLY_EVENT_TRACKER),
            'imptrackers',
            IMPRESSION_URL,
          ),
        },
        JSON.stringify(response),
      );
    }
    // `ver` is a string in Native 1.2; a number 1.2 says the same.
    for (const ver of ['1.2', 1.2]) {
      const newer = { ver, assets: [], imptrackers: ['https://dsp.example/i'] };
      assert.deepEqual(
        instrumentedJson(JSON.stringify(newer), 'image'),
        withTracker(newer, 'eventtrackers', TALLY_EVENT_TRACKER),
        JSON.stringify(newer),
      );
    }
  });

  test('keeps the trackers the DSP already had, before Tally’s', () => {
    const instrumented = instrumentedJson(fixture('response_1.2_clickout.json'), 'image');
    assert.deepEqual(instrumented.eventtrackers, [
      { event: 1, method: 2, url: 'http://www.mytracker.com/tracker.js' },
      { event: 2, method: 1, url: 'http://www.mytracker.com/tracker.php' },
      TALLY_EVENT_TRACKER,
    ]);
  });
});

describe('instrumentNative input forms', () => {
  const text = fixture('response_1.2_clickout.json');

  test('gives the same JSON for an adm string and an already-parsed object', () => {
    assert.deepEqual(instrumentedJson(parse(text), 'image'), instrumentedJson(text, 'image'));
  });

  test('does not modify an adm object passed in', () => {
    const adm = parse(text);
    instrumentNative(adm, IMPRESSION_URL, 'image');
    assert.deepEqual(adm, parse(text));
  });

  test('creates the eventtrackers array when the response has none', () => {
    const instrumented = instrumentedJson(fixture('response_1.2_third-party.json'), 'image');
    assert.deepEqual(instrumented.eventtrackers, [TALLY_EVENT_TRACKER]);
  });

  test('writes its tracker in place of a tracker array sent as null, as serialisers write an absent field', () => {
    const response = {
      ...parse(fixture('response_1.2_third-party.json')),
      eventtrackers: null,
      imptrackers: null,
    };
    for (const adm of [JSON.stringify(response), JSON.stringify({ native: response })]) {
      const events = instrumentedJson(adm, 'image');
      assert.deepEqual((events.native as Json | undefined)?.eventtrackers ?? events.eventtrackers, [
        TALLY_EVENT_TRACKER,
      ]);
      const pixels = instrumentedJson(adm.replace('"eventtrackers":null,', ''), 'none');
      assert.deepEqual((pixels.native as Json | undefined)?.imptrackers ?? pixels.imptrackers, [
        IMPRESSION_URL,
      ]);
    }
  });

  test('leaves invalid JSON untouched with a warning', () => {
    const adm = '{"native":{"ver":"1.0","link":{ ... }}';
    const result = instrumentNative(adm, IMPRESSION_URL, 'none');
    assert.ok(!result.ok, 'invalid JSON is left untouched with a warning, not instrumented');
    assert.equal(result.markup, adm);
    assert.match(result.warning, /not valid JSON/);
  });

  test('says where JSON that cannot be read goes wrong, as its reader does', () => {
    for (const adm of ['{"native":{"ver":"1.0","link":{ ... }}', '{"assets": [', '{"link":{}}x']) {
      let why = '';
      try {
        JSON.parse(adm);
      } catch (error) {
        why = (error as Error).message;
      }
      const result = instrumentNative(adm, IMPRESSION_URL, 'none');
      assert.deepEqual(result, {
        ok: false,
        markup: adm,
        warning: `native markup is not valid JSON (${why})`,
      });
    }
  });

  test('says where JSON goes wrong at a character of two UTF-16 units with U+FFFD for a half JSON.parse quotes, never the half', () => {
    // JSON.parse names the token, and cuts the text it quotes, by UTF-16 units: a lone half in the
    // warning made the answer's JSON one that strict readers (serde_json) refuse.
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
    const tokenHalf = instrumentNative('{"assets":[😀]}', IMPRESSION_URL, 'none');
    assert.equal(tokenHalf.ok, false);
    assert.doesNotMatch(tokenHalf.ok ? '' : tokenHalf.warning, lone);
    assert.match(
      tokenHalf.ok ? '' : tokenHalf.warning,
      /^native markup is not valid JSON \(Unexpected token '\uFFFD'/,
    );
    const quotedHalf = instrumentNative(
      `{"assets":[${'1,'.repeat(20)}!${'😀'.repeat(20)}]}`,
      IMPRESSION_URL,
      'none',
    );
    assert.equal(quotedHalf.ok, false);
    assert.doesNotMatch(quotedHalf.ok ? '' : quotedHalf.warning, lone);
  });

  test('says that a native response sent as a JSON string of its JSON text is encoded twice', () => {
    const adm = JSON.stringify(text);
    assert.deepEqual(instrumentNative(adm, IMPRESSION_URL, 'image'), {
      ok: false,
      markup: adm,
      warning:
        "native markup is a JSON string holding the JSON text of a native response, encoded twice, not the response itself: send the response's JSON text as bid.adm",
    });
  });

  test('leaves the OpenRTB spec’s native adm, elided with "...", untouched', () => {
    const bidResponse = parse(
      readFileSync(new URL('bid-response_2.6_native-markup-returned-inline.json', OPENRTB_FIXTURES), 'utf8'),
    ) as { seatbid: { bid: { adm: string }[] }[] };
    const adm = bidResponse.seatbid[0]?.bid[0]?.adm ?? '';
    assert.match(adm, /^\{"native"/);
    const result = instrumentNative(adm, IMPRESSION_URL, 'none');
    assert.equal(result.ok, false);
    assert.equal(result.markup, adm);
  });

  const unusable: Record<string, string> = {
    'a JSON array': '[1, 2]',
    'JSON null': 'null',
    'an object that is no native response': '{"foo": 1}',
    'imptrackers that are not an array':
      '{"link": {"url": "https://x.example"}, "imptrackers": "https://dsp.example/i"}',
    'HTML banner markup': '<div><img src="https://x.example/a.png"></div>',
  };
  for (const [what, adm] of Object.entries(unusable)) {
    test(`leaves ${what} untouched with a warning`, () => {
      const result = instrumentNative(adm, IMPRESSION_URL, 'none');
      assert.ok(!result.ok, `${what} is left untouched with a warning, not instrumented`);
      assert.equal(result.markup, adm);
      assert.ok(result.warning.length > 0, 'the warning says why');
    });
  }

  test('keeps what sits beside the native object in a {"native": ...} wrapper', () => {
    const response = parse(text);
    const wrapped = JSON.stringify({ native: response, ext: { seat: 'dsp-1' } });
    assert.deepEqual(instrumentedJson(wrapped, 'image'), {
      native: withTracker(response, 'eventtrackers', TALLY_EVENT_TRACKER),
      ext: { seat: 'dsp-1' },
    });
  });

  test('instruments a response that serves its assets from assetsurl (a link and no assets array), and one with assets and no link', () => {
    const assetsFromUrl = without(parse(fixture('response_1.2_third-party.json')), 'assets');
    assert.equal(typeof assetsFromUrl.assetsurl, 'string', 'the fixture serves its assets from assetsurl');
    assert.equal('assets' in assetsFromUrl, false, 'the fixture has no assets array');
    assert.deepEqual(
      instrumentedJson(JSON.stringify(assetsFromUrl), 'none'),
      withTracker(assetsFromUrl, 'imptrackers', IMPRESSION_URL),
    );
    const assetsOnly = without(parse(fixture('response_1.2_video.json')), 'link');
    assert.deepEqual(
      instrumentedJson(JSON.stringify(assetsOnly), 'image'),
      withTracker(assetsOnly, 'eventtrackers', TALLY_EVENT_TRACKER),
    );
  });

  test('instruments a response whose assets and link come from its assetsurl or dcourl alone, as its trackers still do not', () => {
    for (const served of [
      { assetsurl: 'https://dsp.example/assets.json' },
      { dcourl: 'https://dsp.example/dco' },
    ]) {
      const response = {
        ver: '1.2',
        ...served,
        eventtrackers: [{ event: 2, method: 1, url: 'https://dsp.example/v' }],
      };
      assert.deepEqual(
        instrumentedJson(JSON.stringify(response), 'image'),
        withTracker(response, 'eventtrackers', TALLY_EVENT_TRACKER),
      );
      assert.equal(looksLikeNative(JSON.stringify({ native: response })), true);
    }
  });

  test('says what a native response needs when an object has neither assets, link, assetsurl nor dcourl', () => {
    const result = instrumentNative('{"ver":"1.2","imptrackers":[]}', IMPRESSION_URL, 'none');
    assert.ok(!result.ok, 'an object that is no native response is left untouched with a warning');
    assert.equal(
      result.warning,
      'native markup is not a native response (no assets array, link object, assetsurl or dcourl)',
    );
  });

  test('instruments a response after a byte order mark, which it serves without the mark JSON readers refuse, saying so', () => {
    for (const [adm, field] of [
      [text, 'eventtrackers'],
      [JSON.stringify({ native: parse(text) }), 'eventtrackers'],
    ] as const) {
      const result = instrumentNative(`\uFEFF${adm}`, IMPRESSION_URL, 'image');
      assert.ok(result.ok, result.ok ? '' : result.warning);
      assert.equal(result.markup, instrumentNative(adm, IMPRESSION_URL, 'image').markup);
      assert.equal(withoutOneInsertion(result.markup, adm), adm, field);
      assert.deepEqual(result.warnings, [
        "native markup began with a byte order mark (U+FEFF), which JSON readers such as JSON.parse and Android's org.json refuse, so that the ad would not render: Tally served it without the mark",
      ]);
    }
  });

  test('says which is wrong: JSON that is no object, or an object that is no native response', () => {
    for (const adm of ['[1, 2]', 'null', '"text"']) {
      const result = instrumentNative(adm, IMPRESSION_URL, 'none');
      assert.ok(!result.ok, `${adm} is left untouched with a warning, not instrumented`);
      assert.match(result.warning, /not a JSON object/, adm);
    }
    const noResponse = instrumentNative('{"foo": 1}', IMPRESSION_URL, 'none');
    assert.ok(
      !noResponse.ok,
      'an object without a native response is left untouched with a warning, not instrumented',
    );
    assert.match(noResponse.warning, /not a native response/);
  });

  test('keeps numbers JavaScript cannot hold as the DSP wrote them', () => {
    const adm =
      '{"link":{"url":"https://x"},"assets":[],"ext":{"crid":12345678901234567891,"e":1e400,"f":1.50}}';
    const result = instrumentNative(adm, IMPRESSION_URL, 'none');
    assert.ok(result.ok, result.ok ? '' : result.warning);
    assert.equal(result.markup, `${adm.slice(0, -1)},"imptrackers":[${JSON.stringify(IMPRESSION_URL)}]}`);
  });

  test('appends to the array JSON.parse reads: the last of a repeated key, a key written with escapes', () => {
    const repeated = instrumentNative(
      '{"assets":[],"imptrackers":["a"],"imptrackers":[ ]}',
      IMPRESSION_URL,
      'none',
    );
    assert.ok(repeated.ok, repeated.ok ? '' : repeated.warning);
    assert.equal(
      repeated.markup,
      `{"assets":[],"imptrackers":["a"],"imptrackers":[ ${JSON.stringify(IMPRESSION_URL)}]}`,
    );
    assert.deepEqual(repeated.warnings, [
      'native markup names "imptrackers" twice in one object (at imptrackers): JSON readers differ on which one they take, and Tally\'s tracker went into the last, which a reader taking the first would not see',
    ]);
    const escaped = '{"assets":[],"imp\\u0074rackers":["a"]}';
    assert.deepEqual(parse(instrumentNative(escaped, IMPRESSION_URL, 'none').markup).imptrackers, [
      'a',
      IMPRESSION_URL,
    ]);
  });

  test('warns of a wrapped response named twice, whose first a reader may take without Tally’s tracker, and of nothing in markup that names no member twice', () => {
    const twice = instrumentNative(
      '{"native":{"link":{"url":"x"}},"native":{"link":{"url":"y"}}}',
      IMPRESSION_URL,
      'image',
    );
    assert.ok(twice.ok, twice.ok ? '' : twice.warning);
    assert.match(
      twice.warnings.join('\n'),
      /^native markup names "native" twice in one object \(at native\)/,
    );
    for (const file of responseFiles) {
      const once = instrumentNative(fixture(file), IMPRESSION_URL, 'image');
      assert.deepEqual(once.ok && once.warnings, [], file);
    }
  });

  test('finds the wrapped response past white space and strings holding braces, brackets and quotes', () => {
    const adm =
      ' { "ver" : "}]\\"{" , "native" : { "assets" : [ ] , "link" : { "url" : "x\\"}]" } } , "native2" : 1 } ';
    const result = instrumentNative(adm, IMPRESSION_URL, 'image');
    assert.ok(result.ok, result.ok ? '' : result.warning);
    assert.equal(
      result.markup,
      adm.replace('"x\\"}]" } }', `"x\\"}]" } ,"eventtrackers":[${JSON.stringify(TALLY_EVENT_TRACKER)}]}`),
    );
  });

  test('does not throw on an object that cannot be written as JSON', () => {
    const cyclic: Record<string, unknown> = { assets: [] };
    cyclic.self = cyclic;
    assert.equal(instrumentNative(cyclic, IMPRESSION_URL, 'none').ok, false);
  });
});

describe('nativeImpressionTrackerOffer on the Native 1.2 request samples', () => {
  const expected: Record<string, ImpressionTrackerOffer> = {
    // eventtrackers: event 1 with methods [2] only (JavaScript), event 2 with [1].
    'request_1.2_content-context.json': 'script',
    // eventtrackers: event 1 with methods [1, 2].
    'request_1.2_social-context.json': 'image',
    // no eventtrackers at all.
    'request_1.2_third-party.json': 'none',
  };

  test('knows the answer for every request sample', () => {
    assert.deepEqual(Object.keys(expected).sort(), [...requestFiles].sort());
  });

  for (const file of requestFiles) {
    test(`answers ${expected[file]} for ${file}, as text, as an object and wrapped`, () => {
      const request = parse(fixture(file));
      assert.equal(nativeImpressionTrackerOffer(fixture(file)), expected[file]);
      assert.equal(nativeImpressionTrackerOffer(request), expected[file]);
      assert.equal(nativeImpressionTrackerOffer(JSON.stringify({ native: request })), expected[file]);
    });
  }

  test('answers image when any offer of the impression event has method 1, across several offers', () => {
    const offers = [
      { event: 1, methods: [2] },
      { event: 2, methods: [1] },
      { event: 1, methods: [1] },
    ];
    assert.equal(nativeImpressionTrackerOffer({ eventtrackers: offers }), 'image');
    assert.equal(nativeImpressionTrackerOffer({ eventtrackers: offers.slice(0, 2) }), 'script');
    assert.equal(nativeImpressionTrackerOffer({ eventtrackers: [{ event: 1, methods: [500] }] }), 'none');
  });

  test('reads a request after a byte order mark', () => {
    assert.equal(
      nativeImpressionTrackerOffer(`\uFEFF${fixture('request_1.2_content-context.json')}`),
      'script',
    );
  });

  test('answers none for anything unreadable', () => {
    for (const request of [
      undefined,
      null,
      42,
      '',
      '{',
      '[]',
      { eventtrackers: 'x' },
      { eventtrackers: [null] },
    ]) {
      assert.equal(nativeImpressionTrackerOffer(request), 'none');
    }
  });

  test('answers none, without throwing, for an impression offer whose methods are not an array', () => {
    for (const methods of ['1', { 0: 1 }, 1, undefined]) {
      assert.equal(nativeImpressionTrackerOffer({ eventtrackers: [{ event: 1, methods }] }), 'none');
    }
  });
});

describe('looksLikeNative', () => {
  test('recognises every response sample, bare or wrapped', () => {
    for (const file of responseFiles) {
      assert.ok(looksLikeNative(fixture(file)), file);
      assert.ok(looksLikeNative(JSON.stringify({ native: parse(fixture(file)) })), file);
    }
  });

  test('recognises a response after leading white space', () => {
    assert.equal(looksLikeNative(`\n  ${fixture('response_1.2_clickout.json')}`), true);
  });

  test('recognises a response after a byte order mark', () => {
    assert.equal(looksLikeNative(`\uFEFF${fixture('response_1.2_clickout.json')}`), true);
  });

  test('rejects VAST, HTML, invalid JSON and JSON that is no native response', () => {
    for (const markup of [
      '<VAST version="4.0"/>',
      '<div></div>',
      '{"native":{"link":{ ... }}}',
      '{"a":1}',
      '[]',
      '',
    ]) {
      assert.equal(looksLikeNative(markup), false, markup);
    }
  });
});
