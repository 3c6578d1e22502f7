import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkRedirectTarget, isUnreplacedPlaceholder, parseTrackerHit } from './tracker-hit.js';

const OPEN = { enabled: false, domains: [] } as const;

describe('parseTrackerHit', () => {
  it('reads the seed tracker with every parameter filled', () => {
    assert.deepEqual(
      parseTrackerHit('id=2766&cachebuster=839201&ancost=0.0025&t=2&redir=https://landing.example/page'),
      {
        id: 2766,
        code: undefined,
        accountId: undefined,
        memberMalformed: false,
        pixelType: 'image',
        cachebuster: '839201',
        cachebusterMissing: false,
        ancostMicros: 2_500,
        ancostMalformed: false,
        preview: false,
        redirect: 'https://landing.example/page',
      },
    );
  });

  it("reads a preview render: preview=1 (Xandr's ${IS_PREVIEW}) or a value filled with OpenRTB's AUDIT, before redir", () => {
    for (const query of [
      'id=1&preview=1',
      'id=1&cachebuster=AUDIT',
      'id=1&ancost=AUDIT&redir=https://x.example/',
    ]) {
      assert.equal(parseTrackerHit(query).preview, true, query);
    }
    for (const query of [
      'id=1&preview=0',
      'id=1&cachebuster=123',
      // The first value of a repeated parameter wins, as for every other parameter.
      'id=1&preview=0&preview=1',
      // The target is the redirect's own, taken as it stands.
      'id=1&redir=https://x.example/?preview=1&c=AUDIT',
      // A tracker's code is its name, not a macro.
      'code=AUDIT',
    ]) {
      assert.equal(parseTrackerHit(query).preview, false, query);
    }
  });

  it('accepts the query with its leading question mark', () => {
    assert.equal(parseTrackerHit('?id=5').id, 5);
  });

  it('answers an image unless t=1 asks for JavaScript', () => {
    assert.equal(parseTrackerHit('id=1').pixelType, 'image');
    assert.equal(parseTrackerHit('id=1&t=2').pixelType, 'image');
    assert.equal(parseTrackerHit('id=1&t=1').pixelType, 'javascript');
    assert.equal(parseTrackerHit('id=1&t=7').pixelType, 'image');
  });

  it('reads a custom code instead of an id, and the optional member', () => {
    const hit = parseTrackerHit('code=spring%20sale&member=42');
    assert.equal(hit.id, undefined);
    assert.equal(hit.code, 'spring sale');
    assert.equal(hit.accountId, 42);
    assert.equal(hit.memberMalformed, false);
    assert.equal(parseTrackerHit('code=x').memberMalformed, false);
  });

  it('says when member= is given but is no positive integer', () => {
    for (const member of ['0', '-2', '2x', '', '%202', '99999999999999999']) {
      const hit = parseTrackerHit(`code=x&member=${member}`);
      assert.deepEqual([hit.accountId, hit.memberMalformed], [undefined, true], member);
    }
  });

  it('ignores ids that are not positive integers', () => {
    for (const id of ['0', '-3', '1.5', 'abc', '', '99999999999999999', '1e3', '9007199254740993']) {
      assert.equal(parseTrackerHit(`id=${id}`).id, undefined, id);
    }
  });

  it('has no code when code= is empty, so the id names the tracker', () => {
    const hit = parseTrackerHit('code=&id=4');
    assert.equal(hit.code, undefined);
    assert.equal(hit.id, 4);
  });

  it('reads a URL copied out of an HTML tag, its & still written &amp;, as the URL it stands for', () => {
    const hit = parseTrackerHit(
      'id=2766&amp;cachebuster=839201&amp;ancost=0.0025&amp;t=1&amp;redir=https://landing.example/?a=1&b=2',
    );
    assert.equal(hit.id, 2766);
    assert.equal(hit.cachebuster, '839201');
    assert.equal(hit.cachebusterMissing, false);
    assert.equal(hit.ancostMicros, 2500);
    assert.equal(hit.pixelType, 'javascript');
    assert.equal(hit.redirect, 'https://landing.example/?a=1&b=2');
    assert.equal(parseTrackerHit('id=3&amp;redir=https%3A%2F%2Fl.example%2F').redirect, 'https://l.example/');
    // The target's own & were escaped with the rest; a target after a plain & is taken as it stands.
    assert.equal(
      parseTrackerHit('id=1&amp;redir=https://l.example/?a=1&amp;utm_source=x').redirect,
      'https://l.example/?a=1&utm_source=x',
    );
    assert.equal(
      parseTrackerHit('id=1&redir=https://l.example/?q=a&amp;b').redirect,
      'https://l.example/?q=a&amp;b',
    );
  });

  it('takes the first value of a repeated parameter', () => {
    assert.equal(parseTrackerHit('id=1&id=2').id, 1);
  });

  describe('cachebuster', () => {
    it('flags a missing cachebuster', () => {
      const hit = parseTrackerHit('id=1');
      assert.equal(hit.cachebuster, undefined);
      assert.equal(hit.cachebusterMissing, true);
    });

    for (const raw of [
      '',
      '[CACHEBUSTER]',
      '%5BCACHEBUSTER%5D',
      '${CACHEBUSTER}',
      '$%7BCACHEBUSTER%7D',
      '%%CACHEBUSTER%%',
      '%25%25CACHEBUSTER%25%25',
      '%n',
      '[timestamp]',
    ]) {
      it(`treats cachebuster=${raw} as no cachebuster`, () => {
        const hit = parseTrackerHit(`id=1&cachebuster=${raw}&t=2`);
        assert.equal(hit.cachebuster, undefined);
        assert.equal(hit.cachebusterMissing, true);
      });
    }

    it('keeps a real cachebuster, decoded', () => {
      assert.equal(parseTrackerHit('id=1&cachebuster=a%2Bb+c').cachebuster, 'a+b c');
    });
  });

  describe('ancost', () => {
    it('reads the largest ancost, 999999.999999', () => {
      assert.equal(parseTrackerHit('id=1&ancost=999999.999999').ancostMicros, 999_999_999_999);
    });

    it('reads an ancost of zero', () => {
      const hit = parseTrackerHit('id=1&ancost=0');
      assert.equal(hit.ancostMicros, 0);
      assert.equal(hit.ancostMalformed, false);
    });

    it('reads an ancost written without a whole part', () => {
      const hit = parseTrackerHit('id=1&ancost=.5');
      assert.equal(hit.ancostMicros, 500_000);
      assert.equal(hit.ancostMalformed, false);
    });

    it('reads an ancost written with zeros past its sixth decimal as the amount it is', () => {
      for (const [raw, micros] of [
        ['1.50000000', 1_500_000],
        ['0.0025000000000', 2_500],
        ['999999.9999990', 999_999_999_999],
      ] as const) {
        const hit = parseTrackerHit(`id=1&ancost=${raw}`);
        assert.equal(hit.ancostMicros, micros, raw);
        assert.equal(hit.ancostMalformed, false, raw);
      }
    });

    it('rounds an ancost with more decimals than six to the micro, half up, as a cost per impression from a CPM has them', () => {
      for (const [raw, micros] of [
        // A 1.2345 CPM's cost of one impression.
        ['0.0012345', 1_235],
        ['0.00123449', 1_234],
        ['1.0000001', 1_000_000],
        ['.0000005', 1],
        ['0.0000004999', 0],
        ['999999.9999994', 999_999_999_999],
      ] as const) {
        const hit = parseTrackerHit(`id=1&ancost=${raw}`);
        assert.equal(hit.ancostMicros, micros, raw);
        assert.equal(hit.ancostMalformed, false, raw);
      }
    });

    for (const raw of [
      '1000000',
      '1000000.0000000',
      '999999.9999995',
      '-1',
      '1,5',
      'abc',
      '1e3',
      ' 1',
      '.',
    ]) {
      it(`records ancost=${raw} as malformed and missing`, () => {
        const hit = parseTrackerHit(`id=1&ancost=${raw}`);
        assert.equal(hit.ancostMicros, undefined);
        assert.equal(hit.ancostMalformed, true);
      });
    }

    it('treats a missing, empty or placeholder ancost as not given, not malformed', () => {
      for (const query of ['id=1', 'id=1&ancost=', 'id=1&ancost=[ANCOST]', 'id=1&ancost=%5BANCOST%5D']) {
        const hit = parseTrackerHit(query);
        assert.equal(hit.ancostMicros, undefined, query);
        assert.equal(hit.ancostMalformed, false, query);
      }
    });
  });

  describe('redir', () => {
    it('takes everything after redir= as the target, with its own ? and &', () => {
      const hit = parseTrackerHit('id=1&cachebuster=7&redir=https://shop.example/p?a=1&b=2&cachebuster=9');
      assert.equal(hit.redirect, 'https://shop.example/p?a=1&b=2&cachebuster=9');
      assert.equal(hit.cachebuster, '7');
    });

    it('takes a target that is the only parameter', () => {
      assert.equal(parseTrackerHit('redir=http://a.example/').redirect, 'http://a.example/');
    });

    it('does not mistake a parameter ending in redir for redir', () => {
      const hit = parseTrackerHit('id=1&xredir=https://no.example/&redir=https://yes.example/');
      assert.equal(hit.redirect, 'https://yes.example/');
    });

    it('cuts at the first redir=, so a later redir= belongs to the target', () => {
      assert.equal(
        parseTrackerHit('id=1&redir=https://a.example/?redir=https://b.example/').redirect,
        'https://a.example/?redir=https://b.example/',
      );
    });

    it('decodes a percent-encoded target once', () => {
      assert.equal(
        parseTrackerHit('id=1&redir=https%3A%2F%2Fshop.example%2Fp%3Fq%3D%2520x%26y%3D1').redirect,
        'https://shop.example/p?q=%20x&y=1',
      );
      assert.equal(parseTrackerHit('id=1&redir=HTTP%3a%2F%2Fa.example%2F').redirect, 'HTTP://a.example/');
    });

    it('leaves an unencoded target exactly as it stands, escapes included', () => {
      assert.equal(
        parseTrackerHit('id=1&redir=https://a.example/?q=%20x+y').redirect,
        'https://a.example/?q=%20x+y',
      );
    });

    it('keeps malformed escapes when decoding an encoded target', () => {
      assert.equal(
        parseTrackerHit('id=1&redir=https%3A%2F%2Fa.example%2F%ZZ').redirect,
        'https://a.example/%ZZ',
      );
    });

    it('has no redirect when redir is absent or empty', () => {
      assert.equal(parseTrackerHit('id=1').redirect, undefined);
      assert.equal(parseTrackerHit('id=1&redir=').redirect, undefined);
    });

    it('reads the parameters before redir even when the target has look-alikes', () => {
      const hit = parseTrackerHit('id=3&ancost=1.5&redir=https://a.example/?id=4&ancost=9');
      assert.equal(hit.id, 3);
      assert.equal(hit.ancostMicros, 1_500_000);
    });
  });

  it('never throws, whatever the query (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (query) => {
        parseTrackerHit(query);
      }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom('id=', 'redir=', '&', '%', '%2', '%E2%82', '?', '=', 'http%3A', 'x', '\uD800', '+'),
        ),
        (pieces) => {
          parseTrackerHit(pieces.join(''));
        },
      ),
    );
  });

  it('returns an unencoded target exactly (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (target) => {
        fc.pre(!/^https?%3A/i.test(target));
        return parseTrackerHit(`id=1&cachebuster=5&redir=${target}`).redirect === target;
      }),
    );
  });
});

describe('isUnreplacedPlaceholder', () => {
  for (const value of [
    '',
    '  ',
    '[CACHEBUSTER]',
    '[cachebuster]',
    '${CACHEBUSTER}',
    '%%CACHEBUSTER%%',
    '%%CACHEBUSTER%',
    '%CACHEBUSTER%',
    '%n',
    '%N',
    '%%',
    '[timestamp]',
    '%%RANDOM%%',
    '[REDIRECT_URL]',
    '%%DEST_URL%%',
    '%u',
    '%eaid!',
    '#{CUSTOM}',
    '{{cachebuster}}',
    'undefined',
    'null',
    'NaN',
  ]) {
    it(`recognises ${JSON.stringify(value)} as an unreplaced placeholder`, () => {
      assert.equal(isUnreplacedPlaceholder(value), true);
    });
  }

  for (const value of [
    '839201',
    'a1b2c3',
    '123[X]',
    '%',
    '1700000000000',
    'https://a.example/',
    'nullable',
    '0',
  ]) {
    it(`takes ${JSON.stringify(value)} as a real value`, () => {
      assert.equal(isUnreplacedPlaceholder(value), false);
    });
  }
});

describe('checkRedirectTarget', () => {
  it('accepts an absolute https URL and returns its serialisation', () => {
    assert.deepEqual(checkRedirectTarget('https://Shop.Example/p?a=1&b=2', OPEN), {
      ok: true,
      url: 'https://shop.example/p?a=1&b=2',
    });
  });

  it('accepts http and keeps the query as given', () => {
    assert.deepEqual(checkRedirectTarget('http://a.example/?q=%20x', OPEN), {
      ok: true,
      url: 'http://a.example/?q=%20x',
    });
  });

  it('percent-encodes non-ASCII so the header stays valid', () => {
    const result = checkRedirectTarget('https://bücher.example/straße?q=ü', OPEN);
    assert.deepEqual(result, { ok: true, url: 'https://xn--bcher-kva.example/stra%C3%9Fe?q=%C3%BC' });
  });

  for (const target of [
    'javascript:alert(1)',
    'data:text/html,hi',
    'ftp://a.example/',
    '//a.example/',
    '/relative',
    'https:a.example',
    ' https://a.example/',
    'https://',
  ]) {
    it(`refuses ${JSON.stringify(target)}`, () => {
      assert.equal(checkRedirectTarget(target, OPEN).ok, false);
    });
  }

  for (const target of ['[REDIRECT_URL]', '%%DEST_URL%%', '%u', '${CLICK_URL}', '']) {
    it(`refuses the unreplaced placeholder ${JSON.stringify(target)}`, () => {
      const result = checkRedirectTarget(target, OPEN);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.reason, /placeholder/);
    });
  }

  for (const target of [
    'https://a.example/\r\nSet-Cookie: x=1',
    'https://a.example/\nx',
    'https://a.example/\tx',
    'https://a.example/\u0000',
    'https://a.example/\u0085',
    'https://a.example/\u2028',
    'https://a.example/\u007f',
    'https://a.example/\u009f',
  ]) {
    it(`refuses control characters in ${JSON.stringify(target)}`, () => {
      const result = checkRedirectTarget(target, OPEN);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.reason, /control characters/);
    });
  }

  it('refuses credentials in the URL', () => {
    assert.equal(checkRedirectTarget('https://bank.example@evil.example/', OPEN).ok, false);
    assert.equal(checkRedirectTarget('https://user:pw@a.example/', OPEN).ok, false);
    assert.equal(checkRedirectTarget('https://:pw@a.example/', OPEN).ok, false);
  });

  describe('with the allow-list enabled', () => {
    const list = { enabled: true, domains: ['Shop.Example', '.partner.example', 'bücher.example'] };

    it('allows a listed domain and its subdomains, in any case', () => {
      assert.equal(checkRedirectTarget('https://shop.example/', list).ok, true);
      assert.equal(checkRedirectTarget('https://WWW.shop.example./x', list).ok, true);
      assert.equal(checkRedirectTarget('https://a.b.partner.example/', list).ok, true);
      assert.equal(checkRedirectTarget('https://xn--bcher-kva.example/', list).ok, true);
    });

    it('reads a wildcard entry *.domain as the domain and its subdomains', () => {
      const wildcard = { enabled: true, domains: ['*.cdn.example'] };
      assert.equal(checkRedirectTarget('https://cdn.example/', wildcard).ok, true);
      assert.equal(checkRedirectTarget('https://img.cdn.example/', wildcard).ok, true);
      assert.equal(checkRedirectTarget('https://evilcdn.example/', wildcard).ok, false);
    });

    it('refuses look-alike hosts', () => {
      for (const target of [
        'https://evilshop.example/',
        'https://shop.example.evil.example/',
        'https://shop.example@evil.example/',
        'https://evil.example/?shop.example',
        'https://evil.example\\@shop.example/',
      ]) {
        assert.equal(checkRedirectTarget(target, list).ok, false, target);
      }
    });

    it('allows exactly the hosts that are a listed domain or end in a dot and one (property)', () => {
      const label = fc.constantFrom('a', 'b', 'ab', 'shop', 'x-1');
      const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.'));
      fc.assert(
        fc.property(name, fc.array(name, { maxLength: 6 }), (host, domains) => {
          const listed = domains.some((domain) => host === domain || host.endsWith(`.${domain}`));
          const answer = checkRedirectTarget(`https://${host}/`, { enabled: true, domains }).ok;
          return answer === listed;
        }),
      );
    });

    it('reads a listed domain without its surrounding spaces and trailing dot, and an empty one as listing no host', () => {
      const loose = { enabled: true, domains: ['  shop.example ', 'partner.example.'] };
      assert.equal(checkRedirectTarget('https://www.shop.example/', loose).ok, true);
      assert.equal(checkRedirectTarget('https://partner.example/', loose).ok, true);
      const empty = { enabled: true, domains: ['*.', '.', ''] };
      // shop.example.. is shop.example. once its own trailing dot is dropped: under no domain.
      assert.equal(checkRedirectTarget('https://shop.example../', empty).ok, false);
    });

    it('allows a host with an empty label (x..shop.example), as the URL parser keeps it, under its listed domain', () => {
      const listed = { enabled: true, domains: ['shop.example'] };
      assert.equal(checkRedirectTarget('https://x..shop.example/', listed).ok, true);
    });

    it('refuses everything when the list is empty', () => {
      assert.equal(checkRedirectTarget('https://shop.example/', { enabled: true, domains: [] }).ok, false);
    });

    it('ignores the list when it is switched off', () => {
      assert.equal(checkRedirectTarget('https://anything.example/', { ...list, enabled: false }).ok, true);
    });
  });

  it('always refuses a target containing CR or LF (property)', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.constantFrom('\r', '\n', '\r\n'),
        fc.string(),
        (before, breakChars, after) => {
          return !checkRedirectTarget(`https://a.example/${before}${breakChars}${after}`, OPEN).ok;
        },
      ),
    );
  });

  it('only ever returns printable ASCII http(s) URLs (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (tail) => {
        const result = checkRedirectTarget(`https://a.example/${tail}`, OPEN);
        return !result.ok || /^https:\/\/[\x21-\x7e]+$/.test(result.url);
      }),
    );
  });
});
