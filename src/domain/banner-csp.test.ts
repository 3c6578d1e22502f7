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

  it('matches Tally’s URL against a source as Chromium does: any host for *, its scheme’s default port written out, a path', () => {
    // As Chromium loaded or blocked https://tally.example/n/tok under each.
    const pixel = 'https://tally.example/n/tok';
    for (const admitting of [
      'https://*',
      'https://tally.example:443',
      'tally.example:443',
      'https://tally.example/n/',
      'https://tally.example/',
    ])
      assert.deepEqual(
        contentSecurityPolicyWarnings(meta(`img-src ${admitting}`), 'image', pixel),
        [],
        admitting,
      );
    for (const blocking of [
      'https://tally.example/other/',
      'https://tally.example/n',
      'https://tally.example:8443',
    ])
      assert.equal(
        contentSecurityPolicyWarnings(meta(`img-src ${blocking}`), 'image', pixel).length,
        1,
        blocking,
      );
  });

  it('reads the attributes of each of a megabyte of <meta> tags once, not the whole markup for each', () => {
    // Each tag's attributes were once read from the whole markup lower-cased again: time quadratic
    // in the number of tags, minutes for a megabyte.
    const metas = '<META NAME=X>'.repeat(Math.ceil(1024 ** 2 / 13));
    assert.equal(
      contentSecurityPolicyWarnings(`${metas}${meta("img-src 'none'")}`, 'image', TALLY).length,
      1,
    );
  });

  it('warns of a policy where a browser enforces it, in the head, not after text or an element that starts the body', () => {
    // As Chromium read each, the ad written into an iframe as ad servers write one.
    const policy = `<meta http-equiv="Content-Security-Policy" content="img-src 'none'">`;
    const enforced = [
      '<!doctype html><!-- c --> \n',
      '<html><head><title>t</title></head>',
      '<head></head>',
      '<script>var a = "<p>x</p>"</script><style>p{}</style><link rel="preload">',
      '<noscript><p>x</p></noscript>',
      '<template><p>x</p></template>',
    ];
    for (const before of enforced)
      assert.equal(contentSecurityPolicyWarnings(`${before}${policy}`, 'image', TALLY).length, 1, before);
    const ignored = [
      '<div>x</div>',
      'text',
      '<svg></svg>',
      '<html><head></head><body>',
      '<p>x</p><head>',
      '</body>',
    ];
    for (const before of ignored)
      assert.deepEqual(contentSecurityPolicyWarnings(`${before}${policy}`, 'image', TALLY), [], before);
    // A template's content is inert: its policy is none.
    assert.deepEqual(contentSecurityPolicyWarnings(`<template>${policy}</template>`, 'image', TALLY), []);
  });
});
