import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tallyInChromium } from '../support/chromium.js';
import { api } from '../support/server.js';

const running = tallyInChromium();

/** What Tally answers for a banner win: its instrumented markup and its warnings. */
interface Registered {
  adm: string;
  warnings: string[];
}

/** Registers a web banner win of the seat with the DSP's `adm`, and answers the markup Tally returns. */
async function register(seat: string, auctionId: string, adm: string): Promise<string> {
  return (await registered(seat, auctionId, adm)).adm;
}

/** Registers a web banner win of the seat with the DSP's `adm`, and answers Tally's result for it. */
async function registered(seat: string, auctionId: string, adm: string): Promise<Registered> {
  const tally = running.tally();
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', {
    wins: [
      {
        request: { id: auctionId, imp: [{ id: '1', banner: {} }], site: { domain: 'news.example' } },
        seat,
        bid: { id: 'b1', impid: '1', price: 1, adm },
      },
    ],
  });
  const [result] = registered.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  assert.equal(result.method, 'adm');
  return result;
}

/**
 * What the page shows of the auction id, evaluated in the page (as text: the tests are compiled
 * without the DOM's types): whether an element or attribute was injected, and each place's value.
 */
const READ_PAGE = `({
  injected: document.querySelector('#pwn, [onerror]:not([data-dsp])') !== null || window.pwned !== undefined,
  alt: document.querySelector('img[alt]')?.getAttribute('alt'),
  title: document.querySelector('p[title]')?.getAttribute('title'),
  textarea: document.querySelector('textarea')?.value,
  read: window.read,
  svgRead: window.svgRead,
  handled: window.handled,
  regexMatched: window.regexMatched,
  afterComments: window.afterComments,
  jsUrlRead: window.jsUrlRead,
  jsRefRead: window.jsRefRead,
  templateRead: (() => {
    const holder = document.createElement('div');
    holder.innerHTML = document.getElementById('tpl')?.textContent ?? '';
    return holder.querySelector('i')?.getAttribute('title');
  })(),
})`;

/** Renders markup in Chromium, as a publisher's page renders an ad, and waits for its images. */
async function render(markup: string): Promise<Record<string, unknown>> {
  const page = await running.context().newPage();
  try {
    await page.setContent(markup, { waitUntil: 'load' });
    return await page.evaluate<Record<string, unknown>>(READ_PAGE);
  } finally {
    await page.close();
  }
}

/** The events counted for each seat served in the last hour or the next. */
async function countedBySeat(): Promise<Map<string, number>> {
  const hourMs = 3_600_000;
  const thisHourMs = Math.floor(Date.now() / hourMs) * hourMs;
  const from = new Date(thisHourMs - hourMs).toISOString();
  const to = new Date(thisHourMs + 2 * hourMs).toISOString();
  const query = `from=${from}&to=${to}&groupBy=seat&outcome=counted`;
  const report = await api(running.tally(), running.tally().adminKey, 'GET', `/v1/reports?${query}`);
  assert.equal(report.status, 200, JSON.stringify(report.body));
  return new Map(report.body.rows.map((row: { seat: string; events: number }) => [row.seat, row.events]));
}

/** DSP markup that hides a place for the pixel, or leaves something open that would swallow it. */
const TRICKY_BANNERS: Readonly<Record<string, string>> = {
  document: '<html><body><p>ad</p></body></html>',
  'end tag named div<': '<body>ad</body><p>x</div</body>',
  'no-break space after <script': '<body><script\u00a0>ad</body>',
  'script written inside <!-- <script>': '<script><!--document.write("<script>',
  'unclosed template': '<template><p>x',
  'template around </body>': '<body><template><p>x</body>',
  'unclosed select': '<select><option>a',
  plaintext: '<p>ad</p><plaintext>ad</plaintext></body>',
  'plaintext inside a template': '<p>ad</p><template><plaintext>ad</body>',
  'unclosed picture': '<p>ad</p><picture><source srcset="data:image/gif;base64,R0lGODlhAQABAAAAACw=">',
  'svg style holding </body>': '<body><svg><style>ad</body>',
  'unclosed svg CDATA': '<svg><![CDATA[a>b',
  'style inside svg foreignObject': '<body><svg><foreignObject><style></body></style>ad</body>',
  'unclosed quoted attribute': '<img src="https://dsp.example/a.png',
  'unclosed comment': '<p>ad</p><!-- x',
  'unclosed noscript': '<noscript><p>ad',
  'body in an iframe srcdoc': '<iframe srcdoc="<body>x</body>"></iframe><div>ad</div>',
};

/** Auction ids that would break out of where a macro stands if written as they are. */
const HOSTILE_IDS = [
  '"><b id=pwn>',
  "'><b id=pwn>",
  'x onerror=alert(1) id=pwn',
  '--><b id=pwn>',
  '--!><b id=pwn>',
  '</script><b id=pwn>',
  '</style></textarea><b id=pwn>',
  ']]><b id=pwn>',
  "');document.write('<b id=pwn>');('",
  'img src=x onerror=alert(1)//',
  '-->"</script><b id=pwn>--',
  '`${1}\\\'"',
  '*/window.pwned=1;/*',
  '\u2028window.pwned=1//',
  '1/;window.pwned=1;//',
  "');parent.pwned=1;//",
  '%27);parent.pwned=1;//',
];

/** The auction id in every kind of place a DSP writes macros in a banner. */
const MACRO_PLACES =
  '<img alt=${AUCTION_ID} src="data:,"><p title="${AUCTION_ID}">${AUCTION_ID}</p><p>a<${AUCTION_ID}</p>' +
  '<script>window.read = ["${AUCTION_ID}", \'${AUCTION_ID}\', `${AUCTION_ID}`];</script>' +
  '<img src="data:," data-dsp onerror="window.handled = \'${AUCTION_ID}\'">' +
  '<!-- ${AUCTION_ID} --><!-- --${AUCTION_ID} --><style>p{content:"${AUCTION_ID}"}</style>' +
  "<svg><script>window.svgRead = '${AUCTION_ID}';</script><style>${AUCTION_ID}</style>" +
  '<![CDATA[${AUCTION_ID}]]></svg><textarea>${AUCTION_ID}</textarea>' +
  '<script>/* ${AUCTION_ID} */ // ${AUCTION_ID}\nwindow.afterComments = 1;</script>' +
  '<script>window.regexMatched = /^${AUCTION_ID}$/.test(window.read[0]);</script>' +
  '<iframe src="javascript:void(parent.jsUrlRead=\'${AUCTION_ID}\')"></iframe>' +
  '<iframe src="&#106;avascript:void(parent.jsRefRead=\'${AUCTION_ID}\')"></iframe>' +
  '<script type="text/template" id="tpl"><i title="${AUCTION_ID}"></i></script>';

/** Frameset documents, whose `<frameset>` a browser takes for the document or ignores. */
const FRAMESETS: readonly string[] = [
  '<frameset cols="100%"><frame src="about:blank"></frameset>',
  '<html><head><title>ad</title></head><frameset rows="*"><frame src="about:blank"></frameset></html>',
  '<!----><div></div><script>1</script><input type=hidden><frameset><frame src="about:blank">',
  'ad<frameset cols="100%"><frame src="about:blank"></frameset>',
  '<body><frameset cols="100%"><frame src="about:blank"></frameset>',
  '<img src="data:,"><frameset cols="100%"><frame src="about:blank"></frameset>',
  '<table></table><frameset cols="100%"><frame src="about:blank"></frameset>',
];

describe('banners Tally instruments, rendered in Chromium', () => {
  it('warns of a frameset banner exactly when Chromium shows its frames and Tally’s pixel never counts', async () => {
    const warned: boolean[] = [];
    for (const [index, adm] of FRAMESETS.entries()) {
      const result = await registered(`frameset-${index}`, `frameset-${index}`, adm);
      warned.push(result.warnings.some((warning) => warning.includes('frameset document')));
      await render(result.adm);
    }
    const counted = await countedBySeat();
    const seen = FRAMESETS.map((adm, index) => ({
      adm,
      warned: warned[index],
      counted: counted.has(`frameset-${index}`),
    }));
    assert.deepEqual(
      seen,
      FRAMESETS.map((adm, index) => ({ adm, warned: index < 3, counted: index >= 3 })),
    );
  });

  it('counts the impression of every banner, wherever the DSP markup would hide or swallow the pixel', async () => {
    const names = Object.keys(TRICKY_BANNERS);
    for (const [index, name] of names.entries()) {
      const markup = await register(`tricky-${index}`, `tricky-${index}`, TRICKY_BANNERS[name] ?? '');
      await render(markup);
    }
    const counted = await countedBySeat();
    for (const [index, name] of names.entries()) {
      assert.equal(counted.get(`tricky-${index}`), 1, `${name}: ${TRICKY_BANNERS[name]}`);
    }
  });

  it('reads back every auction id as itself wherever its macro stands, adds no element or attribute, and counts', async () => {
    for (const [index, auctionId] of HOSTILE_IDS.entries()) {
      const markup = await register(`hostile-${index}`, auctionId, MACRO_PLACES);
      const read = await render(markup);
      assert.deepEqual(
        read,
        {
          injected: false,
          alt: auctionId,
          title: auctionId,
          textarea: auctionId,
          read: [auctionId, auctionId, auctionId],
          svgRead: auctionId,
          handled: auctionId,
          regexMatched: true,
          afterComments: 1,
          jsUrlRead: auctionId,
          jsRefRead: auctionId,
          templateRead: auctionId,
        },
        markup,
      );
    }
    const counted = await countedBySeat();
    for (const [index, auctionId] of HOSTILE_IDS.entries()) {
      assert.equal(counted.get(`hostile-${index}`), 1, auctionId);
    }
  });
});
