import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { framesetWarnings } from './banner-frameset.js';

const WARNING =
  "bid.adm is a frameset document (<frameset>): a browser shows only its frames and ignores the tags after it, Tally's among them, so the impression never counts; send markup that loads the frame's page in an <iframe> instead";

const FRAMES = '<frameset cols="100%"><frame src="https://dsp.example/ad.html"></frameset>';

describe('banner markup that is a frameset document', () => {
  it('warns of a <frameset> a browser takes for the document, whose frames alone it shows', () => {
    for (const adm of [
      FRAMES,
      `<!doctype html><html><head><title>ad</title><meta charset="utf-8"></head>${FRAMES}</html>`,
      `<div></div><span></span>${FRAMES}`,
      `<script>var ad = "<p>x</p>";</script>\n ${FRAMES}`,
      `<!-- ad --><input type=HIDDEN name=x>${FRAMES}`,
      '<FRAMESET rows="*"><frame src="https://dsp.example/a">',
    ])
      assert.deepEqual(framesetWarnings(adm), [WARNING], adm);
  });

  it('reads the attributes of each of a megabyte of hidden inputs once, not the whole markup for each', () => {
    // Each input's attributes were once read from the whole markup lower-cased again: time
    // quadratic in the number of inputs, minutes for a megabyte.
    const inputs = '<INPUT TYPE=Hidden>'.repeat(Math.ceil(1024 ** 2 / 19));
    assert.deepEqual(framesetWarnings(`${inputs}${FRAMES}`), [WARNING]);
  });

  it('warns of nothing where text, <body> or a shown element comes first, or the word is no tag', () => {
    for (const adm of [
      `ad${FRAMES}`,
      `&nbsp;${FRAMES}`,
      `<body>${FRAMES}`,
      `<img src="https://dsp.example/a.png">${FRAMES}`,
      `<input name=q>${FRAMES}`,
      `<table></table>${FRAMES}`,
      `</br>${FRAMES}`,
      `<svg><frameset></frameset></svg>`,
      '<!-- <frameset> --><p>ad</p>',
      '<script>document.write("<frameset>")</script><p>ad</p>',
      '<p>ad</p>',
    ])
      assert.deepEqual(framesetWarnings(adm), [], adm);
  });
});
