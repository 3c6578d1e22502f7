import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DOMParser } from '@xmldom/xmldom';
import type { ExportOptions, PlaceholderSyntax } from './tag-export.js';
import { AD_SERVER_MACROS, PLACEHOLDER_SYNTAXES, trackerTag } from './tag-export.js';
import { checkRedirectTarget, isUnreplacedPlaceholder, parseTrackerHit } from './tracker-hit.js';
import { fixtureText } from '../../test/support/fixtures.js';

const BASE = 'https://tally.example.com';
const ALL: ExportOptions = {
  type: 'pixel',
  secure: true,
  params: ['cachebuster', 'ancost', 'redir'],
  placeholders: 'xandr',
};

/** The URL a browser loads from the tag: the src attribute with HTML entities decoded. */
function browserSrc(tag: string, element: 'img' | 'script'): string {
  const doc = new DOMParser().parseFromString(`<div>${tag}</div>`, 'text/html');
  const node = doc.getElementsByTagName(element)[0];
  assert.ok(node, `no <${element}> in ${tag}`);
  return node.getAttribute('src') ?? '';
}

describe('trackerTag', () => {
  it('exports the seed pixel with Xandr placeholders, redir last after t', () => {
    assert.equal(
      trackerTag('impression', 2766, BASE, ALL),
      '<!-- Tally impression tracker: do not modify --> ' +
        '<img src="https://tally.example.com/imptr?id=2766&amp;cachebuster=[CACHEBUSTER]&amp;ancost=[ANCOST]&amp;t=2&amp;redir=[REDIRECT_URL]" width="1" height="1" alt="" />' +
        ' <!-- end -->',
    );
  });

  it('yields the plain URL once a browser decodes the attribute', () => {
    assert.equal(
      browserSrc(trackerTag('impression', 2766, BASE, ALL), 'img'),
      'https://tally.example.com/imptr?id=2766&cachebuster=[CACHEBUSTER]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
    );
  });

  it('exports a JavaScript tag with t=1', () => {
    const tag = trackerTag('impression', 5, BASE, { ...ALL, type: 'javascript', params: ['cachebuster'] });
    assert.equal(
      tag,
      '<!-- Tally impression tracker: do not modify --> ' +
        '<script type="text/javascript" src="https://tally.example.com/imptr?id=5&amp;cachebuster=[CACHEBUSTER]&amp;t=1"></script>' +
        ' <!-- end -->',
    );
    assert.equal(
      browserSrc(tag, 'script'),
      'https://tally.example.com/imptr?id=5&cachebuster=[CACHEBUSTER]&t=1',
    );
  });

  it('puts redir last and each parameter once, whatever order they were asked in', () => {
    const src = browserSrc(
      trackerTag('impression', 9, BASE, { ...ALL, params: ['redir', 'ancost', 'redir', 'cachebuster'] }),
      'img',
    );
    assert.equal(
      src,
      `${BASE}/imptr?id=9&cachebuster=[CACHEBUSTER]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]`,
    );
  });

  it('includes only the parameters asked for', () => {
    assert.equal(
      browserSrc(trackerTag('impression', 9, BASE, { ...ALL, params: [] }), 'img'),
      `${BASE}/imptr?id=9&t=2`,
    );
    assert.equal(
      browserSrc(trackerTag('impression', 9, BASE, { ...ALL, params: ['ancost'] }), 'img'),
      `${BASE}/imptr?id=9&ancost=[ANCOST]&t=2`,
    );
  });

  it('forces https when secure, and keeps the base scheme otherwise', () => {
    const http = 'http://tally.example.com/';
    assert.match(
      browserSrc(trackerTag('impression', 1, http, { ...ALL, secure: true }), 'img'),
      /^https:\/\/tally\.example\.com\/imptr\?/,
    );
    assert.match(
      browserSrc(trackerTag('impression', 1, http, { ...ALL, secure: false }), 'img'),
      /^http:\/\/tally\.example\.com\/imptr\?/,
    );
    assert.match(browserSrc(trackerTag('impression', 1, BASE, { ...ALL, secure: false }), 'img'), /^https:/);
  });

  it('keeps a path prefix of the base URL', () => {
    assert.equal(
      trackerTag('click', 3, 'https://ads.example/tally/', { ...ALL, params: [] }),
      'https://ads.example/tally/clktr?id=3',
    );
  });

  it('refuses a base URL that is not an absolute http(s) URL without query', () => {
    for (const base of [
      'tally.example.com',
      'ftp://tally.example.com',
      'https://tally.example.com/?a=1',
      '',
    ]) {
      assert.throws(() => trackerTag('impression', 1, base, ALL), RangeError, base);
    }
    assert.throws(() => trackerTag('impression', 0, BASE, ALL), RangeError);
  });

  it('refuses a tracker id that is not a safe positive integer', () => {
    for (const id of [1.5, 2 ** 53, Number.NaN, -3]) {
      assert.throws(() => trackerTag('impression', id, BASE, ALL), RangeError, String(id));
    }
    assert.match(trackerTag('click', 2 ** 53 - 1, BASE, ALL), /\/clktr\?id=9007199254740991&/);
  });

  it('refuses a base URL with a fragment', () => {
    for (const base of ['https://tally.example.com#x', 'https://tally.example.com/tally#x']) {
      assert.throws(() => trackerTag('impression', 1, base, ALL), RangeError, base);
    }
  });

  it('takes the scheme in any case, forcing https on HTTP too, and drops every trailing slash', () => {
    assert.equal(
      trackerTag('click', 3, 'HTTP://tally.example.com', { ...ALL, params: [] }),
      'https://tally.example.com/clktr?id=3',
    );
    assert.equal(
      trackerTag('click', 3, 'HTTPS://tally.example.com', { ...ALL, secure: false, params: [] }),
      'HTTPS://tally.example.com/clktr?id=3',
    );
    assert.equal(
      trackerTag('click', 3, 'https://ads.example/tally//', { ...ALL, params: [] }),
      'https://ads.example/tally/clktr?id=3',
    );
  });

  describe('VAST', () => {
    const VAST_ALL: ExportOptions = { ...ALL, type: 'vast', placeholders: 'vast' };

    /** The `<Impression>` URLs of a VAST document's first ad, as a player reads them. */
    function impressionUrls(vast: string): string[] {
      const doc = new DOMParser().parseFromString(vast, 'text/xml');
      return Array.from(doc.getElementsByTagName('Impression')).map((node) =>
        (node.textContent ?? '').trim(),
      );
    }

    it('exports an <Impression> element whose CDATA holds the URL as it stands, answered with the GIF (t=2)', () => {
      assert.equal(
        trackerTag('impression', 2766, BASE, VAST_ALL),
        '<!-- Tally impression tracker: do not modify --> ' +
          '<Impression><![CDATA[https://tally.example.com/imptr?id=2766&cachebuster=[CACHEBUSTING]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]]]></Impression>' +
          ' <!-- end -->',
      );
    });

    it('reads, pasted into the InLine of a real VAST 4.0 ad, as one more impression URL the player fires', () => {
      const vast = fixtureText('vast', 'v4.0_Inline_Simple.xml');
      const tag = trackerTag('impression', 2766, BASE, VAST_ALL);
      const withTracker = vast.replace('<InLine>', `<InLine>\n      ${tag}`);
      assert.deepEqual(impressionUrls(withTracker), [
        'https://tally.example.com/imptr?id=2766&cachebuster=[CACHEBUSTING]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
        'http://example.com/track/impression',
      ]);
    });

    it('counts a hit once the player has filled [CACHEBUSTING], and reads it unfilled as missing', () => {
      const url =
        impressionUrls(trackerTag('impression', 7, BASE, { ...VAST_ALL, params: ['cachebuster'] }))[0] ?? '';
      const filled = parseTrackerHit(url.replace('[CACHEBUSTING]', '40318275').slice(url.indexOf('?') + 1));
      assert.equal(filled.cachebuster, '40318275');
      assert.equal(filled.cachebusterMissing, false);
      assert.equal(parseTrackerHit(url.slice(url.indexOf('?') + 1)).cachebusterMissing, true);
    });

    it('exports a click tracker as its URL, as for the other types', () => {
      assert.equal(
        trackerTag('click', 44, BASE, VAST_ALL),
        trackerTag('click', 44, BASE, { ...VAST_ALL, type: 'pixel' }),
      );
    });
  });

  describe('click trackers', () => {
    it('export the tracking URL itself, unescaped and without t', () => {
      assert.equal(
        trackerTag('click', 44, BASE, ALL),
        'https://tally.example.com/clktr?id=44&cachebuster=[CACHEBUSTER]&ancost=[ANCOST]&redir=[REDIRECT_URL]',
      );
    });

    it('export the same URL for a JavaScript or pixel request', () => {
      assert.equal(
        trackerTag('click', 44, BASE, { ...ALL, type: 'javascript' }),
        trackerTag('click', 44, BASE, ALL),
      );
    });

    it('fill the landing page with the ad server destination macro where one exists', () => {
      assert.match(trackerTag('click', 44, BASE, { ...ALL, placeholders: 'gam' }), /&redir=%%DEST_URL%%$/);
      assert.match(trackerTag('click', 44, BASE, { ...ALL, placeholders: 'cm360' }), /&redir=%u$/);
      assert.match(
        trackerTag('click', 44, BASE, { ...ALL, placeholders: 'xandr_macros' }),
        /&redir=\[REDIRECT_URL\]$/,
      );
    });
  });

  describe('third-party ad server macros', () => {
    const expected: Record<PlaceholderSyntax, string> = {
      xandr: 'cachebuster=[CACHEBUSTER]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
      gam: 'cachebuster=%%CACHEBUSTER%%&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
      cm360: 'cachebuster=%n&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
      xandr_macros: 'cachebuster=${CACHEBUSTER}&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
      vast: 'cachebuster=[CACHEBUSTING]&ancost=[ANCOST]&t=2&redir=[REDIRECT_URL]',
    };

    for (const syntax of PLACEHOLDER_SYNTAXES) {
      it(`fills the impression tracker with ${syntax} placeholders, inserted literally`, () => {
        const src = browserSrc(trackerTag('impression', 7, BASE, { ...ALL, placeholders: syntax }), 'img');
        assert.equal(src, `${BASE}/imptr?id=7&${expected[syntax]}`);
      });

      it(`reads every unreplaced ${syntax} placeholder on a hit as not given`, () => {
        for (const kind of ['impression', 'click'] as const) {
          const url =
            kind === 'impression'
              ? browserSrc(trackerTag(kind, 7, BASE, { ...ALL, placeholders: syntax }), 'img')
              : trackerTag(kind, 7, BASE, { ...ALL, placeholders: syntax });
          const hit = parseTrackerHit(url.slice(url.indexOf('?')));
          assert.equal(hit.id, 7);
          assert.equal(hit.cachebusterMissing, true);
          assert.equal(hit.ancostMicros, undefined);
          assert.equal(hit.ancostMalformed, false);
          assert.equal(checkRedirectTarget(hit.redirect ?? '', { enabled: false, domains: [] }).ok, false);
        }
      });
    }

    it('has a placeholder for every parameter of every syntax that reads as unreplaced', () => {
      for (const macros of Object.values(AD_SERVER_MACROS)) {
        for (const value of Object.values(macros)) {
          if (value !== undefined) assert.ok(isUnreplacedPlaceholder(value), value);
        }
      }
    });

    it('adds preview=${IS_PREVIEW} before redir for Xandr serving the creative, which a preview render fills with 1', () => {
      const options: ExportOptions = {
        ...ALL,
        params: ['redir', 'preview', 'cachebuster'],
        placeholders: 'xandr_macros',
      };
      const src = browserSrc(trackerTag('impression', 7, BASE, options), 'img');
      assert.equal(
        src,
        `${BASE}/imptr?id=7&cachebuster=\${CACHEBUSTER}&t=2&preview=\${IS_PREVIEW}&redir=[REDIRECT_URL]`,
      );
      const click = trackerTag('click', 7, BASE, options);
      assert.equal(
        click,
        `${BASE}/clktr?id=7&cachebuster=\${CACHEBUSTER}&preview=\${IS_PREVIEW}&redir=[REDIRECT_URL]`,
      );
      const filled = (url: string, isPreview: 0 | 1): string =>
        url.replace('${CACHEBUSTER}', '2839104').replace('${IS_PREVIEW}', String(isPreview));
      for (const url of [src, click]) {
        assert.equal(parseTrackerHit(filled(url, 1).slice(url.indexOf('?') + 1)).preview, true, url);
        assert.equal(parseTrackerHit(filled(url, 0).slice(url.indexOf('?') + 1)).preview, false, url);
        assert.equal(parseTrackerHit(url.slice(url.indexOf('?') + 1)).preview, false, url);
      }
    });

    it('refuses preview for the ad servers that have no preview macro', () => {
      for (const placeholders of ['xandr', 'gam', 'cm360', 'vast'] as const) {
        assert.throws(
          () => trackerTag('impression', 7, BASE, { ...ALL, params: ['preview'], placeholders }),
          { name: 'RangeError', message: `${placeholders} has no preview macro` },
        );
      }
    });

    it('counts a hit once the ad server has replaced its macros', () => {
      const src = browserSrc(trackerTag('impression', 7, BASE, { ...ALL, placeholders: 'gam' }), 'img')
        .replace('%%CACHEBUSTER%%', '2839104')
        .replace('[ANCOST]', '0.0021')
        .replace('[REDIRECT_URL]', 'https://next.example/px?a=1&b=2');
      const hit = parseTrackerHit(src.slice(src.indexOf('?') + 1));
      assert.equal(hit.cachebuster, '2839104');
      assert.equal(hit.ancostMicros, 2_100);
      assert.equal(hit.redirect, 'https://next.example/px?a=1&b=2');
    });
  });
});
