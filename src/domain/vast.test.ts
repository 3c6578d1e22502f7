import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import fc from 'fast-check';
import type { Document, Element } from '@xmldom/xmldom';
import { templateKind } from './vast-document.js';
import { instrumentVast, wrapNurlInVast } from './vast.js';
import type { VastTrackers } from './vast.js';

const VAST_FIXTURES = new URL('../../../shared/fixtures/vast/', import.meta.url);
const OPENRTB_FIXTURES = new URL('../../../shared/fixtures/openrtb/', import.meta.url);

const TRACKERS: VastTrackers = {
  impressionUrl: 'https://tally.example/n/tok123?src=vast&cb=42',
  errorUrl: 'https://tally.example/e/tok123?code=[ERRORCODE]',
};
const OUR_IMPRESSION = `<Impression><![CDATA[${TRACKERS.impressionUrl}]]></Impression>`;
const OUR_ERROR = `<Error><![CDATA[${TRACKERS.errorUrl}]]></Error>`;
/** A VAST 1.0 list's `<URL>` holding one of Tally's URLs. */
const OUR_URL = (url: string) => `<URL><![CDATA[${url}]]></URL>`;
const SPACE_BEFORE_DECLARATION_WARNING =
  'VAST markup began with white space before its XML declaration (<?xml … ?>), which XML allows only at the very start of a document: strict parsers, such as the DOMParser of the browsers web players run in, refuse the document, so that the ad would not play: Tally served it without that white space';
const NO_AD_ELEMENT_WARNING =
  'no <InLine> or <Wrapper> element found in an <Ad> of the root element, as a VAST document has its ads (outside comments and CDATA)';

/** Parses with a real XML parser that fails on any error, so malformed input throws. */
function parseStrictly(xml: string): Document {
  const parser = new DOMParser({
    onError: (level, message) => {
      if (level !== 'warning') throw new Error(`${level}: ${message}`);
    },
  });
  return parser.parseFromString(xml, 'text/xml');
}

function isWellFormed(xml: string): boolean {
  try {
    parseStrictly(xml);
    return true;
  } catch {
    return false;
  }
}

function elementsNamed(document: Document, ...localNames: string[]): Element[] {
  const wanted = localNames.map((name) => name.toLowerCase());
  return Array.from(document.getElementsByTagName('*')).filter((element) =>
    wanted.includes((element.localName ?? '').toLowerCase()),
  );
}

function childElements(parent: Element, localName: string): Element[] {
  return Array.from(parent.childNodes).filter(
    (node): node is Element => node.nodeType === 1 && (node as Element).localName === localName,
  );
}

function text(element: Element): string {
  return (element.textContent ?? '').trim();
}

function adElements(document: Document): Element[] {
  return elementsNamed(document, 'InLine', 'Wrapper');
}

/**
 * The markup with Tally's elements (and the line break and indentation put before each) removed,
 * then the `<URL>`s Tally put into a VAST 1.0 ad's lists (with nothing before them).
 */
function withoutTallyElements(markup: string): string {
  const elements = [
    OUR_IMPRESSION,
    OUR_ERROR,
    `<Impression>${OUR_URL(TRACKERS.impressionUrl)}</Impression>`,
    `<Error>${OUR_URL(TRACKERS.errorUrl)}</Error>`,
  ];
  const withoutElements = elements.reduce(
    (rest, element) => rest.replace(new RegExp(`(?:\\r?\\n[ \\t]*)?${escapeRegExp(element)}`, 'g'), ''),
    markup,
  );
  return [OUR_URL(TRACKERS.impressionUrl), OUR_URL(TRACKERS.errorUrl)].reduce(
    (rest, url) => rest.replaceAll(url, ''),
    withoutElements,
  );
}

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function assertInstrumented(markup: string) {
  const result = instrumentVast(markup, TRACKERS);
  assert.ok(result.ok, result.ok ? '' : result.warning);
  return result;
}

/** Checks in the parsed output that every InLine and Wrapper carries Tally's Error then Impression. */
/**
 * Checks that every ad carries one Tally `<Impression>` and, where its VAST version's schema
 * allows one more, one Tally `<Error>` where that schema reads it: VAST 2.0 and 3.0 allow one
 * `<Error>`, right before the `<Impression>` elements; VAST 4 any number, right after `<AdSystem>`.
 */
function assertEveryAdElementCarriesTallyTrackers(output: Document) {
  if (output.documentElement?.localName === 'VideoAdServingTemplate') {
    assertEveryVast1AdCarriesTallyUrls(output);
    return;
  }
  const major = Number(/^\d+/.exec(output.documentElement?.getAttribute('version') ?? '')?.[0]);
  for (const adElement of adElements(output)) {
    const impressions = childElements(adElement, 'Impression');
    const ours = impressions.filter((impression) => text(impression) === TRACKERS.impressionUrl);
    const errors = childElements(adElement, 'Error');
    const ourErrors = errors.filter((error) => text(error) === TRACKERS.errorUrl);
    assert.equal(ours.length, 1, `one Tally Impression in <${adElement.tagName}>`);
    const dspHasError = errors.length > ourErrors.length;
    if ((major === 2 || major === 3) && dspHasError) {
      assert.equal(ourErrors.length, 0, `no second Error in a VAST ${major} <${adElement.tagName}>`);
      continue;
    }
    assert.equal(ourErrors.length, 1, `one Tally Error in <${adElement.tagName}>`);
    const children = Array.from(adElement.childNodes).filter((node) => node.nodeType === 1);
    const firstImpression = impressions[0];
    const ourError = ourErrors[0];
    assert.ok(firstImpression && ourError, `<${adElement.tagName}> has an Impression and Tally’s Error`);
    const at = children.indexOf(ourError);
    assert.ok(at < children.indexOf(firstImpression), 'Error before the Impressions');
    if (major >= 4)
      assert.match(children[at - 1]?.nodeName ?? '', /AdSystem|Error/, 'VAST 4: Error after AdSystem');
    else assert.equal(children[at + 1], firstImpression, 'Error right before the Impressions');
  }
}

/** Checks that every ad of a VAST 1.0 document lists Tally's URLs once, in a `<URL>` of its lists. */
function assertEveryVast1AdCarriesTallyUrls(output: Document) {
  for (const adElement of adElements(output)) {
    const urlsOf = (name: string) =>
      childElements(adElement, name).flatMap((element) => childElements(element, 'URL').map(text));
    for (const [name, url] of [
      ['Impression', TRACKERS.impressionUrl],
      ['Error', TRACKERS.errorUrl],
    ] as const) {
      const ours = urlsOf(name).filter((listed) => listed === url);
      assert.equal(ours.length, 1, `one Tally URL in the <${name}> lists of <${adElement.tagName}>`);
    }
  }
}

describe('instrumentVast on the IAB VAST samples', () => {
  const files = readdirSync(VAST_FIXTURES).filter((name) => name.endsWith('.xml'));

  test('reads the sample directory', () => {
    assert.ok(files.length > 40, `found ${files.length} samples`);
  });

  for (const file of files) {
    test(`instruments every InLine and Wrapper of ${file}, changing nothing else`, () => {
      const input = readFileSync(new URL(file, VAST_FIXTURES), 'utf8');
      const result = assertInstrumented(input);
      assert.equal(withoutTallyElements(result.markup), input);
      if (!isWellFormed(input)) {
        assert.match(result.warnings.join('\n'), /not well-formed/);
        return;
      }
      const before = parseStrictly(input);
      const after = parseStrictly(result.markup);
      assert.equal(result.adCount, adElements(before).length);
      assert.equal(adElements(after).length, adElements(before).length);
      assertEveryAdElementCarriesTallyTrackers(after);
      const othersAfter = elementsNamed(after, 'Impression').filter(
        (impression) => text(impression) !== TRACKERS.impressionUrl,
      );
      assert.equal(othersAfter.length, elementsNamed(before, 'Impression').length);
    });
  }

  test('gives a VAST 1.0 ad Tally’s URLs as VAST 1.0 reads them, a <URL> in its <Impression> and <Error>, without a warning', () => {
    for (const [file, dspImpressions] of [
      ['v2.0_vast1RegularLinear.xml', 1],
      ['v2.0_vast1Nonlinear.xml', 0],
      ['v2.0_vast1VPAIDLinear.xml', 0],
    ] as const) {
      const input = readFileSync(new URL(file, VAST_FIXTURES), 'utf8');
      const result = assertInstrumented(input);
      assert.deepEqual(result.warnings, [], file);
      const [inLine] = adElements(parseStrictly(result.markup));
      assert.ok(inLine, file);
      const urlsOf = (name: string) =>
        childElements(inLine, name).flatMap((element) => childElements(element, 'URL').map(text));
      const impressions = childElements(inLine, 'Impression');
      assert.equal(impressions.length, Math.max(dspImpressions, 1), `${file}: one <Impression> list`);
      assert.equal(urlsOf('Impression').filter((url) => url === TRACKERS.impressionUrl).length, 1, file);
      assert.equal(urlsOf('Error').filter((url) => url === TRACKERS.errorUrl).length, 1, file);
    }
  });

  test('gives no warning for a well-formed VAST 4 document', () => {
    const input = readFileSync(new URL('v4.1_Inline_Simple.xml', VAST_FIXTURES), 'utf8');
    assert.deepEqual(assertInstrumented(input).warnings, []);
  });
});

describe('instrumentVast on the VAST inside the OpenRTB 2.6 bid responses', () => {
  const vastAdms = readdirSync(OPENRTB_FIXTURES)
    .filter((name) => name.startsWith('bid-response'))
    .flatMap((name) => admsOf(readFileSync(new URL(name, OPENRTB_FIXTURES), 'utf8')))
    .filter((adm) => templateKind(adm) === 'vast');

  test('finds the one VAST adm of the spec examples', () => {
    assert.equal(vastAdms.length, 1);
  });

  test('instruments the spec example, which is not well-formed XML, with a warning and no new damage', () => {
    const adm = vastAdms[0] ?? '';
    assert.equal(isWellFormed(adm), false);
    const result = assertInstrumented(adm);
    assert.equal(result.adCount, 1);
    assert.match(result.warnings.join('\n'), /not well-formed XML/);
    assert.equal(withoutTallyElements(result.markup), adm);
    assert.ok(
      result.markup.includes(
        `</AdTitle>\n${OUR_ERROR}\n<Impression>http://sample.com</Impression>\n${OUR_IMPRESSION}\n<Description>`,
      ),
      'trackers sit among the cleanly written children, beside the existing Impression',
    );
  });
});

function admsOf(bidResponseJson: string): string[] {
  const response = JSON.parse(bidResponseJson) as { seatbid?: { bid?: { adm?: unknown }[] }[] };
  return (response.seatbid ?? [])
    .flatMap((seatbid) => seatbid.bid ?? [])
    .flatMap((bid) => (typeof bid.adm === 'string' ? [bid.adm] : []));
}

describe('instrumentVast on crafted documents', () => {
  test('instruments each Ad of a pod holding one InLine and one Wrapper', () => {
    const input = [
      '<VAST version="4.2">',
      '  <Ad id="1" sequence="1">',
      '    <InLine>',
      '      <AdSystem>dsp</AdSystem>',
      '      <Impression><![CDATA[https://dsp.example/imp1]]></Impression>',
      '      <AdTitle>first</AdTitle>',
      '    </InLine>',
      '  </Ad>',
      '  <Ad id="2" sequence="2">',
      '    <Wrapper followAdditionalWrappers="0">',
      '      <AdSystem>dsp</AdSystem>',
      '      <Impression><![CDATA[https://dsp.example/imp2]]></Impression>',
      '      <VASTAdTagURI><![CDATA[https://dsp.example/next.xml]]></VASTAdTagURI>',
      '    </Wrapper>',
      '  </Ad>',
      '</VAST>',
    ].join('\n');
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 2);
    assertEveryAdElementCarriesTallyTrackers(parseStrictly(result.markup));
    assert.equal(withoutTallyElements(result.markup), input);
  });

  test('adds the first Impression right after AdSystem when the document has none', () => {
    const input =
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem><AdTitle>t</AdTitle></InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}<AdTitle>t</AdTitle></InLine></Ad></VAST>`,
    );
  });

  test('adds the trackers right after the opening tag when there is neither Impression nor AdSystem', () => {
    const input =
      '<VAST version="2.0"><Ad><Wrapper><VASTAdTagURI>https://x.example/</VASTAdTagURI></Wrapper></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.ok(
      result.markup.startsWith(
        `<VAST version="2.0"><Ad><Wrapper>${OUR_ERROR}${OUR_IMPRESSION}<VASTAdTagURI>`,
      ),
      result.markup,
    );
  });

  test('tolerates attributes, spaces, lower case and namespace prefixes, reusing the prefix', () => {
    const input = [
      '<v:VAST xmlns:v="http://www.iab.com/VAST" version="4.1">',
      '<v:Ad><v:InLine >',
      '<v:AdSystem>dsp</v:AdSystem>',
      '</v:InLine ></v:Ad>',
      '<v:Ad><v:inline><v:AdSystem>dsp</v:AdSystem></v:inline></v:Ad>',
      '</v:VAST>',
    ].join('\n');
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 2);
    const output = parseStrictly(result.markup);
    const ours = elementsNamed(output, 'Impression').filter(
      (impression) => text(impression) === TRACKERS.impressionUrl,
    );
    assert.equal(ours.length, 2);
    assert.deepEqual(
      ours.map((impression) => impression.namespaceURI),
      ['http://www.iab.com/VAST', 'http://www.iab.com/VAST'],
    );
  });

  test('keeps CRLF line endings and the indentation of the children', () => {
    const input =
      '<VAST version="4.0">\r\n<Ad>\r\n  <InLine>\r\n    <AdSystem>dsp</AdSystem>\r\n  </InLine>\r\n</Ad>\r\n</VAST>';
    const result = assertInstrumented(input);
    assert.ok(
      result.markup.includes(
        `<AdSystem>dsp</AdSystem>\r\n    ${OUR_ERROR}\r\n    ${OUR_IMPRESSION}\r\n  </InLine>`,
      ),
      JSON.stringify(result.markup),
    );
  });

  test('reads back a URL containing ]]> and & intact from the DOM', () => {
    const trackers = {
      impressionUrl: 'https://tally.example/n?a=1&b=]]>&c=<x>',
      errorUrl: 'https://tally.example/e?x=]]>]]>&code=[ERRORCODE]',
    };
    const input = '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem></InLine></Ad></VAST>';
    const result = instrumentVast(input, trackers);
    assert.ok(result.ok, result.ok ? '' : result.warning);
    const inline = elementsNamed(parseStrictly(result.markup), 'InLine')[0];
    assert.ok(inline, 'the output has an <InLine>');
    assert.deepEqual(childElements(inline, 'Impression').map(text), [trackers.impressionUrl]);
    assert.deepEqual(childElements(inline, 'Error').map(text), [trackers.errorUrl]);
  });

  test('percent-encodes characters that XML forbids in a tracker URL', () => {
    const trackers = { ...TRACKERS, impressionUrl: 'https://tally.example/n?a=\u0001b' };
    const input = '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem></InLine></Ad></VAST>';
    const result = instrumentVast(input, trackers);
    assert.ok(result.ok, result.ok ? '' : result.warning);
    const inline = elementsNamed(parseStrictly(result.markup), 'InLine')[0];
    assert.ok(inline, 'the output has an <InLine>');
    assert.deepEqual(childElements(inline, 'Impression').map(text), ['https://tally.example/n?a=%01b']);
  });

  test('ignores InLine tags inside comments and CDATA sections', () => {
    const input = [
      '<VAST version="4.0">',
      '<!-- <Ad><InLine><AdSystem>old</AdSystem></InLine></Ad> -->',
      '<Ad><InLine><AdSystem>dsp</AdSystem>',
      '<Description><![CDATA[<InLine> is a tag]]></Description>',
      '</InLine></Ad>',
      '</VAST>',
    ].join('\n');
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.ok(
      result.markup.includes('<!-- <Ad><InLine><AdSystem>old</AdSystem></InLine></Ad> -->'),
      result.markup,
    );
    assert.equal(withoutTallyElements(result.markup), input);
  });

  test('leaves a document whose only InLine is commented out untouched', () => {
    const input = '<VAST version="4.0"><!-- <Ad><InLine></InLine></Ad> --></VAST>';
    const result = instrumentVast(input, TRACKERS);
    assert.equal(result.ok, false);
    assert.equal(result.markup, input);
  });

  test('leaves a no-ad response untouched, with a warning that says it is one, however its root is written', () => {
    for (const input of [
      '<VAST version="4.0"><Error><![CDATA[https://dsp.example/noad]]></Error></VAST>',
      '<VAST version="3.0"/>',
      '<?xml version="1.0"?>\n<vast:VAST xmlns:vast="http://www.iab.com/VAST" version="4.1">\n</vast:VAST>',
      '<VAST version="4.0"><!-- <Ad><InLine></InLine></Ad> --></VAST>',
      '<VideoAdServingTemplate></VideoAdServingTemplate>',
      '<VAST version="4.0"><Extensions><Extension><Ad><InLine><Impression>x</Impression></InLine></Ad></Extension></Extensions></VAST>',
    ]) {
      const result = instrumentVast(input, TRACKERS);
      assert.ok(!result.ok, `${input}: a no-ad response is left untouched with a warning, not instrumented`);
      assert.equal(result.markup, input);
      assert.equal(result.noAd, true, input);
      assert.equal(
        result.warning,
        'the VAST is a no-ad response (its root element holds no <Ad>): a player plays nothing, so no impression can happen',
      );
    }
  });

  test('does not call a VAST whose ads hold no InLine or Wrapper, or markup that is no VAST, a no-ad response', () => {
    for (const input of ['<VAST version="4.0"><Ad/></VAST>', '<Ad><InLine/></Ad>', '<html>not vast</html>']) {
      const result = instrumentVast(input, TRACKERS);
      assert.ok(!result.ok, input);
      assert.equal(result.noAd, false, input);
      assert.equal(result.warning, NO_AD_ELEMENT_WARNING);
    }
  });

  test('says that the InLine of an Ad that is itself the root is no ad of a VAST document', () => {
    const input = '<Ad><InLine><AdSystem>dsp</AdSystem><Impression>x</Impression></InLine></Ad>';
    const result = instrumentVast(input, TRACKERS);
    assert.ok(!result.ok, input);
    assert.equal(result.markup, input);
    assert.equal(result.warning, NO_AD_ELEMENT_WARNING);
  });

  for (const garbage of [
    '',
    'not xml at all <<< >>>',
    '<html><body><img src="x"></body></html>',
    '{"native":{}}',
  ]) {
    test(`returns hopeless markup byte for byte with a warning: ${JSON.stringify(garbage)}`, () => {
      const result = instrumentVast(garbage, TRACKERS);
      assert.ok(!result.ok, 'hopeless markup is left untouched with a warning, not instrumented');
      assert.equal(result.markup, garbage);
      assert.ok(result.warning.length > 0, 'the warning says why');
    });
  }

  const ambiguous: Record<string, string> = {
    'an InLine that is never closed':
      '<VAST version="2.0"><Ad><InLine><AdSystem>dsp</AdSystem>< Creatives></Ad></VAST>',
    'a sloppy InLine opening tag':
      '<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad><Ad>< InLine><AdSystem>b</AdSystem></InLine></Ad></VAST>',
    'two closings for one InLine': '<VAST><Ad><InLine><AdSystem>a</AdSystem>< /InLine></InLine></Ad></VAST>',
    'an unterminated comment': '<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad><!-- </VAST>',
    'an InLine closed by </Wrapper>': '<VAST><Ad><InLine><AdSystem>a</AdSystem></Wrapper></Ad></VAST>',
    'a second InLine opened sloppily inside the first':
      '<VAST><Ad><InLine><AdSystem>a</AdSystem>< InLine></Ad></VAST>',
  };
  for (const [problem, input] of Object.entries(ambiguous)) {
    test(`leaves malformed VAST with ${problem} untouched, with a warning`, () => {
      const result = instrumentVast(input, TRACKERS);
      assert.ok(
        !result.ok,
        `malformed VAST with ${problem} is left untouched with a warning, not instrumented`,
      );
      assert.equal(result.markup, input);
      assert.match(result.warning, /not well-formed XML.*cannot be located unambiguously/);
    });
  }

  test('names the first tags of a document cut short in its warning, not all of them', () => {
    const input = `<VAST version="4.0"><Ad><InLine><Impression>x</Impression>${'<Extension>'.repeat(2000)}`;
    const result = instrumentVast(input, TRACKERS);
    assert.ok(!result.ok, 'a document cut short is left untouched with a warning, not instrumented');
    assert.equal(
      result.warning,
      'VAST not instrumented: it is not well-formed XML (2003 tags are never closed: VAST, Ad, InLine, ' +
        'Extension, Extension, and 1998 more), and its <InLine>/<Wrapper> elements cannot be located unambiguously',
    );
    const longNames = `<?xml version="1.0"?>\n<VAST><Ad><InLine><Impression>x</Impression><${'X'.repeat(500)}>`;
    const cut = instrumentVast(longNames, TRACKERS);
    assert.ok(
      !cut.ok,
      'a document cut short in a long tag name is left untouched with a warning, not instrumented',
    );
    assert.match(
      cut.warning,
      new RegExp(`4 tags are never closed: VAST, Ad, InLine, ${'X'.repeat(40)}…\\), and`),
    );
  });

  test('cuts a long message of the XML parser short in its warning', () => {
    const input = `<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad><${'x'.repeat(5000)}></y></VAST>`;
    const result = instrumentVast(input, TRACKERS);
    const warning = result.ok ? result.warnings.join('\n') : result.warning;
    assert.match(warning, /not well-formed XML \(.{1,160}… at line 1, column \d+\)/);
    assert.ok(warning.length < 400, `${warning.length} characters`);
  });

  test('leaves an empty <InLine/> alone, and says the ad is empty, not that it has none', () => {
    for (const ad of ['<InLine/>', '<vast:Wrapper />']) {
      const input = `<VAST version="4.0"><Ad>${ad}</Ad></VAST>`;
      assert.deepEqual(instrumentVast(input, TRACKERS), {
        ok: false,
        markup: input,
        warning:
          'the <Ad> elements of the root element hold no <InLine> or <Wrapper> with content, only an empty one (<InLine/>): no ad a player can play, nor an <Impression>',
        noAd: false,
      });
    }
  });
});

describe('instrumentVast: where Tally’s elements go among the children', () => {
  test('puts both after the last Error when there is no Impression', () => {
    const input =
      '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem><AdTitle>t</AdTitle>' +
      '<Error>e1</Error><Error>e2</Error><Creatives></Creatives></InLine></Ad></VAST>';
    assert.equal(
      assertInstrumented(input).markup,
      '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem><AdTitle>t</AdTitle>' +
        `<Error>e1</Error><Error>e2</Error>${OUR_ERROR}${OUR_IMPRESSION}<Creatives></Creatives></InLine></Ad></VAST>`,
    );
  });

  test('puts the Error of a VAST 4 ad after its AdSystem and Errors, before its Extensions, as the VAST 4 schema orders them', () => {
    const extensions = '<Extensions><Extension type="x">e</Extension></Extensions>';
    const bare = `<VAST version="4.1"><Ad><InLine><AdSystem>dsp</AdSystem>${extensions}<Impression>1</Impression></InLine></Ad></VAST>`;
    assert.equal(
      assertInstrumented(bare).markup,
      `<VAST version="4.1"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${extensions}<Impression>1</Impression>${OUR_IMPRESSION}</InLine></Ad></VAST>`,
    );
    const withErrors = `<VAST version="4.0"><Ad><Wrapper><AdSystem>dsp</AdSystem><Error>e</Error>${extensions}<Impression>1</Impression></Wrapper></Ad></VAST>`;
    assert.equal(
      assertInstrumented(withErrors).markup,
      `<VAST version="4.0"><Ad><Wrapper><AdSystem>dsp</AdSystem><Error>e</Error>${OUR_ERROR}${extensions}<Impression>1</Impression>${OUR_IMPRESSION}</Wrapper></Ad></VAST>`,
    );
  });

  test('adds Tally’s URL to the <URL> list of a VAST 1.0 ad’s last <Impression> and <Error>, before their end tags', () => {
    const input =
      '<VideoAdServingTemplate><Ad><InLine><AdSystem>dsp</AdSystem><Error><URL>e</URL></Error>' +
      '<Impression><URL id="a">i1</URL><URL>i2</URL></Impression><Video/></InLine></Ad></VideoAdServingTemplate>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      `<VideoAdServingTemplate><Ad><InLine><AdSystem>dsp</AdSystem><Error><URL>e</URL>${OUR_URL(TRACKERS.errorUrl)}</Error>` +
        `<Impression><URL id="a">i1</URL><URL>i2</URL>${OUR_URL(TRACKERS.impressionUrl)}</Impression><Video/></InLine></Ad></VideoAdServingTemplate>`,
    );
    assert.deepEqual(result.warnings, []);
  });

  test('gives a VAST 1.0 ad whose <Impression> and <Error> hold text, no <URL> list, an <Impression> list of Tally’s own and no second <Error>, saying so', () => {
    const input =
      '<VideoAdServingTemplate><Ad><InLine><AdSystem>dsp</AdSystem><Error>e</Error>' +
      '<Impression>i</Impression></InLine></Ad></VideoAdServingTemplate>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      '<VideoAdServingTemplate><Ad><InLine><AdSystem>dsp</AdSystem><Error>e</Error>' +
        `<Impression>i</Impression><Impression>${OUR_URL(TRACKERS.impressionUrl)}</Impression></InLine></Ad></VideoAdServingTemplate>`,
    );
    assert.deepEqual(result.warnings, [
      "a VAST 1.0 ad already has an <Error>, written with no <URL> list that could take Tally's error URL (noticeUrls.vast_error): it was not added to it",
    ]);
  });

  test('adds no second Error to a VAST 2.0 or 3.0 ad that has one, whose schema allows one, and says so', () => {
    for (const version of ['2.0', '3.0']) {
      const input = `<VAST version="${version}"><Ad><InLine><AdSystem>dsp</AdSystem><Error>e</Error><Impression>1</Impression></InLine></Ad></VAST>`;
      const result = assertInstrumented(input);
      assert.equal(
        result.markup,
        `<VAST version="${version}"><Ad><InLine><AdSystem>dsp</AdSystem><Error>e</Error><Impression>1</Impression>${OUR_IMPRESSION}</InLine></Ad></VAST>`,
      );
      assert.deepEqual(result.warnings, [
        "an ad already has the one <Error> its VAST version (2.0 or 3.0) allows: Tally's error URL (noticeUrls.vast_error) was not added to it",
      ]);
    }
  });

  test('instruments only the InLine and Wrapper elements of an Ad, not elements of those names in an Extension', () => {
    const extension =
      '<Extensions><Extension type="hints"><wrapper>false</wrapper><InLine>true</InLine></Extension></Extensions>';
    const input = `<VAST version="4.1"><Ad><InLine><AdSystem>dsp</AdSystem>${extension}<Impression>1</Impression></InLine></Ad></VAST>`;
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.equal(
      result.markup,
      `<VAST version="4.1"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${extension}<Impression>1</Impression>${OUR_IMPRESSION}</InLine></Ad></VAST>`,
    );
  });

  test('leaves a whole VAST document nested in an Extension of an IAB sample as it came, instrumenting only the sample’s ad', () => {
    const sample = readFileSync(new URL('v4.1_Wrapper_Tag-test.xml', VAST_FIXTURES), 'utf8');
    const nested =
      '<Extensions><Extension type="waterfall"><VAST version="3.0"><Ad id="backup"><InLine>' +
      '<AdSystem>other</AdSystem><AdTitle>t</AdTitle><Error><![CDATA[https://other.example/e]]></Error>' +
      '<Impression><![CDATA[https://other.example/i]]></Impression><Creatives/></InLine></Ad>' +
      '<Ad><Wrapper><AdSystem>other</AdSystem><VASTAdTagURI><![CDATA[https://other.example/v]]>' +
      '</VASTAdTagURI></Wrapper></Ad></VAST></Extension></Extensions>';
    const input = sample.replace('\n    </Wrapper>', `\n      ${nested}\n    </Wrapper>`);
    assert.ok(input.includes(nested), 'the nested document is in the sample’s Wrapper');
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.equal(withoutTallyElements(result.markup), input);
    assert.ok(result.markup.includes(nested), 'the Extension is served as the DSP wrote it');
    const output = parseStrictly(result.markup);
    const [ownAd] = elementsNamed(output, 'Wrapper');
    assert.ok(ownAd, 'the sample’s Wrapper is there');
    assert.deepEqual(childElements(ownAd, 'Impression').map(text), [
      'https://example.com/track/impression',
      TRACKERS.impressionUrl,
    ]);
    assert.deepEqual(childElements(ownAd, 'Error').map(text), [
      'https://example.com/error',
      TRACKERS.errorUrl,
    ]);
  });

  test('instruments no ad of an Extension that sits beside an ad’s InLine or at the document’s root', () => {
    const inner = '<Ad><InLine><AdSystem>x</AdSystem><Impression>x</Impression></InLine></Ad>';
    const extension = `<Extensions><Extension>${inner}</Extension></Extensions>`;
    const own = '<InLine><AdSystem>dsp</AdSystem><Impression>1</Impression></InLine>';
    const instrumentedOwn = `<InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}<Impression>1</Impression>${OUR_IMPRESSION}</InLine>`;
    for (const [input, expected] of [
      [
        `<VAST version="4.0"><Ad>${own}${extension}</Ad></VAST>`,
        `<VAST version="4.0"><Ad>${instrumentedOwn}${extension}</Ad></VAST>`,
      ],
      [
        `<VAST version="4.0"><Ad>${own}</Ad>${extension}</VAST>`,
        `<VAST version="4.0"><Ad>${instrumentedOwn}</Ad>${extension}</VAST>`,
      ],
    ]) {
      const result = assertInstrumented(input ?? '');
      assert.equal(result.adCount, 1);
      assert.equal(result.markup, expected);
    }
  });

  test('puts the Error before the first of several Impressions and the Impression after the last', () => {
    const input =
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>' +
      '<Impression>1</Impression><Impression>2</Impression><AdTitle>t</AdTitle></InLine></Ad></VAST>';
    assert.equal(
      assertInstrumented(input).markup,
      `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}` +
        `<Impression>1</Impression><Impression>2</Impression>${OUR_IMPRESSION}<AdTitle>t</AdTitle></InLine></Ad></VAST>`,
    );
  });

  test('reads empty children written <Error/> and <Impression id="…"/> as children', () => {
    const afterError =
      '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem><Error/><Creatives/></InLine></Ad></VAST>';
    assert.equal(
      assertInstrumented(afterError).markup,
      `<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem><Error/>${OUR_ERROR}${OUR_IMPRESSION}<Creatives/></InLine></Ad></VAST>`,
    );
    const aroundImpression =
      '<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem><Impression id="empty"/><Creatives/></InLine></Ad></VAST>';
    assert.equal(
      assertInstrumented(aroundImpression).markup,
      `<VAST version="4.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}<Impression id="empty"/>${OUR_IMPRESSION}` +
        '<Creatives/></InLine></Ad></VAST>',
    );
  });

  test('ignores an Impression nested below the InLine’s children, in an Extension', () => {
    const input =
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem><Extensions><Extension>' +
      '<Impression>x</Impression></Extension></Extensions></InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}<Extensions><Extension>` +
        '<Impression>x</Impression></Extension></Extensions></InLine></Ad></VAST>',
    );
  });

  test('indents them with only the spaces and tabs of the first child’s line, not a no-break space', () => {
    const input = '<VAST version="4.0"><Ad><InLine>\n\u00a0\t<AdSystem>dsp</AdSystem>\n</InLine></Ad></VAST>';
    assert.equal(
      assertInstrumented(input).markup,
      `<VAST version="4.0"><Ad><InLine>\n\u00a0\t<AdSystem>dsp</AdSystem>\n\t${OUR_ERROR}\n\t${OUR_IMPRESSION}\n</InLine></Ad></VAST>`,
    );
  });

  test('skips a CDATA section up to its ]]>, past a ]] in the script it holds', () => {
    const input = [
      '<VAST version="2.0"><Ad><InLine><AdSystem>dsp</AdSystem><Impression>i</Impression>',
      '<Creatives><Creative><NonLinearAds><NonLinear><HTMLResource>',
      '<![CDATA[<script>var x = a[b[0]];</script><div>ad</div>]]>',
      '</HTMLResource></NonLinear></NonLinearAds></Creative></Creatives></InLine></Ad></VAST>',
    ].join('');
    const result = assertInstrumented(input);
    assert.deepEqual(result.warnings, []);
    assert.equal(withoutTallyElements(result.markup), input);
    assertEveryAdElementCarriesTallyTrackers(parseStrictly(result.markup));
  });

  test('skips a DOCTYPE’s internal subset whole, tag-like text in its comments included', () => {
    const input =
      '<!DOCTYPE VAST [<!-- a > b <InLine> -->]>' +
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem></InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.equal(
      result.markup,
      '<!DOCTYPE VAST [<!-- a > b <InLine> -->]>' +
        `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}</InLine></Ad></VAST>`,
    );
  });

  test('reads nothing after a DOCTYPE whose internal subset never ends, and leaves the document untouched', () => {
    const input =
      '<!DOCTYPE VAST [<!ENTITY a "b">\n<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad></VAST>';
    const result = instrumentVast(input, TRACKERS);
    assert.ok(
      !result.ok,
      'a document past an unending DOCTYPE is left untouched with a warning, not instrumented',
    );
    assert.equal(result.markup, input);
    assert.match(result.warning, /no <InLine> or <Wrapper>/);
  });
});

describe('instrumentVast where the markup stops being cleanly nested', () => {
  const around = (sloppy: string, inserted: string) =>
    `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${inserted}${sloppy}<Impression>i</Impression></InLine></Ad></VAST>`;
  const sloppyTags: Record<string, string> = {
    'an unquoted attribute value': '<Creative id=1/>',
    'a ! in a tag name': '<X!>x</X!>',
    'an = in a tag name': '<X=1>x</X=1>',
    'an & in a tag name': '<X&1>x</X&1>',
    'attributes with no space between them': '<X a="1"b="2">x</X>',
    'an end tag that does not match': '<Foo>x</Bar>',
    'an Impression whose end tag is sloppy': '<Impression>x</ Impression>',
  };
  for (const [what, sloppy] of Object.entries(sloppyTags)) {
    test(`stops reading an InLine’s children at ${what}, and adds Tally’s elements only before it`, () => {
      const result = assertInstrumented(around(sloppy, ''));
      assert.equal(result.markup, around(sloppy, `${OUR_ERROR}${OUR_IMPRESSION}`));
      assert.match(result.warnings.join('\n'), /not well-formed XML/);
    });
  }

  test('leaves untouched a document the validator accepts whose InLine cannot be read to its end (a < in an attribute, where it stands, or a mangled CDATA opening)', () => {
    const clean = '<Ad><InLine><AdSystem>a</AdSystem></InLine></Ad>';
    for (const [unreadable, problem] of [
      [
        '<Creatives><Creative id="<1>"/></Creatives>',
        'it is not well-formed XML (a < inside an attribute value at line 1, column 114: write &lt;)',
      ],
      ['<![C DATA[x]]>', 'its markup could not be read cleanly'],
    ] as const) {
      const input = `<VAST>${clean}<Ad><InLine><AdSystem>b</AdSystem>${unreadable}</InLine></Ad></VAST>`;
      const result = instrumentVast(input, TRACKERS);
      assert.ok(!result.ok, unreadable);
      assert.equal(result.markup, input);
      assert.equal(
        result.warning,
        `VAST not instrumented: ${problem}, and its <InLine>/<Wrapper> elements cannot be located unambiguously`,
      );
    }
  });

  test('pairs an InLine with a sloppy end tag that has spaces around its slash (< / InLine>)', () => {
    const input = '<VAST><Ad><InLine><AdSystem>a</AdSystem>< / InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      `<VAST><Ad><InLine><AdSystem>a</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}< / InLine></Ad></VAST>`,
    );
    assert.match(result.warnings.join('\n'), /not well-formed XML/);
  });

  test('ends an Ad at a sloppy end tag (< /Ad>), so that the next Ad is still one of the document’s', () => {
    const ad = '<Ad><InLine><AdSystem>a</AdSystem></InLine>';
    const instrumented = `<Ad><InLine><AdSystem>a</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}</InLine>`;
    const result = assertInstrumented(`<VAST>${ad}< /Ad>${ad}</Ad></VAST>`);
    assert.equal(result.adCount, 2);
    assert.equal(result.markup, `<VAST>${instrumented}< /Ad>${instrumented}</Ad></VAST>`);
  });

  test('leaves an empty <InLine/> out of the pairing of a malformed document’s InLines', () => {
    const input = '<VAST><Ad><InLine/></Ad><Ad><InLine><AdSystem>a</AdSystem>< /InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.equal(
      result.markup,
      `<VAST><Ad><InLine/></Ad><Ad><InLine><AdSystem>a</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}< /InLine></Ad></VAST>`,
    );
  });
});

describe('instrumentVast warnings', () => {
  test('serves a VAST document sent with white space before its XML declaration without that white space, which strict parsers refuse, saying so', () => {
    const body =
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem><AdTitle>t</AdTitle></InLine></Ad></VAST>';
    const instrumented =
      `<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}` +
      '<AdTitle>t</AdTitle></InLine></Ad></VAST>';
    const declaration = '<?xml version="1.0" encoding="UTF-8"?>';
    for (const [before, kept] of [
      ['\n', ''],
      ['\r\n  \t', ''],
      ['\uFEFF\n', '\uFEFF'],
    ] as const) {
      const input = `${before}${declaration}\n${body}`;
      assert.equal(isWellFormed(input), false, JSON.stringify(before));
      const result = assertInstrumented(input);
      assert.equal(result.markup, `${kept}${declaration}\n${instrumented}`, JSON.stringify(before));
      // A byte order mark is kept, as in any VAST Tally serves (a browser's DOMParser reads past it).
      assert.equal(isWellFormed(result.markup.slice(kept.length)), true, JSON.stringify(before));
      assert.deepEqual(result.warnings, [SPACE_BEFORE_DECLARATION_WARNING], JSON.stringify(before));
    }
  });

  test('keeps white space before the root of a VAST document without an XML declaration, which XML allows', () => {
    const input = '\n  <VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem></InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(
      result.markup,
      `\n  <VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}</InLine></Ad></VAST>`,
    );
    assert.deepEqual(result.warnings, []);
  });

  test('serves a VAST document with white space before its XML declaration as it came when it cannot instrument it', () => {
    const input = '\n<?xml version="1.0"?><VAST version="3.0"><Ad><Extensions/></Ad></VAST>';
    const result = instrumentVast(input, TRACKERS);
    assert.equal(result.ok, false);
    assert.equal(result.markup, input);
  });

  test('writes VAST 1.0’s <URL> lists only for a VideoAdServingTemplate root, not for one nested in a VAST 2 extension', () => {
    const input =
      '<VAST version="2.0"><Ad><InLine><AdSystem>a</AdSystem><Extensions><Extension>' +
      '<VideoAdServingTemplate/></Extension></Extensions></InLine></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.deepEqual(result.warnings, []);
    assert.equal(
      result.markup,
      `<VAST version="2.0"><Ad><InLine><AdSystem>a</AdSystem>${OUR_ERROR}${OUR_IMPRESSION}<Extensions><Extension>` +
        '<VideoAdServingTemplate/></Extension></Extensions></InLine></Ad></VAST>',
    );
  });

  test('warns that a bare & in an attribute value, or an entity XML does not define, makes the document one strict parsers refuse', () => {
    const ad = (attribute: string, title: string) =>
      `<VAST version="3.0"><Ad id="${attribute}"><InLine><AdSystem>dsp</AdSystem>\n<AdTitle>${title}</AdTitle>` +
      '<Impression><![CDATA[https://d.example/i?a=1&b=2]]></Impression><!-- a&b --></InLine></Ad></VAST>';
    const instrumented = (attribute: string, title: string) =>
      `<VAST version="3.0"><Ad id="${attribute}"><InLine><AdSystem>dsp</AdSystem>\n<AdTitle>${title}</AdTitle>` +
      `${OUR_ERROR}<Impression><![CDATA[https://d.example/i?a=1&b=2]]></Impression>${OUR_IMPRESSION}<!-- a&b --></InLine></Ad></VAST>`;
    for (const [attribute, title, warning] of [
      [
        'https://d.example/?a=1&b=2',
        't',
        "VAST input: it is not well-formed XML (a bare & at line 1, column 51: write &amp;), which strict XML parsers, as many players use, refuse: Tally's trackers were added all the same",
      ],
      [
        'x',
        'A&nbsp;B',
        "VAST input: it is not well-formed XML (&nbsp;, an entity XML does not define, at line 2, column 11: write the character, or a numeric reference such as &#160;), which strict XML parsers, as many players use, refuse: Tally's trackers were added all the same",
      ],
    ] as const) {
      const result = assertInstrumented(ad(attribute, title));
      assert.equal(result.markup, instrumented(attribute, title));
      assert.deepEqual(result.warnings, [warning]);
    }
  });

  test('warns that a < in an attribute value Tally reads past makes the document one strict parsers refuse, where it stands', () => {
    const input =
      '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem></InLine></Ad>\n' +
      '<Extensions><Extension type="a<b"/></Extensions></VAST>';
    const result = assertInstrumented(input);
    assert.deepEqual(result.warnings, [
      "VAST input: it is not well-formed XML (a < inside an attribute value at line 2, column 31: write &lt;), which strict XML parsers, as many players use, refuse: Tally's trackers were added all the same",
    ]);
  });

  test('takes the references XML defines, and any a DOCTYPE may declare, as well-formed', () => {
    const title = '&amp;&lt;&gt;&quot;&apos;&#160;&#xA0;';
    const plain = `<VAST version="3.0"><Ad id="${title}"><InLine><AdTitle>${title}</AdTitle></InLine></Ad></VAST>`;
    assert.deepEqual(assertInstrumented(plain).warnings, []);
    const declared =
      '<!DOCTYPE VAST [<!ENTITY nbsp "&#160;">]><VAST version="3.0"><Ad><InLine><AdTitle>a&nbsp;b</AdTitle></InLine></Ad></VAST>';
    assert.deepEqual(assertInstrumented(declared).warnings, []);
  });

  test('repeats a parser message of 160 characters whole and cuts one of 161', () => {
    const withName = (length: number) =>
      `<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad><1${'x'.repeat(length - 1)}/></VAST>`;
    // "Tag '…' is an invalid name." is 26 characters around the name.
    const whole = assertInstrumented(withName(134)).warnings.join('\n');
    assert.match(whole, /\(Tag '1x{133}' is an invalid name\. at line 1/);
    const cut = assertInstrumented(withName(135)).warnings.join('\n');
    assert.match(cut, /\(Tag '1x{134}' is an invalid name…/);
  });

  test('cuts a parser message before a character of two UTF-16 units at the cut, never between its halves', () => {
    // The message's 160th unit is the first half of the emoji: kept alone, the answer's JSON would
    // hold a lone surrogate escape, which strict JSON readers (Rust's serde_json) refuse.
    const input = `<VAST><Ad><InLine><AdSystem>a</AdSystem></InLine></Ad><1${'x'.repeat(153)}😀/></VAST>`;
    const warning = assertInstrumented(input).warnings.join('\n');
    assert.match(warning, /\(Tag '1x{153}… at line 1, column \d+\)/);
    assert.doesNotMatch(warning, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  test('names a tag never closed of 40 characters whole', () => {
    const input = `<VAST><Ad><InLine><Impression>x</Impression><${'X'.repeat(40)}>`;
    const result = instrumentVast(input, TRACKERS);
    assert.ok(
      !result.ok,
      'a document with a tag never closed is left untouched with a warning, not instrumented',
    );
    assert.match(
      result.warning,
      new RegExp(`4 tags are never closed: VAST, Ad, InLine, ${'X'.repeat(40)}\\), and`),
    );
  });
});

describe('instrumentVast on markup shaped to be slow to scan', () => {
  // Timing assertions are not allowed in tests: these check the output on inputs that once took time
  // quadratic in their size (bench/vast.ts measures how the time grows, up to 1 MB).
  const LONG_RUN = 64 * 1024;
  const IN_INLINE = '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>';
  const END_INLINE = '<AdTitle>t</AdTitle></InLine></Ad></VAST>';

  test('instruments each of 5 000 ads', () => {
    const ads = 5_000;
    const ad = '<Ad><InLine><Impression>x</Impression></InLine></Ad>';
    const input = `<VAST version="3.0">${ad.repeat(ads)}</VAST>`;
    const result = assertInstrumented(input);
    assert.equal(result.adCount, ads);
    const instrumented = `<Ad><InLine>${OUR_ERROR}<Impression>x</Impression>${OUR_IMPRESSION}</InLine></Ad>`;
    assert.equal(result.markup, `<VAST version="3.0">${instrumented.repeat(ads)}</VAST>`);
  });

  test('reads an ad’s children past an Ad nested in it, which is no ad of the document and is left as it came', () => {
    const input =
      '<VAST version="4.0"><Ad><Wrapper><AdSystem>outer</AdSystem>' +
      '<Ad><InLine><Impression>inner</Impression></InLine></Ad>' +
      '<Impression>outer</Impression></Wrapper></Ad></VAST>';
    const result = assertInstrumented(input);
    assert.equal(result.adCount, 1);
    assert.equal(
      result.markup,
      `<VAST version="4.0"><Ad><Wrapper><AdSystem>outer</AdSystem>${OUR_ERROR}` +
        '<Ad><InLine><Impression>inner</Impression></InLine></Ad>' +
        `<Impression>outer</Impression>${OUR_IMPRESSION}</Wrapper></Ad></VAST>`,
    );
  });

  test('instruments only the outermost of 2 000 ads nested one in the other, the document’s one ad', () => {
    const depth = 2_000;
    const opening = '<Ad><InLine><Impression>x</Impression>';
    const closing = '</InLine></Ad>';
    const result = assertInstrumented(`<VAST>${opening.repeat(depth)}${closing.repeat(depth)}</VAST>`);
    assert.equal(result.adCount, 1);
    const instrumentedOpening = `<Ad><InLine>${OUR_ERROR}<Impression>x</Impression>${OUR_IMPRESSION}`;
    assert.equal(
      result.markup,
      `<VAST>${instrumentedOpening}${opening.repeat(depth - 1)}${closing.repeat(depth)}</VAST>`,
    );
  });

  test('reads each of a megabyte of end tags naming no element open, past a hundred thousand open, once', () => {
    // Each such end tag once looked for its element through all those open: time quadratic in the
    // markup, minutes for a megabyte.
    const ad = '<VAST version="3.0"><Ad><InLine><AdSystem>x</AdSystem>';
    const rest = `</InLine></Ad>${'<a>'.repeat(100_000)}${'</x>'.repeat(1024 ** 2 / 4)}</VAST>`;
    assert.equal(assertInstrumented(`${ad}${rest}`).markup, `${ad}${OUR_ERROR}${OUR_IMPRESSION}${rest}`);
  });

  test('leaves 8 000 InLine opening tags that are never closed untouched, with a warning', () => {
    const input = `<VAST><Ad>${'<InLine>'.repeat(8_000)}`;
    const result = instrumentVast(input, TRACKERS);
    assert.ok(!result.ok, 'InLine tags never closed are left untouched with a warning, not instrumented');
    assert.equal(result.markup, input);
    assert.match(result.warning, /cannot be located unambiguously/);
  });

  const unclosedOpenings: Record<string, string> = {
    'tag name': `<Impression${'b'.repeat(LONG_RUN)}`,
    'run of spaces after <': `<${' '.repeat(LONG_RUN)}!`,
    'run of spaces after </': `</${' '.repeat(LONG_RUN)}!`,
    'run of attributes': `<Impression${' id="1"'.repeat(LONG_RUN / 7)}`,
    'run of <Impression openings': '<Impression'.repeat(LONG_RUN / 11),
  };
  for (const [what, opening] of Object.entries(unclosedOpenings)) {
    test(`instruments an InLine holding a ${LONG_RUN / 1024} KB ${what} that no > closes, before it`, () => {
      const input = `${IN_INLINE}${opening}${END_INLINE}`;
      const result = assertInstrumented(input);
      assert.match(result.warnings.join('\n'), /not well-formed XML/);
      assert.equal(result.markup, `${IN_INLINE}${OUR_ERROR}${OUR_IMPRESSION}${opening}${END_INLINE}`);
    });
  }

  test(`skips a declaration with a ${LONG_RUN / 1024} KB name and instruments the InLine around it`, () => {
    const declaration = `<!A${'A'.repeat(LONG_RUN)}>`;
    const result = assertInstrumented(`${IN_INLINE}${declaration}${END_INLINE}`);
    assert.equal(result.markup, `${IN_INLINE}${OUR_ERROR}${OUR_IMPRESSION}${declaration}${END_INLINE}`);
  });
});

describe('wrapNurlInVast', () => {
  const nurl = 'https://dsp.example/win?price=${AUCTION_PRICE}&id=1&odd=]]>';

  test('yields a well-formed VAST 3.0 Wrapper whose VASTAdTagURI is the nurl', () => {
    const document = parseStrictly(wrapNurlInVast(nurl, TRACKERS));
    assert.equal(document.documentElement?.getAttribute('version'), '3.0');
    const [tagUri] = elementsNamed(document, 'VASTAdTagURI');
    assert.ok(tagUri, 'the Wrapper has a VASTAdTagURI');
    assert.equal(tagUri.textContent, nurl);
    assertEveryAdElementCarriesTallyTrackers(document);
  });

  test('is itself recognised as VAST', () => {
    assert.equal(templateKind(wrapNurlInVast(nurl, TRACKERS)), 'vast');
  });
});

describe('instrumentVast on damaged documents (property)', () => {
  const samples = ['v4.1_Inline_Simple.xml', 'v3.0_Wrapper_Tag-test.xml', 'v2.0_vast1RegularLinear.xml'].map(
    (file) => readFileSync(new URL(file, VAST_FIXTURES), 'utf8'),
  );
  const fragments = [
    '<',
    '>',
    '</InLine>',
    '<InLine>',
    '< /InLine>',
    '<!--',
    '-->',
    '<![CDATA[',
    ']]>',
    '"',
    '<Impression>',
    '</Impression>',
    '<Wrapper/>',
    '&',
    '<?',
    ' ',
  ];

  test('never throws, and either returns the input untouched or the input plus Tally elements only', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...fragments)), {
          maxLength: 3,
        }),
        (sample, damages) => {
          const input = damages.reduce((xml, [where, fragment]) => {
            const at = Math.floor(where * xml.length);
            return xml.slice(0, at) + fragment + xml.slice(at);
          }, sample);
          const result = instrumentVast(input, TRACKERS);
          if (!result.ok) return result.markup === input;
          const preserved = withoutTallyElements(result.markup) === input;
          return preserved && (!isWellFormed(input) || isWellFormed(result.markup));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
