import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ampPixelTag,
  appendToHtml,
  isAmpHtmlAd,
  omidScriptTag,
  pixelTag,
  withoutAmpVariableNames,
} from './banner.js';

const TAG = '<img src="https://tally.example/n/t">';

describe('adding Tally’s tags to HTML ad markup', () => {
  it('puts them before the document’s last </body>, else at the end of a fragment', () => {
    assert.equal(
      appendToHtml('<html><BODY><p>ad</p></BODY ></html>', [TAG]),
      `<html><BODY><p>ad</p>${TAG}</BODY ></html>`,
    );
    assert.equal(appendToHtml('<div>ad</div>', [TAG, '<b>2</b>']), `<div>ad</div>${TAG}<b>2</b>`);
  });

  it('finds </body> after characters that lower-case into two (İ), rather than one place off', () => {
    assert.equal(
      appendToHtml('<html><body><p>İndirim İstanbul</p></body></html>', [TAG]),
      `<html><body><p>İndirim İstanbul</p>${TAG}</body></html>`,
    );
  });

  it('never puts them inside a script, a comment or another raw-text element that holds </body>', () => {
    const written = '<script>document.write("<html><body><div>ad</div></body></html>");</script>';
    assert.equal(appendToHtml(written, [TAG]), `${written}${TAG}`);
    const quoted = "<script>var d='<body></body>';</script><div>x</div>";
    assert.equal(appendToHtml(quoted, [TAG]), `${quoted}${TAG}`);
    assert.equal(
      appendToHtml('<body>ad</body></html><!-- old: </body> -->', [TAG]),
      `<body>ad${TAG}</body></html><!-- old: </body> -->`,
    );
    // A "<script>" inside a quoted attribute value opens no script.
    assert.equal(
      appendToHtml('<html><body><div data-tpl="<script>">ad</div></body></html>', [TAG]),
      `<html><body><div data-tpl="<script>">ad</div>${TAG}</body></html>`,
    );
    const styled = '<body><style>/* </body> */</style><textarea></body></textarea>ad</body>';
    assert.equal(
      appendToHtml(styled, [TAG]),
      `<body><style>/* </body> */</style><textarea></body></textarea>ad${TAG}</body>`,
    );
  });

  it('never puts them inside a quoted attribute value that holds </body>, such as an iframe srcdoc document', () => {
    const framed = '<iframe srcdoc="<html><body><p>ad</p></body></html>" width="300" height="250"></iframe>';
    assert.equal(appendToHtml(framed, [TAG]), `${framed}${TAG}`);
    const titled = "<body><div title='</body>'>ad</div></body>";
    assert.equal(appendToHtml(titled, [TAG]), `<body><div title='</body>'>ad</div>${TAG}</body>`);
  });

  it('closes a start tag the markup leaves open before appending, so that the tags are not read as its attributes', () => {
    assert.equal(
      appendToHtml('<div>ad</div><img src="a.png"', [TAG]),
      `<div>ad</div><img src="a.png">${TAG}`,
    );
    assert.equal(appendToHtml('<a href="https://x', [TAG]), `<a href="https://x">${TAG}`);
    assert.equal(appendToHtml("<p title='ad", [TAG]), `<p title='ad'>${TAG}`);
    assert.equal(appendToHtml('<script src="x.js"', [TAG]), `<script src="x.js"></script>${TAG}`);
  });

  it('closes a comment or script the markup leaves open before appending, so that the tags are not read as its text', () => {
    assert.equal(appendToHtml('<body>ad<!-- </body>', [TAG]), `<body>ad<!-- </body>-->${TAG}`);
    assert.equal(appendToHtml('<body><SCRIPT>x</body>', [TAG]), `<body><SCRIPT>x</body></script>${TAG}`);
    // A document closed before the open comment takes them before its </body>.
    assert.equal(appendToHtml('<body>ad</body><!-- x', [TAG]), `<body>ad${TAG}</body><!-- x`);
  });

  it('closes an end tag the markup ends in before appending, so that the tags are not read as its name and attributes', () => {
    // A browser reads `</div<img src=…>` as one end tag named `div<img`, and `</<img …>` as a bogus comment.
    assert.equal(appendToHtml('<div>ad</div', [TAG]), `<div>ad</div>${TAG}`);
    assert.equal(appendToHtml('<div>ad</DIV title="x', [TAG]), `<div>ad</DIV title="x">${TAG}`);
    assert.equal(appendToHtml('<div>ad</', [TAG]), `<div>ad</>${TAG}`);
    assert.equal(appendToHtml('<div>ad</ x', [TAG]), `<div>ad</ x>${TAG}`);
    // Closed end tags change nothing; a `</` and no letter is a bogus comment up to the next `>`.
    assert.equal(appendToHtml('<div>ad</div ></>', [TAG]), `<div>ad</div ></>${TAG}`);
    assert.equal(appendToHtml('<body>ad</ </body>', [TAG]), `<body>ad</ </body>${TAG}`);
  });

  it('closes the end tag of a script or other text element the markup ends in, which would otherwise read the tags as text', () => {
    // `</script<img …>` is script text to a browser; `</script <img …>` an end tag with attributes.
    assert.equal(appendToHtml('<script>x()</script', [TAG]), `<script>x()</script>${TAG}`);
    assert.equal(appendToHtml('<script>x()</SCRIPT ', [TAG]), `<script>x()</SCRIPT >${TAG}`);
    assert.equal(appendToHtml('<noscript>x</noscript', [TAG]), `<noscript>x</noscript>${TAG}`);
    assert.equal(appendToHtml('<title>t</title', [TAG]), `<title>t</title>${TAG}`);
    // `</scripts>` ends no script: the script runs on to the end and is closed there.
    assert.equal(appendToHtml('<script>a("</scripts>")', [TAG]), `<script>a("</scripts>")</script>${TAG}`);
    assert.equal(appendToHtml('<script>a()</script>', [TAG]), `<script>a()</script>${TAG}`);
  });

  it('never leaves them in a <noscript>, which a browser running scripts reads as text and never renders', () => {
    const fallback =
      '<script src="https://dsp.example/ad.js"></script><noscript><img src="https://dsp.example/i">';
    assert.equal(appendToHtml(fallback, [TAG]), `${fallback}</noscript>${TAG}`);
    const document = '<html><body><p>ad</p><NOSCRIPT><p>old</body></p></NOSCRIPT></body></html>';
    assert.equal(
      appendToHtml(document, [TAG]),
      `<html><body><p>ad</p><NOSCRIPT><p>old</body></p></NOSCRIPT>${TAG}</body></html>`,
    );
  });

  it('reads <!-->, <!---> and a comment ended by --!> as a browser does, so that the tags still go before </body>', () => {
    for (const comment of ['<!-->', '<!--->', '<!-- x --!>']) {
      assert.equal(
        appendToHtml(`<body>${comment}<p>ad</p></body>`, [TAG]),
        `<body>${comment}<p>ad</p>${TAG}</body>`,
        comment,
      );
    }
    // The first of --> and --!> ends a comment.
    const first = '<body><!-- a --!> b --></body>';
    assert.equal(appendToHtml(first, [TAG]), `<body><!-- a --!> b -->${TAG}</body>`);
  });

  it('places them right after a megabyte of comments none of which --!> ends, each read up to its own -->', () => {
    // Each comment's end was once looked for as far as the markup's end (a --!> that never came):
    // time quadratic in the number of comments, minutes for a megabyte.
    for (const comment of ['<!---->', '<!--<script>-->']) {
      const comments = comment.repeat(Math.ceil(1024 ** 2 / comment.length));
      assert.equal(appendToHtml(`<body>${comments}</body>`, [TAG]), `<body>${comments}${TAG}</body>`);
    }
  });

  it('reads each end tag of a megabyte of them in SVG or HTML nested a hundred thousand deep once, not the open elements for each', () => {
    // Each </body> in SVG content once counted the SVG elements open, and each end tag matching no
    // open element looked through them all: time quadratic in the markup, minutes for a megabyte.
    const depth = 100_000;
    const svg = `<svg>${'<g>'.repeat(depth)}`;
    const ends = (tag: string) => tag.repeat(Math.ceil(1024 ** 2 / tag.length));
    assert.equal(
      appendToHtml(`${svg}${ends('</body>')}`, [TAG]),
      `${svg}${ends('</body>').slice(7)}</svg>${TAG}</body>`,
    );
    assert.equal(appendToHtml(`${svg}${ends('</x>')}`, [TAG]), `${svg}${ends('</x>')}</svg>${TAG}`);
    const spans = '<span>'.repeat(depth);
    assert.equal(appendToHtml(`${spans}${ends('</x>')}`, [TAG]), `${spans}${ends('</x>')}${TAG}`);
  });

  it('reads a script that writes a script inside <!-- --> as a browser does: the inner </script> ends only the inner one', () => {
    const legacy =
      '<html><body><script><!--\ndocument.write("<script src=\'a.js\'></script></body>");\n//--></script>' +
      '<p>ad</p></html>';
    assert.equal(appendToHtml(legacy, [TAG]), `${legacy}${TAG}`);
    // Once --> closes the comment, a <script> opens nothing and the next </script> ends the script.
    const closed = '<script><!-- --> <script></script></body>';
    assert.equal(appendToHtml(closed, [TAG]), `<script><!-- --> <script></script>${TAG}</body>`);
    // Without a nested <script>, the first </script> ends the script, comment or not.
    const plain = '<body><script><!-- x </script><p>ad</p></body>';
    assert.equal(appendToHtml(plain, [TAG]), `<body><script><!-- x </script><p>ad</p>${TAG}</body>`);
  });

  it('reads an unquoted attribute value to the next space or >, quotes and all, and a = before any name as part of a name', () => {
    assert.equal(
      appendToHtml('<body><img src=/p?u="1 width=1><p>ad</p></body>', [TAG]),
      `<body><img src=/p?u="1 width=1><p>ad</p>${TAG}</body>`,
    );
    // No space ends an unquoted value but HTML's own: a no-break space is part of it.
    assert.equal(
      appendToHtml('<body><img src=a\u00a0b="x><p>ad</p></body>', [TAG]),
      `<body><img src=a\u00a0b="x><p>ad</p>${TAG}</body>`,
    );
    assert.equal(
      appendToHtml('<body><div ="x>ad</div></body>', [TAG]),
      `<body><div ="x>ad</div>${TAG}</body>`,
    );
  });

  it('puts them before the last of several </body> end tags, one at the very start included', () => {
    assert.equal(
      appendToHtml('<body><p>a</p></body><body><p>b</p></body>', [TAG]),
      `<body><p>a</p></body><body><p>b</p>${TAG}</body>`,
    );
    assert.equal(appendToHtml('</body><p>b</p>', [TAG]), `${TAG}</body><p>b</p>`);
    assert.equal(appendToHtml('<body>ad</BODY/>', [TAG]), `<body>ad${TAG}</BODY/>`);
  });

  it('takes no other end tag that starts with </body for the document’s end, such as a custom element’s', () => {
    const custom = '<body-copy>ad</body-copy>';
    assert.equal(appendToHtml(custom, [TAG]), `${custom}${TAG}`);
  });

  it('never puts them inside an iframe, noembed, noframes, xmp or title, whose content is text', () => {
    for (const name of ['iframe', 'noembed', 'noframes', 'xmp', 'title']) {
      const markup = `<p>ad</p><${name}></body></${name}>`;
      assert.equal(appendToHtml(markup, [TAG]), `${markup}${TAG}`, name);
    }
  });

  it('never puts them inside a bogus comment opened by <? or <!-, which the first > ends', () => {
    const processing = '<p>ad</p><?php echo "</body>" ?>';
    assert.equal(appendToHtml(processing, [TAG]), `${processing}${TAG}`);
    assert.equal(appendToHtml('<body><!-x>ad</body>', [TAG]), `<body><!-x>ad${TAG}</body>`);
  });

  it('closes a bogus comment the markup ends in before appending, so that it does not swallow the tags', () => {
    assert.equal(appendToHtml('<p>ad</p><!DOCTYPE html', [TAG]), `<p>ad</p><!DOCTYPE html>${TAG}`);
  });

  it('ends a script at </script/>, and reads <script/> as opening one', () => {
    assert.equal(
      appendToHtml('<body><script>x()</script/><p>ad</p></body>', [TAG]),
      `<body><script>x()</script/><p>ad</p>${TAG}</body>`,
    );
    const written = '<script/>document.write("</body>")</script>';
    assert.equal(appendToHtml(written, [TAG]), `${written}${TAG}`);
  });

  it('reads a quoted attribute value after spaces around its =, and a quote within an attribute name as a character', () => {
    const spaced = '<div title= "a>b</body>">ad</div>';
    assert.equal(appendToHtml(spaced, [TAG]), `${spaced}${TAG}`);
    assert.equal(appendToHtml('<div title"x>ad</div>', [TAG]), `<div title"x>ad</div>${TAG}`);
    assert.equal(appendToHtml(`<div title"'x>ad</div>`, [TAG]), `<div title"'x>ad</div>${TAG}`);
  });

  it('puts them before a <plaintext> start tag, as all that follows it is text to its end, and an unterminated one too', () => {
    const plain = '<p>ad</p><plaintext>ad</plaintext></body>';
    assert.equal(appendToHtml(plain, [TAG]), `<p>ad</p>${TAG}<plaintext>ad</plaintext></body>`);
    assert.equal(appendToHtml('<plaintext', [TAG]), `${TAG}<plaintext`);
    // A </body> before it is still the document's end.
    assert.equal(appendToHtml('<body>a</body><plaintext>', [TAG]), `<body>a${TAG}</body><plaintext>`);
  });

  it('puts them before a <template> or <select> open around a <plaintext>, which would hold them in its text, inert', () => {
    assert.equal(
      appendToHtml('<div>ad</div><template><plaintext>x', [TAG]),
      `<div>ad</div>${TAG}<template><plaintext>x`,
    );
    assert.equal(
      appendToHtml('<template><p><template><plaintext>x', [TAG]),
      `${TAG}<template><p><template><plaintext>x`,
    );
    assert.equal(appendToHtml('<p>ad<select><plaintext>x', [TAG]), `<p>ad${TAG}<select><plaintext>x`);
    // One closed before the <plaintext> holds nothing.
    assert.equal(
      appendToHtml('<template>t</template><p>ad<plaintext>x', [TAG]),
      `<template>t</template><p>ad${TAG}<plaintext>x`,
    );
  });

  it('closes a <picture> they would be the first children of, whose <source> the browser would load in the pixel’s place', () => {
    assert.equal(
      appendToHtml('<p>ad</p><picture><source srcset="a.png">', [TAG]),
      `<p>ad</p><picture><source srcset="a.png"></picture>${TAG}`,
    );
    assert.equal(
      appendToHtml('<body><PICTURE><source srcset="a.png"><br></body>', [TAG]),
      `<body><PICTURE><source srcset="a.png"><br></picture>${TAG}</body>`,
    );
    assert.equal(
      appendToHtml('<picture><svg><circle r="1">', [TAG]),
      `<picture><svg><circle r="1"></svg></picture>${TAG}`,
    );
    // A script the markup ends inside is closed first.
    assert.equal(appendToHtml('<picture><script>x', [TAG]), `<picture><script>x</script></picture>${TAG}`);
    // Inside another element inside it, or after it, the pixel is no picture's.
    const inside = '<picture><source srcset="a.png"><span>ad';
    assert.equal(appendToHtml(inside, [TAG]), `${inside}${TAG}`);
    const closed = '<body><picture><img src="a.png"></picture>ad</body>';
    assert.equal(appendToHtml(closed, [TAG]), `<body><picture><img src="a.png"></picture>ad${TAG}</body>`);
  });

  it('takes no </body> inside another end tag for the document’s end: </div</body> ends an element named div<', () => {
    assert.equal(
      appendToHtml('<body>ad</body><p>x</div</body>', [TAG]),
      `<body>ad${TAG}</body><p>x</div</body>`,
    );
  });

  it('ends a tag name at HTML’s white space only, so that a no-break space or vertical tab after <script opens no script', () => {
    for (const space of ['\u00a0', '\v']) {
      assert.equal(
        appendToHtml(`<body><script${space}>ad</body>`, [TAG]),
        `<body><script${space}>ad${TAG}</body>`,
      );
    }
  });

  it('closes a script left open inside <!-- <script> with --> first, as </script> there would end only the inner one', () => {
    const open = '<script><!--document.write("<script>';
    assert.equal(appendToHtml(open, [TAG]), `${open}--></script>${TAG}`);
  });

  it('closes a <template> or <select> the markup leaves open, and takes no </body> inside one for the document’s end', () => {
    assert.equal(appendToHtml('<template><p>x', [TAG]), `<template><p>x</template>${TAG}`);
    assert.equal(appendToHtml('<select><option>a', [TAG]), `<select><option>a</select>${TAG}`);
    assert.equal(
      appendToHtml('<template><select><option>a', [TAG]),
      `<template><select><option>a</select></template>${TAG}`,
    );
    assert.equal(
      appendToHtml('<body><template><p>x</body>', [TAG]),
      `<body><template><p>x</body></template>${TAG}`,
    );
    // A <select> inside a <template> inside a <select> is a new one, which </select> closes.
    assert.equal(
      appendToHtml('<select><template><select>a', [TAG]),
      `<select><template><select>a</select></template></select>${TAG}`,
    );
    assert.equal(
      appendToHtml('<select><template></select>a', [TAG]),
      `<select><template></select>a</template></select>${TAG}`,
    );
    // Closed ones change nothing, and a <select> inside a <select> closes it.
    assert.equal(
      appendToHtml('<body><template>t</template><select><select>ad</body>', [TAG]),
      `<body><template>t</template><select><select>ad${TAG}</body>`,
    );
  });

  it('places them right in markup of tens of thousands of nested <template> and <select> tags', () => {
    const count = 20_000;
    const templates = '<template>'.repeat(count);
    // An end tag that matches nothing open changes nothing, however many there are.
    const unmatched = `${templates}${'</select>'.repeat(count)}`;
    assert.equal(appendToHtml(unmatched, [TAG]), `${unmatched}${'</template>'.repeat(count)}${TAG}`);
    // Each </template> closes the <select> open inside it too, and the </body> that follows them
    // all is the document's end.
    const nested = `<body>${'<select><template>'.repeat(count)}<select>${'</template>'.repeat(count)}`;
    assert.equal(appendToHtml(`${nested}</select></body>`, [TAG]), `${nested}</select>${TAG}</body>`);
    assert.equal(appendToHtml(`${nested}</body>`, [TAG]), `${nested}</body></select>${TAG}`);
  });

  it('reads SVG and MathML content as a browser does: <style> there holds markup, <![CDATA[ runs to ]]>, <p> ends it', () => {
    assert.equal(
      appendToHtml('<body><svg><style>ad</body>', [TAG]),
      `<body><svg><style>ad</svg>${TAG}</body>`,
    );
    assert.equal(appendToHtml('<svg><![CDATA[a>b', [TAG]), `<svg><![CDATA[a>b]]></svg>${TAG}`);
    assert.equal(appendToHtml('<svg><plaintext>ad', [TAG]), `<svg><plaintext>ad</svg>${TAG}`);
    // HTML again inside <foreignObject>, after a <p> or once the <svg> ends.
    for (const html of ['<svg><foreignObject>', '<svg><p>', '<math></math>']) {
      const styled = `<body>${html}<style></body></style>ad</body>`;
      assert.equal(appendToHtml(styled, [TAG]), `<body>${html}<style></body></style>ad${TAG}</body>`, html);
    }
  });

  it('leaves SVG content at the end tag of an HTML element open around it, and not at one that matches nothing open', () => {
    assert.equal(
      appendToHtml('<div><svg><circle r=1></div><textarea>Note', [TAG]),
      `<div><svg><circle r=1></div><textarea>Note</textarea>${TAG}`,
    );
    assert.equal(appendToHtml('<div><svg></span><style>a', [TAG]), `<div><svg></span><style>a</svg>${TAG}`);
  });

  it('ignores an end tag of an SVG integration point while an HTML element is open inside it, as a browser does', () => {
    assert.equal(
      appendToHtml('<svg><desc><div></desc><title>x', [TAG]),
      `<svg><desc><div></desc><title>x</title>${TAG}`,
    );
  });

  it('reads a CDATA section directly inside <foreignObject>, an SVG element, and SVG inside MathML’s annotation-xml', () => {
    assert.equal(
      appendToHtml('<svg><foreignObject><![CDATA[a>b', [TAG]),
      `<svg><foreignObject><![CDATA[a>b]]>${TAG}`,
    );
    assert.equal(
      appendToHtml('<math><annotation-xml><svg><desc><textarea>x', [TAG]),
      `<math><annotation-xml><svg><desc><textarea>x</textarea>${TAG}`,
    );
  });

  it('ends SVG content at a <font> with a color, face or size attribute, read as a browser reads attributes', () => {
    assert.equal(
      appendToHtml('<svg><font x="1"color=red><![CDATA[a', [TAG]),
      `<svg><font x="1"color=red><![CDATA[a>${TAG}`,
    );
    assert.equal(
      appendToHtml('<svg><font title=" color "><style>a', [TAG]),
      `<svg><font title=" color "><style>a</svg>${TAG}`,
    );
  });

  it('closes SVG and MathML content left open where the tags go, so that a <script> among them is an HTML script', () => {
    // Inside SVG a <script> is SVG's, which loads nothing from a src: the OMID tag would never run.
    const omid = omidScriptTag('https://tally.example/omid/verify.js', 'https://tally.example/n/t');
    assert.equal(appendToHtml('<div>ad</div><svg><rect>', [omid]), `<div>ad</div><svg><rect></svg>${omid}`);
    assert.equal(
      appendToHtml('<body><svg><g><style>a</body></html>', [omid]),
      `<body><svg><g><style>a</svg>${omid}</body></html>`,
    );
    // SVG inside MathML's annotation-xml is closed with the <math> around it; one in <foreignObject>
    // with the <svg> only, as its <foreignObject> holds HTML.
    assert.equal(
      appendToHtml('<math><annotation-xml><svg><circle>', [omid]),
      `<math><annotation-xml><svg><circle></math>${omid}`,
    );
    assert.equal(
      appendToHtml('<svg><foreignObject><div><svg><rect>', [omid]),
      `<svg><foreignObject><div><svg><rect></svg>${omid}`,
    );
    // A foreign element named as the root inside it takes one end tag of that name more.
    assert.equal(
      appendToHtml('<math><mrow><svg><math>', [omid]),
      `<math><mrow><svg><math></math></math>${omid}`,
    );
    // What closes an unfinished comment, CDATA section or tag comes first, a <template> last.
    assert.equal(
      appendToHtml('<template><svg><![CDATA[a', [omid]),
      `<template><svg><![CDATA[a]]></svg></template>${omid}`,
    );
    // Where HTML is read again, nothing is closed.
    assert.equal(appendToHtml('<svg><foreignObject>ad', [omid]), `<svg><foreignObject>ad${omid}`);
  });
});

describe('Tally’s own banner tags', () => {
  it('writes the notice pixel as a hidden 1×1 image whose URL is HTML-escaped', () => {
    assert.equal(
      pixelTag('https://tally.example/n/t?a=1&b="x"'),
      '<img src="https://tally.example/n/t?a=1&amp;b=&quot;x&quot;" width="1" height="1" alt="" style="display:none">',
    );
  });

  it('writes the OMID verification script tag with both URLs HTML-escaped', () => {
    assert.equal(
      omidScriptTag(
        'https://tally.example/omid/verify.js?v=1&x="y"',
        "https://tally.example/n/t?src=omid&k='z'",
      ),
      '<script src="https://tally.example/omid/verify.js?v=1&amp;x=&quot;y&quot;" ' +
        'data-tally-notice="https://tally.example/n/t?src=omid&amp;k=&#39;z&#39;"></script>',
    );
  });
});

describe('AMPHTML ads', () => {
  it('takes markup whose <html> tag has the ⚡4ads or amp4ads attribute, in any case, for an AMPHTML ad', () => {
    for (const markup of [
      '<!doctype html><html ⚡4ads lang="en"><head></head><body>ad</body></html>',
      '<!DOCTYPE html>\n<HTML AMP4ADS>\n<body>ad</body></HTML>',
      '<html lang="en" amp4ads="">ad',
      '<html data-x=">" ⚡4ads>ad',
    ])
      assert.equal(isAmpHtmlAd(markup), true, markup);
  });

  it('reads the attributes of each of a megabyte of <html> tags once, not the whole markup for each', () => {
    // Each tag's attributes were once read from the whole markup lower-cased again: time quadratic
    // in the number of tags, minutes for a megabyte.
    const tags = '<HTML lang=en>'.repeat(Math.ceil(1024 ** 2 / 14));
    assert.equal(isAmpHtmlAd(`<!-- amp4ads -->${tags}`), false);
    assert.equal(isAmpHtmlAd(`${tags}<HTML AMP4ADS>`), true);
  });

  it('takes no other markup for one: an AMP page or email, or amp4ads in a comment, a script, text or another tag', () => {
    for (const markup of [
      '<html ⚡ lang="en"><body>ad</body></html>',
      '<html amp4email><body>ad</body></html>',
      '<!-- <html amp4ads> --><div>ad</div>',
      '<script>document.write("<html amp4ads>")</script>',
      '<div data-format="amp4ads">ad</div><p>amp4ads</p>',
      '<html lang="amp4ads"><body>ad</body></html>',
      '<svg><html amp4ads></html></svg>',
    ])
      assert.equal(isAmpHtmlAd(markup), false, markup);
  });

  it('writes the notice pixel as an <amp-pixel>, which AMP4ADS allows where it allows no <img>, its URL HTML-escaped', () => {
    assert.equal(
      ampPixelTag('https://tally.example/n/t?a=1&b="x"'),
      '<amp-pixel src="https://tally.example/n/t?a=1&amp;b=&quot;x&quot;" layout="nodisplay"></amp-pixel>',
    );
  });

  it('writes a notice URL with no two capital letters of its token side by side, the second percent-escaped, so that AMP finds no variable name in it', () => {
    assert.equal(
      withoutAmpVariableNames('https://tally.example/n/aRANDOMb_TITLE9Xy-ZZ'),
      'https://tally.example/n/aR%41N%44O%4Db_T%49T%4C%459Xy-Z%5A',
    );
    // The host and path are as given, and so is a token with no capitals side by side.
    assert.equal(withoutAmpVariableNames('https://TALLY.example/n/aBc1D'), 'https://TALLY.example/n/aBc1D');
  });
});
