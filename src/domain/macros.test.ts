// node:test's describe/it return promises that the test runner itself awaits.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { MacroValues } from './macros.js';
import { DOMParser } from '@xmldom/xmldom';
import { XMLValidator } from 'fast-xml-parser';
import {
  unfilledMacros,
  formatMicros,
  formatPlainDecimal,
  macroGrowthBound,
  numberToMicros,
  parseDecimalMicros,
  substituteMacros,
  substituteMacrosInMarkup,
  usesEncryptedPrice,
} from './macros.js';
import type { MarkupLanguage } from './markup-escape.js';

const ALL_VALUES: Required<MacroValues> = {
  auctionId: 'A1',
  bidResponseId: 'B2',
  impId: 'I3',
  seatId: 'S4',
  adId: 'AD5',
  price: '1.5',
  currency: 'EUR',
  mbr: '0.25',
  loss: '102',
  minToWin: '1.51',
  multiplier: '1000',
  impTs: '1767225600000',
  discountPct: '10',
  discountCpm: '0.15',
  supplyFee: '5.0',
  gdpr: '1',
  gdprConsent: 'TCF',
  usPrivacy: '1YNN',
  gppString: 'GPP~1',
  gppSid: '2,6',
};

const MACRO_TO_VALUE: readonly [string, string][] = [
  ['${AUCTION_ID}', 'A1'],
  ['${AUCTION_BID_ID}', 'B2'],
  ['${AUCTION_IMP_ID}', 'I3'],
  ['${AUCTION_SEAT_ID}', 'S4'],
  ['${AUCTION_AD_ID}', 'AD5'],
  ['${AUCTION_PRICE}', '1.5'],
  ['${AUCTION_CURRENCY}', 'EUR'],
  ['${AUCTION_MBR}', '0.25'],
  ['${AUCTION_LOSS}', '102'],
  ['${AUCTION_MIN_TO_WIN}', '1.51'],
  ['${AUCTION_MULTIPLIER}', '1000'],
  ['${AUCTION_IMP_TS}', '1767225600000'],
  ['${AUCTION_DISCOUNT_PCT}', '10'],
  ['${AUCTION_DISCOUNT_CPM}', '0.15'],
  ['${SUPPLY_FEE}', '5.0'],
  ['${GDPR}', '1'],
  ['${GDPR_CONSENT_755}', 'TCF'],
  ['${US_PRIVACY}', '1YNN'],
  ['${GPP_STRING_32}', 'GPP~1'],
  ['${GPP_SID}', '2,6'],
];

describe('substituteMacros', () => {
  for (const [macro, value] of MACRO_TO_VALUE) {
    it(`replaces ${macro} with its value`, () => {
      assert.equal(
        substituteMacros(`https://x.test/b?v=${macro}&z=1`, ALL_VALUES),
        `https://x.test/b?v=${value}&z=1`,
      );
    });
  }

  it('replaces every macro of a URL, each occurrence, in one call', () => {
    const text = MACRO_TO_VALUE.map(([macro]) => macro).join('|');
    const expected = MACRO_TO_VALUE.map(([, value]) => value).join('|');
    assert.equal(substituteMacros(`${text}#${text}`, ALL_VALUES), `${expected}#${expected}`);
  });

  it('replaces macros with undefined values by empty strings', () => {
    const text = MACRO_TO_VALUE.map(([macro]) => macro).join(',');
    assert.equal(substituteMacros(text, {}), ','.repeat(MACRO_TO_VALUE.length - 1));
    assert.equal(substituteMacros('p=${AUCTION_PRICE}&a=${AUCTION_ID}', { auctionId: 'x' }), 'p=&a=x');
  });

  it('hands suffixed price macros to the encodePrice callback', () => {
    const suffixes: string[] = [];
    const encodePrice = (suffix: string): string => {
      suffixes.push(suffix);
      return suffix === 'BF' ? 'ENCRYPTED' : '';
    };
    const out = substituteMacros(
      'a=${AUCTION_PRICE:BF}&b=${AUCTION_PRICE:SHA1}&c=${AUCTION_PRICE}',
      ALL_VALUES,
      encodePrice,
    );
    assert.equal(out, 'a=ENCRYPTED&b=&c=1.5');
    assert.deepEqual(suffixes, ['BF', 'SHA1']);
  });

  it('hands a suffix holding dots, dashes and underscores to encodePrice whole', () => {
    const suffixes: string[] = [];
    const out = substituteMacros('p=${AUCTION_PRICE:GOOGLE.v1-a_b}', ALL_VALUES, (suffix) => {
      suffixes.push(suffix);
      return 'E';
    });
    assert.equal(out, 'p=E');
    assert.deepEqual(suffixes, ['GOOGLE.v1-a_b']);
  });

  it('tells a text asking for an encrypted price from one holding only plain or Base64 price macros', () => {
    for (const text of [
      'p=${AUCTION_PRICE:BF}',
      'p=${AUCTION_PRICE:SHA1}',
      'x ${AUCTION_PRICE:a.b-c_d} y',
      'p=${AUCTION_PRICE:B64X}',
      '${AUCTION_PRICE:B64} ${AUCTION_PRICE:BF}',
    ]) {
      assert.equal(usesEncryptedPrice(text), true, text);
    }
    for (const text of [
      'p=${AUCTION_PRICE}',
      'p=${AUCTION_PRICE:}',
      'p=${AUCTION_ID:BF}',
      'p=${AUCTION_PRICE:B64}',
      'p=${AUCTION_PRICE:b64}',
      '',
    ]) {
      assert.equal(usesEncryptedPrice(text), false, text);
    }
  });

  it('replaces suffixed price macros by empty strings without an encodePrice callback', () => {
    assert.equal(substituteMacros('a=${AUCTION_PRICE:BF}', ALL_VALUES), 'a=');
  });

  it('does not expand macros that appear inside substituted values', () => {
    const values: MacroValues = { auctionId: '${AUCTION_BID_ID}', bidResponseId: 'B2', price: '$&$1' };
    assert.equal(
      substituteMacros('${AUCTION_ID}/${AUCTION_PRICE}', values, () => '${AUCTION_ID}'),
      '${AUCTION_BID_ID}/$&$1',
    );
    assert.equal(
      substituteMacros('${AUCTION_PRICE:X}', values, () => '${AUCTION_ID}'),
      '${AUCTION_ID}',
    );
  });

  it('leaves non-macro text, unknown macros and near misses untouched', () => {
    const untouched = [
      '${FOO}',
      '${AUCTION_FOO}',
      '${auction_id}',
      '$AUCTION_ID',
      '{AUCTION_ID}',
      '${AUCTION_ID',
      '${ AUCTION_ID }',
      '${AUCTION_PRICE:}',
      '${AUCTION_ID:X}',
      '%%WINNING_PRICE%%',
      '[ERRORCODE]',
    ];
    for (const text of untouched)
      assert.equal(
        substituteMacros(text, ALL_VALUES, () => 'E'),
        text,
      );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!text.includes('${AUCTION_'));
        assert.equal(
          substituteMacros(text, ALL_VALUES, () => 'E'),
          text,
        );
      }),
    );
  });
});

describe('unfilledMacros', () => {
  it('lists misspelt, lower-case, percent-encoded, $-less and spaced AUCTION_ macros once each, and no macro substitution fills', () => {
    const burl =
      'https://dsp.example/b?p=${AUCTION_PRICE}&e=${AUCTION_PRICE:B64}&f=${AUCTION_FOO}&f2=${AUCTION_FOO}' +
      '&l=${auction_price}&x=%24%7BAUCTION_PRICE%7D&y=%24%7bAUCTION_ID%7d&c=${CLICK_URL}&i=${AUCTION_IMP_TS}' +
      '&b=$%7BAUCTION_PRICE%7D&n={AUCTION_PRICE}&s=${ AUCTION_PRICE }&g=${GDPR_CONSENT}&g2=${GDPR_CONSENT_755}';
    assert.deepEqual(unfilledMacros(burl), [
      { macro: '${AUCTION_FOO}' },
      { macro: '${auction_price}', meant: '${AUCTION_PRICE}' },
      { macro: '%24%7BAUCTION_PRICE%7D' },
      { macro: '%24%7bAUCTION_ID%7d' },
      { macro: '$%7BAUCTION_PRICE%7D' },
      { macro: '{AUCTION_PRICE}' },
      { macro: '${ AUCTION_PRICE }' },
      { macro: '${GDPR_CONSENT}', vendorMacro: 'GDPR_CONSENT' },
    ]);
    assert.deepEqual(unfilledMacros('https://dsp.example/b?p=${AUCTION_PRICE}&a=${AUCTION_ID}'), []);
  });

  it('names the macro a misspelt one most likely means, its letters swapped, dropped or changed, whatever its prefix', () => {
    const meant = (text: string) => unfilledMacros(text).map(({ macro, meant }) => [macro, meant]);
    assert.deepEqual(meant('?p=${AUCITON_PRICE}&a=${AUCTON_ID}&q=${AUCTION_PRCIE}&q2=${AUCTION_PRCIE}'), [
      ['${AUCITON_PRICE}', '${AUCTION_PRICE}'],
      ['${AUCTON_ID}', '${AUCTION_ID}'],
      ['${AUCTION_PRCIE}', '${AUCTION_PRICE}'],
    ]);
    assert.deepEqual(meant('${GDRP}${US_PRIVCY}${GPP_SIDS}${SUPLY_FEE}${GDPR_CONSNET_755}${GPP_STIRNG_5}'), [
      ['${GDRP}', '${GDPR}'],
      ['${US_PRIVCY}', '${US_PRIVACY}'],
      ['${GPP_SIDS}', '${GPP_SID}'],
      ['${SUPLY_FEE}', '${SUPPLY_FEE}'],
      ['${GDPR_CONSNET_755}', '${GDPR_CONSENT_755}'],
      ['${GPP_STIRNG_5}', '${GPP_STRING_5}'],
    ]);
    // The price keeps its suffix; another macro takes none.
    assert.deepEqual(meant('${AUCITON_PRICE:BF}${AUCTION_ID:BF}'), [
      ['${AUCITON_PRICE:BF}', '${AUCTION_PRICE:BF}'],
      ['${AUCTION_ID:BF}', '${AUCTION_ID}'],
    ]);
  });

  it('names the vendor macro one written without its vendor id needs the id after, misspelt, with a placeholder or in lower case', () => {
    const text =
      '${GDPR_CONSENT}${GPP_STRING}${GDPR_CONSENT_XXXX}${gdpr_consent}${GDPR_CONSNET}${GPP_STRIN}' +
      '${GDPR_CONSENT_1234567}${GDPR_CONSENT_VENDOR_ID_OF_THE_DSP}';
    assert.deepEqual(unfilledMacros(text), [
      { macro: '${GDPR_CONSENT}', vendorMacro: 'GDPR_CONSENT' },
      { macro: '${GPP_STRING}', vendorMacro: 'GPP_STRING' },
      { macro: '${GDPR_CONSENT_XXXX}', vendorMacro: 'GDPR_CONSENT' },
      { macro: '${gdpr_consent}', vendorMacro: 'GDPR_CONSENT' },
      { macro: '${GDPR_CONSNET}', vendorMacro: 'GDPR_CONSENT' },
      { macro: '${GPP_STRIN}', vendorMacro: 'GPP_STRING' },
      { macro: '${GDPR_CONSENT_1234567}', vendorMacro: 'GDPR_CONSENT' },
      { macro: '${GDPR_CONSENT_VENDOR_ID_OF_THE_DSP}', vendorMacro: 'GDPR_CONSENT' },
    ]);
    // With its id, one given a suffix is the macro without it, as other macros are.
    assert.deepEqual(unfilledMacros('${GDPR_CONSENT_755:BF}${gpp_string_5}'), [
      { macro: '${GDPR_CONSENT_755:BF}', meant: '${GDPR_CONSENT_755}' },
      { macro: '${gpp_string_5}', meant: '${GPP_STRING_5}' },
    ]);
  });

  it('names the one macro a name cut short begins, and none where it begins several', () => {
    assert.deepEqual(unfilledMacros('${AUCTION_SEAT}${AUCTION_IMP}${AUCTION_DISCOUNT}'), [
      { macro: '${AUCTION_SEAT}', meant: '${AUCTION_SEAT_ID}' },
      { macro: '${AUCTION_IMP}' },
      { macro: '${AUCTION_DISCOUNT}' },
    ]);
  });

  it('names the one macro a name cut short within a word begins, not one 2 edits away, and none for a first word cut short', () => {
    assert.deepEqual(unfilledMacros('${AUCTION_CUR}${AUCTION_MULT}${US_PRIV}${AUCTION_PRI:BF}${GDPR_}'), [
      { macro: '${AUCTION_CUR}', meant: '${AUCTION_CURRENCY}' },
      { macro: '${AUCTION_MULT}', meant: '${AUCTION_MULTIPLIER}' },
      { macro: '${US_PRIV}', meant: '${US_PRIVACY}' },
      { macro: '${AUCTION_PRI:BF}', meant: '${AUCTION_PRICE:BF}' },
      { macro: '${GDPR_}', vendorMacro: 'GDPR_CONSENT' },
    ]);
    // Beginning a name Tally fills and a vendor's, `${GPP_SID}` or `${GPP_STRING_…}`: neither; nor a
    // name without a whole first word, as a script's `${U}` is none of Tally's.
    assert.deepEqual(unfilledMacros('${GPP_}${AUCTION_DISCOUNT_}${U}${AUC}'), [
      { macro: '${AUCTION_DISCOUNT_}' },
    ]);
  });

  it('lists no macro of the exchange, nor a script variable, nor one more than 2 edits from any Tally fills', () => {
    const others =
      '${CLICK_URL}${CACHEBUSTER}${TIMESTAMP}${ADDTL_CONSENT}${GDPR_APPLIES}${DEVICE_IP}${IFA}${CB}' +
      '${PRICE}${SUPPLY_ID}${US_PRIVACY_STRING}${gdpr}${width}';
    assert.deepEqual(unfilledMacros(others), []);
    // AUCTION_-like, listed, but 3 edits from ${AUCTION_LOSS}: no guess.
    assert.deepEqual(unfilledMacros('${AUCTION_FOO}'), [{ macro: '${AUCTION_FOO}' }]);
  });

  it('lists a misspelt macro before a megabyte of macros opened and never closed, each read only to the next brace', () => {
    // Each was once read on to the text's end for its closing brace: time quadratic in their
    // number, minutes for a megabyte of markup.
    for (const opened of ['${AUCTION_PRICE:', '{AUCTION_X:', '${GDPR_CONSENT_1']) {
      const text = `\${AUCITON_PRICE}${opened.repeat(Math.ceil(1024 ** 2 / opened.length))}`;
      assert.deepEqual(unfilledMacros(text), [{ macro: '${AUCITON_PRICE}', meant: '${AUCTION_PRICE}' }]);
    }
  });

  it('judges no more than 256 distinct names, and no name longer than any Tally fills by more than 2', () => {
    const many = Array.from({ length: 300 }, (_unused, index) => `\${X${index}}`).join('');
    assert.deepEqual(unfilledMacros(`${many}\${GDRP}`), []);
    assert.deepEqual(unfilledMacros(`\${GDRP}${many}`), [{ macro: '${GDRP}', meant: '${GDPR}' }]);
    const long = `AUCTION_PRICE${'X'.repeat(20)}`;
    assert.deepEqual(unfilledMacros(`\${${long}}`), [{ macro: `\${${long}}` }]);
  });

  it('names the macro a misspelling 2 edits away means, and a vendor macro none 3 edits from its vendor', () => {
    assert.deepEqual(unfilledMacros('${AUCITON_PRCE}${GDPR_CNSN_755}'), [
      { macro: '${AUCITON_PRCE}', meant: '${AUCTION_PRICE}' },
    ]);
  });

  it('names the macro meant by a misspelling of the longest name Tally fills with 2 letters too many', () => {
    assert.deepEqual(unfilledMacros('${AUCTION_DISCOUNT_PCTXX}'), [
      { macro: '${AUCTION_DISCOUNT_PCTXX}', meant: '${AUCTION_DISCOUNT_PCT}' },
    ]);
  });

  it('judges the first 256 distinct names, each however often written, and not the 257th', () => {
    const distinct = (count: number) =>
      Array.from({ length: count }, (_unused, index) => `\${X${index}}`).join('');
    assert.deepEqual(unfilledMacros(`${distinct(255)}\${GDRP}`), [{ macro: '${GDRP}', meant: '${GDPR}' }]);
    assert.deepEqual(unfilledMacros(`${distinct(256)}\${GDRP}`), []);
    assert.deepEqual(unfilledMacros(`${'${X1}'.repeat(300)}\${GDRP}`), [
      { macro: '${GDRP}', meant: '${GDPR}' },
    ]);
  });
});

describe('substituteMacrosInMarkup', () => {
  const odd: MacroValues = { auctionId: `a"b&c<d'e>f\\g`, price: '1.5' };
  const encrypted = () => 'E-_=';

  it('passes every value, encrypted prices included, through the escape it is given', () => {
    assert.equal(
      substituteMacros(
        '${AUCTION_ID}|${AUCTION_PRICE}|${AUCTION_PRICE:BF}|${AUCTION_LOSS}',
        odd,
        encrypted,
        (v) => `[${v}]`,
      ),
      `[${odd.auctionId}]|[1.5]|[E-_=]|[]`,
    );
  });

  it('writes values JSON-escaped into native JSON, so that the JSON reads back the raw value', () => {
    const values: MacroValues = { auctionId: 'q"b\\s\u0001c\u2028\ud800' };
    const markup = substituteMacrosInMarkup('{"url":"https://x.test/?a=${AUCTION_ID}"}', 'json', values);
    assert.deepEqual(JSON.parse(markup), { url: `https://x.test/?a=${values.auctionId}` });
  });

  it('writes values into the HTML of a native jstracker and the VAST of a vasttag escaped for that markup, then for JSON', () => {
    const values: MacroValues = { auctionId: 'a"<b>&c', price: '1.5' };
    const jstracker = '<script src="https://x.test/j.js?a=${AUCTION_ID}&amp;p=${AUCTION_PRICE}"></script>';
    const vasttag =
      '<VAST version="2.0"><Ad id="${AUCTION_ID}"><InLine><Impression><![CDATA[https://x.test/?a=${AUCTION_ID}]]></Impression></InLine></Ad></VAST>';
    const markup = JSON.stringify({
      assets: [
        { id: 1, title: { text: '${AUCTION_ID}' } },
        { id: 4, video: { vasttag } },
      ],
      jstracker,
    });
    assert.deepEqual(JSON.parse(substituteMacrosInMarkup(markup, 'json', values)), {
      assets: [
        { id: 1, title: { text: values.auctionId } },
        { id: 4, video: { vasttag: substituteMacrosInMarkup(vasttag, 'xml', values) } },
      ],
      jstracker: substituteMacrosInMarkup(jstracker, 'html', values),
    });
    assert.equal(
      substituteMacrosInMarkup(jstracker, 'html', values),
      '<script src="https://x.test/j.js?a=a&quot;&lt;b&gt;&amp;c&amp;p=1.5"></script>',
    );
  });

  it('writes values XML-escaped into VAST outside CDATA sections, and raw inside them', () => {
    assert.equal(
      substituteMacrosInMarkup(
        '<Ad id="${AUCTION_ID}">${AUCTION_ID}<![CDATA[${AUCTION_ID}]]>${AUCTION_PRICE}</Ad>',
        'xml',
        odd,
      ),
      `<Ad id="a&quot;b&amp;c&lt;d&apos;e&gt;f\\g">a&quot;b&amp;c&lt;d&apos;e&gt;f\\g<![CDATA[${odd.auctionId}]]>1.5</Ad>`,
    );
  });

  it('writes values HTML-escaped into banner attribute values and text, JavaScript-escaped into scripts, and raw into comments', () => {
    assert.equal(
      substituteMacrosInMarkup(
        '<img src="${AUCTION_ID}"><p>${AUCTION_ID}</p><script>"${AUCTION_ID}"</script><!--${AUCTION_ID}-->',
        'html',
        odd,
      ),
      '<img src="a&quot;b&amp;c&lt;d&#39;e&gt;f\\g"><p>a&quot;b&amp;c&lt;d&#39;e&gt;f\\g</p>' +
        `<script>"a\\u0022b\\u0026c\\u003Cd\\u0027e\\u003Ef\\u005Cg"</script><!--${odd.auctionId}-->`,
    );
  });

  it('keeps XML well-formed and reads back any value, in attributes, text, CDATA and comments (property)', () => {
    const unit = fc.constantFrom(
      'a',
      '&',
      '<',
      '>',
      '"',
      "'",
      ']',
      '[',
      '-',
      '?',
      '\t',
      '\n',
      '\r',
      ' ',
      '\u00e9',
    );
    fc.assert(
      fc.property(fc.string({ unit }), (auctionId) => {
        const xml = substituteMacrosInMarkup(
          '<a b="${AUCTION_ID}" c=\'${AUCTION_ID}\'><t>${AUCTION_ID}</t><d><![CDATA[${AUCTION_ID}]]></d>' +
            '<!--${AUCTION_ID}--><!--x-${AUCTION_ID}--><?pi ${AUCTION_ID}?></a>',
          'xml',
          { auctionId },
        );
        const parser = new DOMParser({
          onError: (level, message) => {
            if (level !== 'warning') throw new Error(`${level}: ${message}`);
          },
        });
        assert.equal(XMLValidator.validate(xml), true, xml);
        const root = parser.parseFromString(xml, 'text/xml').documentElement;
        assert.equal(root?.getAttribute('b'), auctionId);
        assert.equal(root?.getAttribute('c'), auctionId);
        assert.equal(root?.getElementsByTagName('t')[0]?.textContent, auctionId);
        assert.equal(root?.getElementsByTagName('d')[0]?.textContent, auctionId);
      }),
    );
  });

  it('gives what plain replacement gives for ordinary values, in every language (property)', () => {
    // Ordinary as a script reads it: there every character but letters, digits, `_`, `.` and an
    // inner hyphen is a \uXXXX escape (a colon too); a hyphen at either end is escaped in a script,
    // where it could make a `<!--` or `-->`; two in a row are spaced out in a comment, where they
    // could end it.
    const id = fc
      .string({ unit: fc.constantFrom(...'aZ09-_.'), minLength: 1 })
      .filter((value) => !value.startsWith('-') && !value.endsWith('-') && !value.includes('--'));
    const markup = fc.string({
      unit: fc.constantFrom(
        '${AUCTION_ID}',
        '${AUCTION_PRICE}',
        '<',
        '>',
        '"',
        "'",
        '-',
        '!',
        '[',
        ']',
        '?',
        'script',
        'CDATA',
        '=',
        ' ',
        'x',
      ),
    });
    fc.assert(
      fc.property(
        id,
        id,
        markup,
        fc.constantFrom<MarkupLanguage>('html', 'xml', 'json'),
        (auctionId, seatId, text, language) => {
          // Right after a `<` in HTML, a value's first letter is a reference, not a tag's name.
          fc.pre(language !== 'html' || !text.includes('<${'));
          const values: MacroValues = { auctionId, seatId, price: '2.5' };
          assert.equal(substituteMacrosInMarkup(text, language, values), substituteMacros(text, values));
        },
      ),
    );
  });
});

describe('macroGrowthBound', () => {
  it('bounds what escaping adds where one character grows most: a CR in a CDATA section, a quote in an srcdoc, a lone surrogate in XML', () => {
    const cases: [string, MarkupLanguage, string][] = [
      ['<Impression><![CDATA[https://x.test/?a=${AUCTION_ID}]]></Impression>', 'xml', '\r'],
      ['<Impression>${AUCTION_ID}</Impression>', 'xml', '\ud800'],
      ['<iframe srcdoc="${AUCTION_ID}"></iframe>', 'html', '"'],
    ];
    for (const [markup, language, character] of cases) {
      const values: MacroValues = { auctionId: character.repeat(100) };
      const filled = substituteMacrosInMarkup(markup, language, values);
      const bound = macroGrowthBound(markup, values, 0);
      assert.ok(
        filled.length - markup.length <= bound,
        `${language} ${JSON.stringify(character)}: ${filled.length - markup.length} > ${bound}`,
      );
    }
  });

  it('reaches its bound on a CR in a CDATA section, the character that grows most, so it refuses no more markup than it must', () => {
    const macro = '${AUCTION_ID}';
    const markup = `<Impression><![CDATA[https://x.test/?a=${macro}]]></Impression>`;
    const values: MacroValues = { auctionId: '\r'.repeat(100) };
    const filled = substituteMacrosInMarkup(markup, 'xml', values);
    assert.equal(macroGrowthBound(markup, values, 0), filled.length - markup.length + macro.length);
  });

  it('counts an encrypted price longer than every value, which a suffixed price macro is filled with', () => {
    const markup = '<p>${AUCTION_PRICE:BF}</p>';
    const values: MacroValues = { auctionId: 'A1', price: '1.5' };
    const encrypted = 'E'.repeat(200);
    const filled = substituteMacrosInMarkup(markup, 'html', values, () => encrypted);
    assert.ok(filled.includes(encrypted), filled);
    const boundChars = macroGrowthBound(markup, values, encrypted.length);
    assert.ok(
      boundChars >= filled.length - markup.length,
      `the bound ${boundChars} covers the ${filled.length - markup.length} characters the markup grew`,
    );
  });

  it('is never less than what filling the macros adds, in any language and region (property)', () => {
    const markup = fc.string({
      unit: fc.constantFrom(
        '${AUCTION_ID}',
        '${AUCTION_PRICE:BF}',
        '<![CDATA[',
        ']]',
        '>',
        '<!--',
        '-',
        '<?',
        '<p>',
        '<a href="',
        '<b onclick="',
        '<i style="',
        '<iframe srcdoc="',
        '<script>',
        '<style>',
        '<svg>',
        '"',
        ' ',
        'x',
      ),
    });
    const unit = fc.constantFrom(
      ...['a', '\r', '\n', '\t', '"', "'", '&', '<', '>', ']', '-', '=', '`', ' ', '%'],
      ...['\u0001', '\ud800', '\u2028'],
    );
    // One character many times (where escaping it adds most, that outweighs the macro's own
    // characters), then any others.
    const value = fc
      .tuple(unit, fc.integer({ min: 0, max: 40 }), fc.string({ unit }))
      .map(([character, times, rest]) => character.repeat(times) + rest);
    fc.assert(
      fc.property(
        markup,
        value,
        fc.constantFrom<MarkupLanguage>('html', 'xml', 'json'),
        (text, auctionId, language) => {
          const values: MacroValues = { auctionId };
          const filled = substituteMacrosInMarkup(text, language, values, () => auctionId);
          const growthChars = filled.length - text.length;
          const boundChars = macroGrowthBound(text, values, auctionId.length);
          assert.ok(growthChars <= boundChars, `${growthChars} > ${boundChars}`);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('money conversions', () => {
  it('writes a ratio as a plain decimal, never with an exponent, that reads back as the same number', () => {
    assert.equal(formatPlainDecimal(0.8), '0.8');
    assert.equal(formatPlainDecimal(1), '1');
    assert.equal(formatPlainDecimal(1e-7), '0.0000001');
    assert.equal(formatPlainDecimal(1.5e-7), '0.00000015');
    assert.equal(formatPlainDecimal(1 / 1e12), '0.000000000001');
    assert.equal(formatPlainDecimal(1e21), '1000000000000000000000');
    assert.equal(formatPlainDecimal(1.25e22), '12500000000000000000000');
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e30, noNaN: true }), (value) => {
        const written = formatPlainDecimal(value);
        assert.match(written, /^\d+(\.\d+)?$/);
        assert.equal(Number(written), value);
      }),
    );
  });

  it('formats micros as the shortest exact decimal', () => {
    assert.equal(formatMicros(1_500_000), '1.5');
    assert.equal(formatMicros(2_000_000), '2');
    assert.equal(formatMicros(1), '0.000001');
    assert.equal(formatMicros(0), '0');
    assert.equal(formatMicros(1_230_000), '1.23');
    assert.equal(formatMicros(999_999_999_999), '999999.999999');
    assert.equal(formatMicros(Number.MAX_SAFE_INTEGER), '9007199254.740991');
  });

  it('refuses to format negative, fractional or unsafe micros', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(() => formatMicros(bad), RangeError);
    }
  });

  it('parses decimal amounts into exact micros', () => {
    assert.equal(parseDecimalMicros('1.5'), 1_500_000);
    assert.equal(parseDecimalMicros('0.000001'), 1);
    assert.equal(parseDecimalMicros('999999.999999'), 999_999_999_999);
    assert.equal(parseDecimalMicros('1.23'), 1_230_000);
    assert.equal(parseDecimalMicros('0.1'), 100_000);
    assert.equal(parseDecimalMicros('2'), 2_000_000);
    assert.equal(parseDecimalMicros('007.50'), 7_500_000);
    assert.equal(parseDecimalMicros('0'), 0);
  });

  it('reads a decimal written without its whole or its fraction digits', () => {
    assert.equal(parseDecimalMicros('.5'), 500_000);
    assert.equal(parseDecimalMicros('.000001'), 1);
    assert.equal(parseDecimalMicros('5.'), 5_000_000);
  });

  it('rejects malformed, negative, over-precise and too large amounts', () => {
    const bad = [
      '',
      '-1',
      '+1',
      '.',
      '-.5',
      '1.0000001',
      '.0000001',
      '1e3',
      ' 1',
      '1 ',
      '1,5',
      'NaN',
      'Infinity',
      '0x10',
      '1.2.3',
    ];
    for (const text of bad) assert.equal(parseDecimalMicros(text), undefined, text);
    assert.equal(parseDecimalMicros('1000000'), undefined);
    assert.equal(parseDecimalMicros('1'.repeat(40)), undefined);
    assert.equal(parseDecimalMicros('5', 4_999_999), undefined);
    assert.equal(parseDecimalMicros('5', 5_000_000), 5_000_000);
  });

  it('parses back every formatted amount (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999 }), (micros) => {
        assert.equal(parseDecimalMicros(formatMicros(micros)), micros);
      }),
      { numRuns: 2000 },
    );
  });

  it('converts JSON numbers to micros without float error', () => {
    assert.equal(numberToMicros(1.23), 1_230_000);
    assert.equal(numberToMicros(0.1 + 0.2), 300_000);
    assert.equal(numberToMicros(1.005), 1_005_000);
    assert.equal(numberToMicros(0.000001), 1);
    assert.equal(numberToMicros(0), 0);
    assert.equal(numberToMicros(-0), 0);
    assert.equal(numberToMicros(12), 12_000_000);
    assert.equal(numberToMicros(1e-7), 0);
    assert.equal(numberToMicros(5e-7), 1);
    assert.equal(numberToMicros(0.0000025), 3);
    assert.equal(numberToMicros(1.0000004999), 1_000_000);
    assert.equal(numberToMicros(1e9), 1e15);
    assert.equal(numberToMicros(999999.999999), 999_999_999_999);
  });

  it('refuses NaN, negative, non-finite and unsafe numbers', () => {
    for (const bad of [
      Number.NaN,
      -0.01,
      -1,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      1e10,
      1e300,
    ]) {
      assert.equal(numberToMicros(bad), undefined, String(bad));
    }
  });

  it('converts the number of every formatted amount back to the same micros (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999_999 }), (micros) => {
        assert.equal(numberToMicros(Number(formatMicros(micros))), micros);
      }),
      { numRuns: 2000 },
    );
  });
});
