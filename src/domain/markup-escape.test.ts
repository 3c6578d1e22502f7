import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import type { MarkupLanguage } from './markup-escape.js';
import { escapeJsonString, escapeXml, substituteInMarkup } from './markup-escape.js';

/** Substitutes `value` for every `${V}` of the markup, escaped as each region needs. */
function fill(markup: string, language: MarkupLanguage, value: string): string {
  return substituteInMarkup(markup, language, (text, escape) => text.replaceAll('${V}', () => escape(value)));
}

describe('escaping macro values for the markup they go into', () => {
  it('JSON-escapes as JSON.stringify does, without the quotes', () => {
    assert.equal(escapeJsonString('a"b\\c\u0001\n\u2028\ud800'), 'a\\"b\\\\c\\u0001\\n\u2028\\ud800');
  });

  it('XML-escapes markup characters, tab and line breaks, and percent-encodes characters XML forbids', () => {
    assert.equal(escapeXml(`&<>"'\t\n\r`), '&amp;&lt;&gt;&quot;&apos;&#9;&#10;&#13;');
    assert.equal(escapeXml('a\u0001b\uFFFEc\udc00'), 'a%01b%EF%BF%BDc%EF%BF%BD');
    assert.equal(escapeXml('ordinary-id_1.5:é😀'), 'ordinary-id_1.5:é😀');
  });

  it('splits a ]]> a value makes in CDATA, also where the value meets the text around it', () => {
    assert.equal(fill('<a><![CDATA[${V}]]></a>', 'xml', 'x]]>y'), '<a><![CDATA[x]]]]><![CDATA[>y]]></a>');
    assert.equal(fill('<a><![CDATA[${V}>]]></a>', 'xml', 'z]]'), '<a><![CDATA[z]]]]><![CDATA[>]]></a>');
    assert.equal(fill('<a><![CDATA[]]${V}]]></a>', 'xml', '>'), '<a><![CDATA[]]]]><![CDATA[>]]></a>');
  });

  it("writes a value's CR in CDATA as a reference between two sections, and leaves the DSP's own CRs", () => {
    assert.equal(
      fill('<a><![CDATA[\r\n${V}]]></a>', 'xml', 'a\rb'),
      '<a><![CDATA[\r\na]]>&#13;<![CDATA[b]]></a>',
    );
  });

  it('reads a CDATA section, comment or PI that never ends as running to the end of the markup', () => {
    assert.equal(fill('<a>${V}<![CDATA[${V}', 'xml', '&'), '<a>&amp;<![CDATA[&');
    assert.equal(fill('<a>${V}<!--${V}', 'xml', '&'), '<a>&amp;<!--&');
  });

  it('fills JSON whose last string, a megabyte of escaped quotes, never closes, reading each string once', () => {
    // Each quote after one never closed was once read on to the text's end for its string's end:
    // time quadratic in their number, minutes for a megabyte of native markup.
    const unclosed = `"${'\\"'.repeat(512 * 1024)}`;
    const markup = `{"assets":[],"id":"\${V}"}${unclosed}\${V}`;
    assert.equal(fill(markup, 'json', 'a"b'), `{"assets":[],"id":"a\\"b"}${unclosed}a\\"b`);
  });

  it('keeps an XML or HTML comment from ending early on hyphens or a > a value makes', () => {
    assert.equal(fill('<!--${V}-->', 'xml', 'a--b-'), '<!--a- -b- -->');
    assert.equal(fill('<!--x-${V}-->', 'xml', '-'), '<!--x- - -->');
    assert.equal(fill('<!--${V}-->', 'html', '>x'), '<!-- >x-->');
    assert.equal(fill('<!--${V}-->', 'xml', 'a-b'), '<!--a-b-->');
    // A comment that holds a -- of its own keeps it, and the values' are still broken up.
    assert.equal(fill('<!-- -- ${V}-->', 'xml', 'a--b'), '<!-- -- a- -b-->');
    assert.equal(fill('<?pi ${V}?>', 'xml', 'a?>b'), '<?pi a? >b?>');
  });

  it('escapes a value after each < that opens nothing, in a run of such text as after a single one', () => {
    assert.equal(
      fill('<<${V}< ${V}<!---->-->x<${V}<!x>${V}<svg><script><<${V}</script></svg>', 'html', 'a"b'),
      '<<&#97;&quot;b< a&quot;b<!---->-->x<&#97;&quot;b<!x>a&quot;b<svg><script><<a\\u0022b</script></svg>',
    );
  });

  it('breaks up the hyphens of a comment that holds U+FFFE or U+FFFF of its own, in markup holding no macro too', () => {
    assert.equal(fill('<p>a</p><!--\uFFFF--x--><i>', 'html', 'v'), '<p>a</p><!--\uFFFF - -x--><i>');
    assert.equal(fill('<a>b</a><!--\uFFFF--x--><c/>', 'xml', 'v'), '<a>b</a><!--\uFFFF - -x--><c/>');
    assert.equal(
      fill('<!--\uFFFE-x-->${V}<!--\uFFFE--x-->', 'html', 'v'),
      '<!--\uFFFE-x-->v<!--\uFFFE- -x-->',
    );
  });

  it('fills the macros of markup of many regions of every kind and leaves the regions without one as they are', () => {
    const regions =
      '<!----><!-- c --><template><svg><g><![CDATA[x]]></g></svg><script>x</script><!x><?y>< <a b=1 c="2">' +
      '<math><mi>t</mi></math><textarea>t</textarea><div onclick="f()" style="color:red">t</div></body>';
    const markup = `${regions.repeat(50)}<a href="\${V}">\${V}</a>${regions.repeat(50)}`;
    const filled = `${regions.repeat(50)}<a href="a&#32;&quot;b">a &quot;b</a>${regions.repeat(50)}`;
    assert.equal(fill(markup, 'html', 'a "b'), filled);
    assert.equal(fill(regions.repeat(100), 'html', 'a "b'), regions.repeat(100));
  });

  it('leaves the shapes a comment’s own text holds as they are, and breaks up those an empty value brings together', () => {
    assert.equal(fill('<!-->${V}-->', 'xml', 'a'), '<!-->a-->');
    assert.equal(fill('<!--${V}a--->', 'html', 'b'), '<!--ba--->');
    assert.equal(fill('<!--a-${V}-->', 'xml', ''), '<!--a- -->');
    assert.equal(fill('<!--${V}>a-->', 'xml', ''), '<!-- >a-->');
    assert.equal(fill('<!-- --${V}> -->', 'xml', ''), '<!-- -- > -->');
  });

  it('HTML-escapes in attribute values and text, and escapes for JavaScript and CSS in script and style bodies, whatever the case of their tags', () => {
    assert.equal(
      fill('<SCRIPT src="https://x.test/?a=${V}&b=>">${V}</SCRIPT><p title=${V}>${V}</p>', 'html', 'a"b'),
      '<SCRIPT src="https://x.test/?a=a&quot;b&b=>">a\\u0022b</SCRIPT><p title=a&quot;b>a&quot;b</p>',
    );
    assert.equal(
      fill("<style data-x='>'>a{b:'${V}'}</style ><i>${V}</i>", 'html', "'<"),
      "<style data-x='>'>a{b:'\\27 \\3C '}</style ><i>&#39;&lt;</i>",
    );
    assert.equal(
      fill('<textarea>${V}</textarea>', 'html', '</textarea>'),
      '<textarea>&lt;/textarea&gt;</textarea>',
    );
    assert.equal(fill('<!DOCTYPE html ${V}><p>${V}', 'html', '&'), '<!DOCTYPE html &><p>&amp;');
    assert.equal(fill('<script>${V}', 'html', '&'), '<script>\\u0026');
    // A value cannot end a bogus comment (or a doctype) early: its `>` is escaped, the rest left as it is.
    assert.equal(fill('<!x ${V}><p>', 'html', '">&<b'), '<!x "&gt;&<b><p>');
    assert.equal(fill('<?x ${V}><p>', 'html', '>'), '<?x &gt;><p>');
    assert.equal(fill('<!DOCTYPE html ${V}>', 'html', 'a>'), '<!DOCTYPE html a&gt;>');
    // Nor make it a comment that would swallow the rest of the creative.
    assert.equal(fill('<!${V}><img src="x">', 'html', '--x'), '<!&#45;-x><img src="x">');
    assert.equal(fill('<!-${V}><img src="x">', 'html', '-x'), '<!-&#45;x><img src="x">');
    assert.equal(fill('<!${V}${V}><img src="x">', 'html', '-'), '<!&#45;&#45;><img src="x">');
    // Nor an empty one that brings the markup's own hyphens together.
    assert.equal(fill('<!${V}--x><img src="x">', 'html', ''), '<!&#45;-x><img src="x">');
    assert.equal(fill('<!-${V}-x><img src="x">', 'html', ''), '<!&#45;-x><img src="x">');
    // Nor, in SVG, a CDATA section.
    assert.equal(
      fill('<svg><!${V}><img src=x>]]></svg>', 'html', '[CDATA['),
      '<svg><!&#91;CDATA[><img src=x>]]></svg>',
    );
    assert.equal(
      fill('<svg><!${V}[CDATA[><img src=x>]]></svg>', 'html', ''),
      '<svg><!&#91;CDATA[><img src=x>]]></svg>',
    );
    // The markup's own, in a `<?` bogus comment, are left as they are.
    assert.equal(fill('<?--${V}><p>', 'html', 'a'), '<?--a><p>');
    // A hyphen inside a value cannot open one, and is left as it is.
    assert.equal(fill('<?${V}><p>', 'html', 'a-b'), '<?a-b><p>');
    // Nor one opened by `</`.
    assert.equal(fill('</ ${V}><p>', 'html', '"><b>'), '</ &quot;&gt;&lt;b&gt;><p>');
    // A browser that runs no script renders a <noscript>'s content as HTML.
    assert.equal(
      fill('<noscript><img src="https://x.test/?a=${V}"></noscript>', 'html', '"><b>'),
      '<noscript><img src="https://x.test/?a=&quot;&gt;&lt;b&gt;"></noscript>',
    );
  });

  it('keeps characters XML allows from U+E000 to U+FFFD as they are, and percent-encodes control characters in upper case', () => {
    assert.equal(escapeXml('\uE000\uFF0C\uFFFD'), '\uE000\uFF0C\uFFFD');
    assert.equal(escapeXml('a\u001bb\u007f'), 'a%1Bb\u007f');
  });

  it('percent-encodes characters XML forbids in values written into comments, PIs and CDATA sections too', () => {
    assert.equal(
      fill('<a><!--${V}--><?pi ${V}?><![CDATA[${V}]]></a>', 'xml', 'x\u0001\udc00y'),
      '<a><!--x%01%EF%BF%BDy--><?pi x%01%EF%BF%BDy?><![CDATA[x%01%EF%BF%BDy]]></a>',
    );
  });

  it('HTML-escapes a value in the tag after an empty comment (<!-->, <!--->) or one ended by --!>, which a browser reads as a tag', () => {
    const value = '"><script>alert(1)</script>';
    for (const comment of ['<!-->', '<!--->', '<!-- x --!>']) {
      assert.equal(
        fill(`${comment}<img src="https://x.test/?a=\${V}">`, 'html', value),
        `${comment}<img src="https://x.test/?a=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">`,
        comment,
      );
    }
  });

  it('keeps a value that starts a comment with -> from closing it as <!--->', () => {
    assert.equal(fill('<!--${V}-->', 'html', '->x'), '<!-- ->x-->');
    assert.equal(fill('<!--${V}-->', 'xml', '->x'), '<!-- ->x-->');
  });

  it('keeps a value from ending a comment whose own text holds a -- or ends in -, whatever it puts after them', () => {
    const payload = '><img src=x onerror=alert(1)>';
    assert.equal(fill('<!-- --${V} --><p>', 'html', payload), '<!-- -- ><img src=x onerror=alert(1)> --><p>');
    assert.equal(fill('<!-- --${V} --><p>', 'html', '!>x'), '<!-- --! >x --><p>');
    assert.equal(fill('<!--${V} a---><p>', 'html', '--><b>'), '<!--- -><b> a---><p>');
    assert.equal(fill('<!-- --${V}--><p>', 'html', '-'), '<!-- -- - --><p>');
  });

  it('writes white space, = and ` in a tag as references, so that a value in an unquoted attribute value adds no attribute', () => {
    assert.equal(
      fill('<img alt=${V} src="a.png">', 'html', 'x onerror=alert(1)\t\n\f\r`'),
      '<img alt=x&#32;onerror&#61;alert(1)&#9;&#10;&#12;&#13;&#96; src="a.png">',
    );
    // In a quoted value the references read back as the characters they stand for.
    assert.equal(fill('<a title="${V}">', 'html', 'a b'), '<a title="a&#32;b">');
  });

  it('escapes a value in a script as a JavaScript string that reads back as the value, in any quotes, and cannot end the script', () => {
    const value = '</script><img src=x onerror=alert(1)>"\'`${x}\\\n\u2028é';
    const filled = fill('<script>var a = "${V}", b = \'${V}\', c = `${V}`;</script><p>', 'html', value);
    assert.equal(filled.indexOf('</script>'), filled.lastIndexOf('</script>'), filled);
    const body = filled.slice('<script>'.length, filled.indexOf('</script>'));
    const read = runInNewContext(`${body}; JSON.stringify([a, b, c])`) as string;
    assert.deepEqual(JSON.parse(read), [value, value, value]);
    // JSON in a script reads it back too.
    const json = fill('<script type="application/ld+json">{"id": "${V}"}</script>', 'html', value);
    assert.deepEqual(JSON.parse(json.slice(json.indexOf('>') + 1, json.lastIndexOf('</script>'))), {
      id: value,
    });
  });

  it('keeps a value from ending a script inside <!-- <script>, where a --> it made would let the inner </script> end the outer', () => {
    assert.equal(
      fill('<script><!--<script>"${V}"</script>x</script>', 'html', '-->'),
      '<script><!--<script>"\\u002D-\\u003E"</script>x</script>',
    );
  });

  it('writes a value in a style body with CSS escapes for all but the characters of a name, so that it ends no string, url(), name or rule', () => {
    assert.equal(
      fill('<style>a{background:url(${V})}</style>', 'html', 'https://x.test/a b).c}</style><b>'),
      '<style>a{background:url(https\\3A \\2F \\2F x\\2E test\\2F a\\20 b\\29 \\2E c\\7D \\3C \\2F style\\3E \\3C b\\3E )}</style>',
    );
  });

  it('HTML-escapes a value in an xmp, iframe, noembed, noframes or plaintext, which a browser reads as HTML inside <svg>', () => {
    for (const name of ['xmp', 'iframe', 'noembed', 'noframes', 'plaintext']) {
      assert.equal(fill(`<${name}>\${V}`, 'html', '</x><b>'), `<${name}>&lt;/x&gt;&lt;b&gt;`, name);
    }
  });

  it('escapes a value in an SVG <script> or <style> for JavaScript or CSS with nothing HTML reads, as its markup runs as a script or style', () => {
    assert.equal(
      fill('<svg><style>${V}</style></svg>', 'html', '<b>&'),
      '<svg><style>\\3C b\\3E \\26 </style></svg>',
    );
    assert.equal(
      fill("<svg><script>var id='${V}';</script></svg>", 'html', "';x();'"),
      "<svg><script>var id='\\u0027\\u003Bx\\u0028\\u0029\\u003B\\u0027';</script></svg>",
    );
    assert.equal(
      fill("<svg><script><![CDATA[var id='${V}';]]></script></svg>", 'html', "'&apos;"),
      "<svg><script><![CDATA[var id='\\u0027\\u0026apos\\u003B';]]></script></svg>",
    );
    // Elsewhere in SVG, a CDATA section's ]]> is split; inside <foreignObject>, a <style> is HTML's.
    assert.equal(
      fill('<svg><![CDATA[${V}]]></svg>', 'html', 'a]]>b'),
      '<svg><![CDATA[a]]]]><![CDATA[>b]]></svg>',
    );
    assert.equal(
      fill('<svg><foreignObject><style>${V}</style></foreignObject></svg>', 'html', '<'),
      '<svg><foreignObject><style>\\3C </style></foreignObject></svg>',
    );
  });

  it('writes the first letter of a value that follows a < of the text as a reference, so that it opens no tag', () => {
    assert.equal(
      fill('<div>a<${V}</div>', 'html', 'img src=x onerror=alert(1)//'),
      '<div>a<&#105;mg src=x onerror=alert(1)//</div>',
    );
    assert.equal(fill('<p>${V} <${V} <x${V}</p>', 'html', '/ab'), '<p>/ab <&#47;ab <x/ab</p>');
  });

  it('CSS-escapes every character that would end a name, so that a value stays in the selector it is part of', () => {
    assert.equal(
      fill('<style>.ad-${V}{display:none}</style>', 'html', 'x,#t'),
      '<style>.ad-x\\2C \\23 t{display:none}</style>',
    );
  });

  it('escapes a hyphen at either end of a value in a script, which could make a --> that ends an old <!-- script early', () => {
    assert.equal(
      fill("<script><!--\nw('<img src=p?id=${V}>');//--></script>", 'html', '-x--'),
      "<script><!--\nw('<img src=p?id=\\u002Dx-\\u002D>');//--></script>",
    );
  });

  it('escapes a value in a javascript: URL as in a script, percent signs too, however the scheme is written, and leaves other URLs HTML-escaped', () => {
    assert.equal(
      fill('<a href=" JAVA\tSCRIPT:f(\'${V}\')">', 'html', "%27);x('"),
      '<a href=" JAVA\tSCRIPT:f(\'\\u002527\\u0029\\u003Bx\\u0028\\u0027\')">',
    );
    assert.equal(fill('<a href="https://x/?q=${V}">', 'html', "%27'"), '<a href="https://x/?q=%27&#39;">');
  });

  it('takes a javascript: URL whose scheme is spelt with character references for one, as a browser does', () => {
    const literal = fill('<a href="javascript:f(\'${V}\')">', 'html', "')");
    for (const scheme of [
      '&#106;avascript:',
      '&#x6A;avascript:',
      'javascript&colon;',
      '&#32;java&Tab;script:',
      '&#0000000106;avascript:',
      '&#x00000006A;avascript:',
      `${' '.repeat(300)}javascript:`,
      `java${'\n'.repeat(300)}script:`,
      `${'&#32;'.repeat(60)}javascript:`,
    ]) {
      const markup = `<a href="${scheme}f('\${V}')">`;
      assert.equal(fill(markup, 'html', "')"), literal.replace('javascript:', scheme), scheme);
    }
  });

  it('takes an SVG animation’s values for javascript: URLs when any of them is one', () => {
    for (const values of ["#a;javascript:f('${V}')", "#a; &#106;avascript:f('${V}')"]) {
      const filled = fill(`<svg><animate attributeName="href" values="${values}"/></svg>`, 'html', "')");
      assert.ok(filled.includes("f('\\u0027\\u0029')"), filled);
    }
    assert.equal(
      fill('<svg><animate attributeName="x" values="0;${V}"/></svg>', 'html', "')"),
      '<svg><animate attributeName="x" values="0;&#39;)"/></svg>',
    );
  });

  it('escapes a value in a script by its type: as a script for JavaScript and JSON, as HTML in a data block such as a template', () => {
    const price = 'MS4yNQ==';
    for (const type of [
      '',
      ' type="module"',
      ' type="text/javascript"',
      ' type="application/ld+json"',
      ' type="text/&#106;avascript"',
      ' type="text/java&Sopf;cript"',
    ])
      assert.equal(
        fill(`<script${type}>var p = "\${V}";</script>`, 'html', price),
        `<script${type}>var p = "MS4yNQ\\u003D\\u003D";</script>`,
        type,
      );
    for (const type of ['text/template', 'text/html', 'text/x-handlebars-template'])
      assert.equal(
        fill(
          `<script type="${type}"><img src="https://dsp.example/?p=\${V}"></script>`,
          'html',
          `${price}</script>`,
        ),
        `<script type="${type}"><img src="https://dsp.example/?p=MS4yNQ==&lt;/script&gt;"></script>`,
        type,
      );
  });

  it('escapes a value in a script so that it ends no comment or regular expression it stands in', () => {
    assert.equal(
      fill('<script>/* ${V} */ var r = /${V}/; // ${V}</script>', 'html', '*/x\u2028/'),
      '<script>/* \\u002A\\u002Fx\\u2028\\u002F */ var r = /\\u002A\\u002Fx\\u2028\\u002F/; // \\u002A\\u002Fx\\u2028\\u002F</script>',
    );
  });

  it('escapes a value in an event handler, a style attribute or an srcdoc for what reads it once its references are read', () => {
    assert.equal(
      fill("<img src=x onerror=\"f('${V}')\" onload=f('${V}')>", 'html', "');alert(1);(' x"),
      "<img src=x onerror=\"f('\\u0027\\u0029\\u003Balert\\u00281\\u0029\\u003B\\u0028\\u0027\\u0020x')\" onload=f('\\u0027\\u0029\\u003Balert\\u00281\\u0029\\u003B\\u0028\\u0027\\u0020x')>",
    );
    assert.equal(
      fill('<div style="background:url(${V})">', 'html', 'x);color:red'),
      '<div style="background:url(x\\29&#32;\\3B&#32;color\\3A&#32;red)">',
    );
    assert.equal(
      fill('<iframe srcdoc="<p>${V}</p>"></iframe>', 'html', '<img src=x>'),
      '<iframe srcdoc="<p>&amp;lt;img&amp;#32;src&amp;#61;x&amp;gt;</p>"></iframe>',
    );
  });
});
