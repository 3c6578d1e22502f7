import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForeignContent } from './foreign-content.js';
import type { TagAttribute } from './foreign-content.js';

/** The attributes of a start tag written plainly in a test (`<font color=red>`, `<a b="c">`). */
function attributesOf(tag: string): TagAttribute[] {
  return [...tag.matchAll(/\s([a-z-]+)(?:=["']?([^"'\s>]*))?/g)].map(([, name = '', value = '']) => ({
    name,
    value,
  }));
}

/** Reads `tags` (`<name …>`, `</name>`, `<name/>`) in order, and says after each whether the reader is in foreign content. */
function insideAfter(tags: readonly string[]): boolean[] {
  const foreign = new ForeignContent();
  return tags.map((tag) => {
    const name = /^<\/?([a-z][^\t\n\f\r />]*)/.exec(tag)?.[1] ?? '';
    if (tag.startsWith('</')) foreign.endTag(name);
    else foreign.startTag(name, attributesOf(tag), tag.endsWith('/>'));
    return foreign.inside;
  });
}

describe('telling SVG and MathML content from HTML, tag by tag', () => {
  it('enters at <svg> or <math> and leaves at its end tag, not at a self-closing one', () => {
    assert.deepEqual(insideAfter(['<svg>', '<g>', '</g>', '</svg>']), [true, true, true, false]);
    assert.deepEqual(insideAfter(['<math/>', '<svg/>']), [false, false]);
    assert.deepEqual(insideAfter(['<svg>', '<svg>', '</svg>', '</svg>']), [true, true, true, false]);
  });

  it('leaves at an HTML tag such as <p> or <img>, at </p> and </br>, and at <font> only with color, face or size', () => {
    assert.deepEqual(insideAfter(['<svg>', '<p>']), [true, false]);
    assert.deepEqual(insideAfter(['<math>', '<img src=x>']), [true, false]);
    assert.deepEqual(insideAfter(['<svg>', '</p>']), [true, false]);
    assert.deepEqual(insideAfter(['<svg>', '</br>']), [true, false]);
    assert.deepEqual(insideAfter(['<svg>', '<font>', '<font color=red>']), [true, true, false]);
    assert.deepEqual(insideAfter(['<svg>', '<font data-size=1>']), [true, true]);
  });

  it('reads HTML inside <foreignObject>, <desc>, <title> and MathML’s text elements, and <annotation-xml> of HTML', () => {
    for (const [root, point] of [
      ['<svg>', '<foreignobject>'],
      ['<svg>', '<desc>'],
      ['<svg>', '<title>'],
      ['<math>', '<mtext>'],
      ['<math>', '<mi>'],
      ['<math>', '<annotation-xml encoding="text/html">'],
      ['<math>', "<annotation-xml encoding='application/xhtml+xml'>"],
    ] as const) {
      assert.deepEqual(insideAfter([root, point, '<svg>', '</svg>']), [true, false, true, false], point);
    }
    assert.deepEqual(insideAfter(['<math>', '<annotation-xml>']), [true, true]);
    assert.deepEqual(insideAfter(['<math>', '<annotation-xml encoding="image/svg+xml">']), [true, true]);
    // <title> holds HTML in SVG only; in MathML it is one more MathML element.
    assert.deepEqual(insideAfter(['<math>', '<title>']), [true, true]);
  });

  it('says which start tags stand in SVG or MathML content: not the <svg> that opens it, nor a tag that ends it', () => {
    const foreign = new ForeignContent();
    assert.equal(foreign.startTag('svg', [], false), false);
    assert.equal(foreign.startTag('style', [], false), true);
    assert.equal(foreign.startTag('div', [], false), false);
    assert.equal(foreign.startTag('style', [], false), false);
  });

  it('leaves at the end tag of an HTML element open around it, skips one that matches nothing open, and stops at a special element', () => {
    assert.deepEqual(insideAfter(['<div>', '<svg>', '<circle>', '</div>']), [false, true, true, false]);
    assert.deepEqual(insideAfter(['<div>', '<svg>', '</span>']), [false, true, true]);
    assert.deepEqual(insideAfter(['<svg>', '<desc>', '<div>', '</desc>', '</div>']), [
      true,
      false,
      false,
      false,
      false,
    ]);
    assert.deepEqual(insideAfter(['<svg>', '</body>']), [true, true]);
  });

  it('reads SVG inside MathML’s annotation-xml as SVG, whose <desc> holds HTML', () => {
    assert.deepEqual(insideAfter(['<math>', '<annotation-xml>', '<svg>', '<desc>']), [
      true,
      true,
      true,
      false,
    ]);
  });
});
