import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentSecurityPolicyWarnings } from './banner-csp.js';

const TALLY = 'https://tally.example';
const meta = (policy: string) =>
  `<meta http-equiv="Content-Security-Policy" content="${policy}"><div>ad</div>`;

describe('a Content-Security-Policy the banner markup sets itself', () => {
  it('warns that one restricting images may block Tally’s pixel, naming the origin it must admit', () => {
    for (const policy of [
      "img-src 'self' https://dsp.example",
      "default-src 'none'",
      "img-src 'none'; img-src *",
    ])
      assert.deepEqual(
        contentSecurityPolicyWarnings(meta(policy), 'image', TALLY),
        [
          "bid.adm sets a Content-Security-Policy (<meta http-equiv>) whose img-src or default-src may block Tally's pixel: it loads only if that admits https://tally.example",
        ],
        policy,
      );
  });

  it('warns that one restricting scripts may block Tally’s OMID script', () => {
    assert.deepEqual(contentSecurityPolicyWarnings(meta("script-src 'self'"), 'script', TALLY), [
      "bid.adm sets a Content-Security-Policy (<meta http-equiv>) whose script-src or default-src may block Tally's OMID verification script: it loads only if that admits https://tally.example",
    ]);
    assert.deepEqual(contentSecurityPolicyWarnings(meta("img-src 'none'"), 'script', TALLY), []);
  });

  it('warns of nothing where the policy admits Tally’s origin, restricts something else, or is no policy a browser reads', () => {
    for (const adm of [
      meta('img-src *'),
      meta('img-src https:'),
      meta('default-src https://tally.example'),
      meta("img-src 'self' *.tally.example tally.example"),
      meta("style-src 'none'"),
      '<!-- <meta http-equiv="Content-Security-Policy" content="img-src \'none\'"> --><div>ad</div>',
      '<meta name="Content-Security-Policy" content="img-src \'none\'"><div>ad</div>',
      '<div>Content-Security-Policy</div>',
    ])
      assert.deepEqual(contentSecurityPolicyWarnings(adm, 'image', TALLY), [], adm);
  });
});
