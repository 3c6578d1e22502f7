import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bannerShapeWarnings } from './banner-shape.js';

const URL_WARNING =
  "bid.adm is a URL, not HTML markup: a page shows it as text, and one loading it (as an iframe's src) gets a URL that no longer works, Tally's tags following it; send markup instead, such as an <iframe> that loads the URL";
const JSON_WARNING =
  'bid.adm is a JSON string, quotes and all (its markup JSON-encoded twice): a page shows its quotes and escapes as text; decode it once before registering the win';
const ESCAPED_WARNING =
  'bid.adm holds no tag but HTML-escaped ones (&lt;): a page shows them as text; unescape the markup before registering the win';

describe('banner markup that is no HTML markup', () => {
  it('warns of markup that is only a URL, which Tally’s tags would turn into one that no longer works', () => {
    for (const adm of ['https://dsp.example/ad.html?id=1', '  //dsp.example/ad\n', 'HTTP://DSP.EXAMPLE/a'])
      assert.deepEqual(bannerShapeWarnings(adm), [URL_WARNING], adm);
  });

  it('warns of markup JSON-encoded twice, a quoted string a page would show as text', () => {
    for (const adm of ['"<div>ad<\\/div>"', ' "\\u003cdiv\\u003ead\\u003c/div\\u003e" '])
      assert.deepEqual(bannerShapeWarnings(adm), [JSON_WARNING], adm);
  });

  it('warns of markup whose tags are all HTML-escaped, which a page would show as text', () => {
    assert.deepEqual(bannerShapeWarnings('&lt;div&gt;ad&lt;/div&gt;'), [ESCAPED_WARNING]);
  });

  it('warns of nothing in markup, a URL or quotes inside it or text without a tag included', () => {
    for (const adm of [
      '<div>ad</div>',
      '<a href="https://dsp.example/c"><img src="https://dsp.example/a.png"></a>',
      'https://dsp.example/ad <b>now</b>',
      '"quoted" <b>ad</b> "text"',
      '"not json',
      'Buy now &amp; save',
      '<p>a &lt; b</p>',
      '',
    ])
      assert.deepEqual(bannerShapeWarnings(adm), [], adm);
  });
});
