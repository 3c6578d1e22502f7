import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteAccountStore } from '../adapters/sqlite/accounts.js';
import { CatalogSnapshot } from '../catalog-snapshot.js';
import { SqliteCatalogStore } from '../adapters/sqlite/catalog.js';
import { openSqlite } from '../adapters/sqlite/database.js';
import { trackerTag } from '../domain/tag-export.js';
import type { KeyScope } from '../ports/accounts.js';
import type { TrackerKind } from '../ports/catalog.js';
import { newApiKey } from './auth.js';
import { exportRoutes } from './export.js';
import type { ApiServer } from '../../test/support/api-server.js';
import { serveApi } from '../../test/support/api-server.js';
import type { MailCatcher } from '../../test/support/mail-catcher.js';
import { startMailCatcher } from '../../test/support/mail-catcher.js';
import { paymentRuleInput } from '../../test/support/payment-rules.js';
import { stored, storedTracker } from '../../test/support/stored-tracker.js';

/** An https public URL, a Tally served over TLS: its tags are https, `secure` or not. */
const PUBLIC_URL = 'https://tally.example';
const MAIL_FROM = 'tally@tally.example';
const NOW_MS = Date.UTC(2026, 10, 22);

const dir = mkdtempSync(join(tmpdir(), 'tally-export-'));
const db = openSqlite(join(dir, 'tally.db'));
const accounts = new SqliteAccountStore(db);
const catalog = new SqliteCatalogStore(db);
/** The catalog as hits are priced by it, which a tracker's pricing warnings are read from. */
const snapshot = new CatalogSnapshot(catalog, { pollIntervalMs: 60_000 });
let server: ApiServer;
let smtp: MailCatcher;
let base = '';
let key = '';
const ids: Record<string, number> = {};

/**
 * A tracker of `kind` on a fresh advertiser, line item and publisher of account 1 whose hits are
 * booked at a cost: the publisher's base rule pays a CPM of 1.
 */
function tracker(kind: TrackerKind): number {
  const id = storedTracker(catalog, kind, NOW_MS);
  const publisherId = catalog.trackers.get(1, id)?.publisherId ?? 0;
  stored(catalog.paymentRules.create(1, { ...cpmRule(1_000_000), publisherId }, NOW_MS));
  return id;
}

/** A base rule paying a CPM of `costCpmMicros`, for the publisher to be set. */
function cpmRule(costCpmMicros: number) {
  return paymentRuleInput(0, {
    name: 'Base CPM',
    pricingType: 'cpm',
    revshareMicros: null,
    costCpmMicros,
  });
}

before(async () => {
  smtp = await startMailCatcher();
  accounts.createAccount('operator', Date.now());
  accounts.createAccount('rival', Date.now());
  const { key: editor, hash, prefix } = newApiKey();
  accounts.addKey(1, hash, prefix, 'editor', 'editor', null, Date.now());
  key = editor;
  ids.impression = tracker('impression');
  ids.secondImpression = tracker('impression');
  ids.click = tracker('click');
  snapshot.start();
  server = await serveApi(
    exportRoutes(catalog, () => snapshot.current(), PUBLIC_URL, { smtpUrl: smtp.url, from: MAIL_FROM }),
    accounts,
  );
  base = server.base;
});

after(async () => {
  await server.close();
  await smtp.close();
  snapshot.stop();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function exportOf(
  path: string,
  body: unknown,
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, headers: response.headers, text };
}

const impression = (id: number | string | undefined = ids.impression) =>
  `/v1/impression-trackers/${id}/export`;

/** The stored click tracker of `ids.click`. */
function clickTracker() {
  const found = catalog.trackers.get(1, ids.click ?? 0);
  assert.ok(found !== undefined, 'the click tracker is stored');
  return found;
}

/** A caught mail's text with its quoted-printable soft line breaks and escapes undone. */
function decodedMail(text: string): string {
  return text
    .replace(/\r\n/g, '\n')
    .replace(/=\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Each warning's code and tracker id, in order. */
const codesOf = (warnings: { code: string; trackerId: number }[]) =>
  warnings.map((warning) => [warning.code, warning.trackerId]);

async function refusal(body: unknown, path = impression()): Promise<string> {
  const answer = await exportOf(path, body);
  assert.equal(answer.status, 400, JSON.stringify(body));
  assert.equal(answer.body.error.code, 'VALIDATION_FAILED');
  return answer.body.error.message as string;
}

describe('exporting tracker tags', () => {
  it('exports, by default, a secure pixel with Xandr placeholders, no parameters, delivered now', async () => {
    const answer = await exportOf(impression(), {});
    assert.equal(answer.status, 200);
    assert.match(
      answer.body.tags[0].tag,
      /^<!-- Tally impression tracker: do not modify --> <img src="https:\/\/tally\.example\/imptr\?id=\d+&amp;t=2"/,
    );
    const defaults = { type: 'pixel', secure: true, params: [], placeholders: 'xandr' } as const;
    assert.deepEqual(answer.body, {
      tags: [
        {
          trackerId: ids.impression,
          tag: trackerTag('impression', ids.impression ?? 0, PUBLIC_URL, defaults),
        },
      ],
      warnings: [
        {
          code: 'cachebuster_missing',
          trackerId: ids.impression,
          message: `impression tracker ${ids.impression}'s tag carries no cachebuster, so a repeated impression cannot be told from a new one: every hit on it is recorded as a new one and flagged cachebusterMissing: add "cachebuster" to params, and the tag carries cachebuster=[CACHEBUSTER], Xandr's export placeholder, for ad ops to replace with the random-number macro of the ad server serving the tag`,
        },
      ],
    });
    // `secure: false` keeps the public URL's scheme, which is https here.
    const plain = await exportOf(impression(), { secure: false });
    assert.match(plain.body.tags[0].tag, /<img src="https:\/\/tally\.example\/imptr\?id=\d+&amp;t=2"/);
    const withParams = await exportOf(impression(), { params: ['cachebuster'] });
    assert.match(
      withParams.body.tags[0].tag,
      /<img src="https:\/\/tally\.example\/imptr\?id=\d+&amp;cachebuster=\[CACHEBUSTER\]&amp;t=2"/,
    );
  });

  it('exports preview=${IS_PREVIEW} before redir when Xandr serves the creative', async () => {
    const answer = await exportOf(impression(), {
      params: ['redir', 'preview'],
      placeholders: 'xandr_macros',
    });
    assert.equal(answer.status, 200);
    assert.match(
      answer.body.tags[0].tag,
      /<img src="https:\/\/tally\.example\/imptr\?id=\d+&amp;t=2&amp;preview=\$\{IS_PREVIEW\}&amp;redir=\[REDIRECT_URL\]"/,
    );
  });

  it('exports each tracker once, the one of the path first, however often trackerIds names them', async () => {
    const answer = await exportOf(impression(), {
      trackerIds: [ids.secondImpression, ids.impression, ids.secondImpression],
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(
      answer.body.tags.map((tag: { trackerId: number }) => tag.trackerId),
      [ids.impression, ids.secondImpression],
    );
  });

  it('answers 404 for a tracker of the other kind, saying where that tracker is exported', async () => {
    const click = `click tracker, exported at /v1/click-trackers/${ids.click}/export`;
    const otherKind: [string, unknown, string][] = [
      [impression(ids.click), {}, `impression tracker ${ids.click} not found: ${ids.click} is a ${click}`],
      [
        `/v1/click-trackers/${ids.impression}/export`,
        {},
        `click tracker ${ids.impression} not found: ${ids.impression} is an impression tracker, exported at /v1/impression-trackers/${ids.impression}/export`,
      ],
      [
        impression(),
        { trackerIds: [ids.click] },
        `impression tracker ${ids.click} not found: ${ids.click} is a ${click}`,
      ],
    ];
    for (const [path, body, message] of otherKind) {
      const answer = await exportOf(path, body);
      assert.deepEqual(
        [answer.status, answer.body.error.code, answer.body.error.message],
        [404, 'NOT_FOUND', message],
        `${path} ${JSON.stringify(body)}`,
      );
    }
    assert.equal((await exportOf(`/v1/click-trackers/${ids.click}/export`, {})).status, 200);
  });

  it('refuses to export a click tracker without a clickUrl unless redir is among the params, naming it and both fixes', async () => {
    const bare = tracker('click');
    const withUrl = catalog.trackers.get(1, bare);
    assert.ok(withUrl !== undefined, 'the click tracker is stored');
    stored(catalog.trackers.update(1, bare, { ...withUrl, clickUrl: null }, NOW_MS));
    const click = (id: number | undefined) => `/v1/click-trackers/${id}/export`;
    for (const [path, body] of [
      [click(bare), { params: ['cachebuster', 'ancost'] }],
      [click(ids.click), { trackerIds: [bare] }],
    ] as const) {
      assert.match(
        await refusal(body, path),
        new RegExp(
          `^params: click tracker ${bare} has no clickUrl, so a click on the tag would have no landing page: add "redir" to params .*, or set the tracker's clickUrl first \\(PATCH /v1/click-trackers/${bare} `,
        ),
      );
    }
    const withRedir = await exportOf(click(bare), { params: ['cachebuster', 'redir'] });
    assert.equal(withRedir.status, 200, withRedir.text);
    assert.match(withRedir.body.tags[0].tag, /&redir=\[REDIRECT_URL\]$/);
    assert.equal((await exportOf(click(ids.click), { params: ['cachebuster'] })).status, 200);
  });

  it('reads the tracker id of its path as reading the tracker does: 01 and 1.0 are no id', async () => {
    for (const id of [`0${ids.impression}`, `${ids.impression}.0`, '-1', 'abc']) {
      const answer = await exportOf(impression(id), {});
      assert.deepEqual(
        [answer.status, answer.body.error.message],
        [
          404,
          `impression tracker "${id}" not found: ` +
            'an id is a whole number from 1, written without leading zeros or a sign',
        ],
        id,
      );
      const read = await fetch(`${base}/v1/impression-trackers/${id}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      assert.equal(read.status, 404, id);
    }
  });

  it('answers 404 for another account’s tracker or another advertiser’s, and 403 to a reader', async () => {
    const keyOf = (accountId: number, role: 'reader' | 'editor', scope: KeyScope | null) => {
      const made = newApiKey();
      accounts.addKey(accountId, made.hash, made.prefix, role, role, scope, Date.now());
      return made.key;
    };
    const as = async (other: string) => {
      const response = await fetch(`${base}${impression()}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' },
        body: '{}',
      });
      return [response.status, ((await response.json()) as { error: { code: string } }).error.code];
    };
    assert.deepEqual(await as(keyOf(2, 'editor', null)), [404, 'NOT_FOUND']);
    const advertiserId = catalog.trackers.get(1, ids.impression ?? 0)?.advertiserId ?? 0;
    assert.deepEqual(await as(keyOf(1, 'editor', { type: 'advertiser', id: advertiserId + 1 })), [
      404,
      'NOT_FOUND',
    ]);
    assert.deepEqual(await as(keyOf(1, 'reader', null)), [403, 'FORBIDDEN']);
  });

  it('answers 404 for a path id that is not written as digits, rather than reading it as a number', async () => {
    for (const id of ['1e0', '0x1', 'one', '%201']) {
      const answer = await exportOf(`/v1/impression-trackers/${id}/export`, {});
      assert.deepEqual([answer.status, answer.body.error.code], [404, 'NOT_FOUND'], id);
    }
  });

  it('refuses, each on its own, a type, secure, params, placeholders, delivery or trackerIds it does not take', async () => {
    const refused: [unknown, RegExp][] = [
      [{ type: 'iframe' }, /^type must be "pixel", "javascript" or "vast" \(a VAST <Impression> element\)$/],
      [{ secure: 'yes' }, /^secure must be true \(https\) or false$/],
      [
        { params: ['cachebuster', 'ancostt'] },
        /^params must be a list of cachebuster, ancost, preview, redir: params\[1\] is "ancostt"$/,
      ],
      [
        { params: ['preview'], placeholders: 'gam' },
        /^params: preview needs the ad server's preview macro, and gam has none: use placeholders "xandr_macros" \(Xandr's \$\{IS_PREVIEW\}\) where Xandr serves the creative, or leave preview out$/,
      ],
      [{ params: ['preview'] }, /^params: preview needs the ad server's preview macro, and xandr has none/],
      [{ params: 'cachebuster' }, /^params must be a list/],
      [{ placeholders: 'dfp' }, /^placeholders must be one of xandr, gam, cm360, xandr_macros, vast$/],
      [{ delivery: 'later' }, /^delivery must be "now" or "email"$/],
      [{ trackerIds: ids.secondImpression }, /^trackerIds must be an array of tracker ids/],
      [{ trackerIds: [0] }, /^trackerIds must be an array of tracker ids/],
      [{ trackerIds: [1.5] }, /^trackerIds must be an array of tracker ids/],
      [{ trackerIds: [String(ids.secondImpression)] }, /^trackerIds must be an array of tracker ids/],
    ];
    for (const [body, message] of refused) assert.match(await refusal(body), message, JSON.stringify(body));
  });

  it('names what params holds that is no parameter: the value sent, or its first entry that is none', async () => {
    for (const [params, wrong] of [
      ['cachebuster', 'it is a string ("cachebuster")'],
      [['cachebuster', 'ancostt'], 'params[1] is "ancostt"'],
      [['redir', 'ancost', 'Preview'], 'params[2] is "Preview"'],
    ] as const) {
      assert.equal(
        await refusal({ params }),
        `params must be a list of cachebuster, ancost, preview, redir: ${wrong}`,
        JSON.stringify(params),
      );
    }
  });

  it('names what trackerIds holds that is no tracker id: the value sent, or its first entry that is no id', async () => {
    for (const [trackerIds, wrong] of [
      [7, 'it is 7'],
      ['7', 'it is a string ("7")'],
      [[ids.secondImpression, '7'], 'trackerIds[1] is "7"'],
      [[ids.secondImpression, 0, 1.5], 'trackerIds[1] is 0'],
    ] as const) {
      assert.equal(
        await refusal({ trackerIds }),
        `trackerIds must be an array of tracker ids (whole numbers from 1): ${wrong}`,
        JSON.stringify(trackerIds),
      );
    }
  });

  it('refuses any field sent as null, which no field of an export admits, saying to send a value or leave it out, rather than export the default', async () => {
    for (const field of ['trackerIds', 'type', 'secure', 'params', 'placeholders', 'delivery', 'email'])
      assert.equal(
        await refusal({ [field]: null }),
        `${field}: cannot be null: send a value, or leave ${field} out for its default`,
        field,
      );
  });

  it('refuses a body that is not a JSON object, naming every field an export takes, trackerIds included', async () => {
    for (const body of [[], ['type'], 'pixel', null]) {
      assert.equal(
        await refusal(body),
        'the body must be a JSON object with the fields type, secure, params, placeholders, delivery, email, trackerIds',
        JSON.stringify(body),
      );
    }
  });

  it('names the first ten unknown fields and counts the rest, rather than repeat thousands', async () => {
    const body = Object.fromEntries(Array.from({ length: 2000 }, (_, index) => [`unknown${index}`, 1]));
    const message = await refusal(body);
    assert.ok(message.includes('unknown9: unknown field'), message.slice(0, 200));
    assert.doesNotMatch(message, /unknown10:/, 'only the first ten unknown fields are named');
    assert.ok(message.endsWith('; and 1990 more unknown fields'), message.slice(-80));
  });

  it('names an unknown field by at most 64 of its characters', async () => {
    const message = await refusal({ [`${'p'.repeat(64)}${'q'.repeat(1000)}`]: 1 });
    assert.ok(message.startsWith(`${'p'.repeat(64)}…: unknown field`), message.slice(0, 80));
    assert.ok(
      message.length < 200,
      `the message is short, not the 1064-character name; got ${message.length} characters`,
    );
  });

  it('exports up to 500 trackers at once and refuses 501', async () => {
    // Ids past the catalog's: a list the limit lets through is looked up, and its first missing id is a 404.
    const extra = (count: number) => Array.from({ length: count }, (_, index) => 1_000_000 + index);
    const fiveHundred = await exportOf(impression(), { trackerIds: extra(499) });
    assert.deepEqual(
      [fiveHundred.status, fiveHundred.body.error.message],
      [404, 'impression tracker 1000000 not found'],
    );
    assert.match(await refusal({ trackerIds: extra(500) }), /^export at most 500 trackers at once$/);
  });

  it('refuses a misspelt or repeated query parameter, or a download value other than 0 or 1, rather than answering JSON', async () => {
    for (const [query, message] of [
      ['?downlaod=1', 'unknown parameter "downlaod"; use download=1 for a file'],
      ['?download=1&download=1', '"download" is given more than once; give it once'],
      ['?download=yes', 'download must be 1 (a file) or 0 (JSON)'],
    ]) {
      const response = await fetch(`${base}${impression()}${query}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({}),
      });
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual(
        [response.status, body.error.code, body.error.message],
        [400, 'VALIDATION_FAILED', message],
      );
    }
    const json = await fetch(`${base}${impression()}?download=0`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({}),
    });
    assert.equal(json.headers.get('content-type')?.startsWith('application/json'), true);
  });

  it('warns, naming what to activate, when the tracker or its line item is inactive, and exports the tags all the same', async () => {
    const paused = tracker('impression');
    const pausedTracker = catalog.trackers.get(1, paused);
    assert.ok(pausedTracker !== undefined, 'the tracker to pause is stored');
    stored(catalog.trackers.update(1, paused, { ...pausedTracker, state: 'inactive' }, NOW_MS));
    const onPausedLine = tracker('impression');
    const lineItemId = catalog.trackers.get(1, onPausedLine)?.lineItemId ?? 0;
    const lineItem = catalog.lineItems.get(1, lineItemId);
    assert.ok(lineItem !== undefined, 'the line item to pause is stored');
    stored(catalog.lineItems.update(1, lineItemId, { ...lineItem, state: 'inactive' }, NOW_MS));

    const answer = await exportOf(impression(), {
      params: ['cachebuster'],
      trackerIds: [paused, onPausedLine],
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.body.tags.length, 3);
    assert.deepEqual(
      answer.body.warnings.map((warning: { code: string; trackerId: number }) => [
        warning.code,
        warning.trackerId,
      ]),
      [
        ['inactive_tracker', paused],
        ['inactive_line_item', onPausedLine],
      ],
    );
    assert.match(
      answer.body.warnings[0].message,
      new RegExp(
        `^impression tracker ${paused} is inactive, so every hit on its tag is recorded as inactive_tracker and not counted: activate it \\(PATCH /v1/impression-trackers/${paused} \\{"state": "active"\\}\\)`,
      ),
    );
    assert.match(
      answer.body.warnings[1].message,
      new RegExp(
        `^impression tracker ${onPausedLine}'s line item ${lineItemId} is inactive, so every hit on its tag is recorded as inactive_line_item and not counted: activate the line item \\(PATCH /v1/line-items/${lineItemId} \\{"state": "active"\\}\\)`,
      ),
    );

    const file = await fetch(`${base}${impression(paused)}?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ params: ['cachebuster'], trackerIds: [ids.impression] }),
    });
    const lines = (await file.text()).split('\n');
    assert.deepEqual(
      [
        lines[0],
        lines[1]?.startsWith(`# warning inactive_tracker: impression tracker ${paused} is inactive`),
      ],
      [`# impression tracker ${paused}`, true],
    );
    assert.equal(lines[2]?.startsWith('<!-- Tally impression tracker'), true, lines[2]);
    assert.equal(lines[4], `# impression tracker ${ids.impression}`, 'an active tracker has no warning');
    assert.equal(lines[5]?.startsWith('<!--'), true, lines[5]);

    const mailed = await exportOf(impression(onPausedLine), {
      params: ['cachebuster'],
      delivery: 'email',
      email: 'trafficking@agency.example',
    });
    assert.equal(mailed.status, 202, mailed.text);
    assert.deepEqual(
      mailed.body.warnings.map((warning: { code: string }) => warning.code),
      ['inactive_line_item'],
    );
    const mail = decodedMail(smtp.mails.at(-1)?.text ?? '');
    assert.match(mail, /^Subject: Tally impression tracker tags \(1\), with warnings$/m);
    assert.match(mail, /^Warning: the hits of some of these tags will not be counted/m);
    assert.match(
      mail,
      new RegExp(
        `^# warning inactive_line_item: impression tracker ${onPausedLine}'s line item ${lineItemId} `,
        'm',
      ),
    );
  });

  it('warns of both an inactive tracker and its inactive line item, as each must be activated before its hits count', async () => {
    const id = tracker('impression');
    const paused = catalog.trackers.get(1, id);
    assert.ok(paused !== undefined, 'the tracker to pause is stored');
    stored(catalog.trackers.update(1, id, { ...paused, state: 'inactive' }, NOW_MS));
    const lineItem = catalog.lineItems.get(1, paused.lineItemId);
    assert.ok(lineItem !== undefined, 'the tracker’s line item is stored');
    stored(catalog.lineItems.update(1, lineItem.id, { ...lineItem, state: 'inactive' }, NOW_MS));
    const answer = await exportOf(impression(id), { params: ['cachebuster'] });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(
      answer.body.warnings.map((warning: { code: string; trackerId: number }) => [
        warning.code,
        warning.trackerId,
      ]),
      [
        ['inactive_tracker', id],
        ['inactive_line_item', id],
      ],
    );
  });

  it('warns that a click tracker whose clickUrl the allow-list refuses lands nowhere, unless the tag carries redir', async () => {
    stored(
      catalog.trackers.update(
        1,
        ids.click ?? 0,
        { ...clickTracker(), clickUrl: 'https://old.example/' },
        NOW_MS,
      ),
    );
    catalog.setRedirectAllowlist(1, { enabled: true, domains: ['landing.example'] }, NOW_MS);
    try {
      const click = `/v1/click-trackers/${ids.click}/export`;
      const bare = await exportOf(click, { params: ['cachebuster'] });
      assert.equal(bare.status, 200, bare.text);
      assert.deepEqual(
        bare.body.warnings.map((warning: { code: string; trackerId: number }) => [
          warning.code,
          warning.trackerId,
        ]),
        [['no_landing_page', ids.click]],
      );
      assert.match(
        bare.body.warnings[0].message,
        new RegExp(
          `^click tracker ${ids.click}'s clickUrl cannot be redirected to \\(the redirect host old\\.example is not on the account's redirect allow-list\\), and the tag carries no redir, so every click on it is answered 400, recorded as no_landing_page and not counted: change the clickUrl \\(PATCH /v1/click-trackers/${ids.click}\\) to a landing page the allow-list admits, add its host to the allow-list \\(PUT /v1/account/redirect-allowlist\\), or export with "redir" in params$`,
        ),
      );
      const withRedir = await exportOf(click, { params: ['cachebuster', 'redir'] });
      assert.deepEqual(withRedir.body.warnings, []);
      catalog.setRedirectAllowlist(1, { enabled: true, domains: ['old.example'] }, NOW_MS);
      assert.deepEqual((await exportOf(click, { params: ['cachebuster'] })).body.warnings, []);
    } finally {
      catalog.setRedirectAllowlist(1, { enabled: false, domains: [] }, NOW_MS);
      stored(
        catalog.trackers.update(
          1,
          ids.click ?? 0,
          { ...clickTracker(), clickUrl: 'https://advertiser.example/' },
          NOW_MS,
        ),
      );
    }
  });

  it('warns first that an https tag of a Tally whose public URL is http reaches no Tally, and not a secure: false one', async () => {
    const plainHttp = await serveApi(
      exportRoutes(catalog, () => snapshot.current(), 'http://127.0.0.1:18931', {
        smtpUrl: smtp.url,
        from: MAIL_FROM,
      }),
      accounts,
    );
    const exported = async (body: object) => {
      const response = await fetch(`${plainHttp.base}${impression()}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ params: ['cachebuster'], ...body }),
      });
      return (await response.json()) as { tags: { tag: string }[]; warnings: unknown[] };
    };
    try {
      const secure = await exported({});
      assert.match(secure.tags[0]?.tag ?? '', /<img src="https:\/\/127\.0\.0\.1:18931\/imptr\?/);
      assert.deepEqual(secure.warnings, [
        {
          code: 'https_not_served',
          trackerId: ids.impression,
          message: `impression tracker ${ids.impression}'s tag is an https:// URL ("secure": true, the default), but this Tally's public URL, TALLY_PUBLIC_URL, is http://127.0.0.1:18931, served over plain http, so no hit on the tag reaches it: export with "secure": false for a plain-http Tally (an https page then blocks its script tag and upgrades its pixel to https), or serve Tally over TLS and set TALLY_PUBLIC_URL to its https:// URL`,
        },
      ]);
      const plain = await exported({ secure: false });
      assert.match(plain.tags[0]?.tag ?? '', /<img src="http:\/\/127\.0\.0\.1:18931\/imptr\?/);
      assert.deepEqual(plain.warnings, []);
    } finally {
      await plainHttp.close();
    }
  });

  it('answers a text file of the tags, each under a line naming its tracker, with ?download=1', async () => {
    const response = await fetch(`${base}${impression()}?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ params: ['cachebuster'], trackerIds: [ids.secondImpression] }),
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const lines = (await response.text()).split('\n');
    assert.deepEqual(
      [lines[0], lines[3]],
      [`# impression tracker ${ids.impression}`, `# impression tracker ${ids.secondImpression}`],
    );
  });
});

describe('warning of tags whose hits are booked at a media cost of 0', () => {
  /** A key of account 1 with `role`, scoped to `scope`. */
  const keyOf = (role: 'reader' | 'editor', scope: KeyScope | null): string => {
    const made = newApiKey();
    accounts.addKey(1, made.hash, made.prefix, role, role, scope, Date.now());
    return made.key;
  };
  /** The export of `path` with `body` by `other`, a key's answer as JSON. */
  const exportAs = async (other: string, path: string, body: unknown) => {
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${other}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };
  it('warns of a tracker whose publisher has no payment rule, in the JSON, the file and the mail', async () => {
    const unpriced = storedTracker(catalog, 'impression', NOW_MS);
    const publisherId = catalog.trackers.get(1, unpriced)?.publisherId ?? 0;
    const answer = await exportOf(impression(unpriced), {
      params: ['cachebuster'],
      trackerIds: [ids.impression],
    });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(codesOf(answer.body.warnings), [['no_payment_rule', unpriced]]);
    const message = `impression tracker ${unpriced}: publisher ${publisherId} has no payment rule, so this tracker's hits are booked with a media cost of 0 unless they carry ancost: add the publisher's base rule (POST /v1/payment-rules with publisherId ${publisherId})`;
    assert.equal(answer.body.warnings[0].message, message);

    const file = await fetch(`${base}${impression(unpriced)}?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ params: ['cachebuster'] }),
    });
    const lines = (await file.text()).split('\n');
    assert.deepEqual(lines.slice(0, 2), [
      `# impression tracker ${unpriced}`,
      `# warning no_payment_rule: ${message}`,
    ]);

    const mailed = await exportOf(impression(unpriced), {
      params: ['cachebuster'],
      delivery: 'email',
      email: 'trafficking@agency.example',
    });
    assert.equal(mailed.status, 202, mailed.text);
    assert.deepEqual(codesOf(mailed.body.warnings), [['no_payment_rule', unpriced]]);
    const mail = decodedMail(smtp.mails.at(-1)?.text ?? '');
    assert.match(mail, /^Subject: Tally impression tracker tags \(1\), with warnings$/m);
    assert.match(
      mail,
      /^Warning: the hits of some of these tags will be booked at a media cost of 0 as their terms stand; see the lines starting "# warning" below\.$/m,
    );
    assert.doesNotMatch(mail, /will not be counted|no cachebuster/);
    assert.match(mail, new RegExp(`^# warning no_payment_rule: impression tracker ${unpriced}: `, 'm'));
  });

  it('warns of a payment rule pricing hits at a media cost of 0, naming the rule by its id alone', async () => {
    // A revshare rule of a line item booking no revenue: half of nothing.
    const id = storedTracker(catalog, 'impression', NOW_MS);
    const publisherId = catalog.trackers.get(1, id)?.publisherId ?? 0;
    const rule = stored(
      catalog.paymentRules.create(
        1,
        {
          ...cpmRule(0),
          publisherId,
          name: 'Squeeze Pub hard',
          pricingType: 'revshare',
          revshareMicros: 500_000,
          costCpmMicros: null,
        },
        NOW_MS,
      ),
    );
    const answer = await exportOf(impression(id), { params: ['cachebuster'] });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(codesOf(answer.body.warnings), [['zero_media_cost', id]]);
    const message: string = answer.body.warnings[0].message;
    assert.match(
      message,
      new RegExp(
        `^impression tracker ${id}: hits without ancost that payment rule ${rule.id} prices are booked with a media cost of 0 and a revenue of 0: it pays a share of the revenue`,
      ),
    );
    assert.doesNotMatch(message, /Squeeze/, 'the rule is named by its id alone');
  });

  it('warns of a click tracker of a cpc line item whose clicks a rule pays nothing for, and not of another', async () => {
    const click = storedTracker(catalog, 'click', NOW_MS);
    const clickTrackerStored = catalog.trackers.get(1, click);
    assert.ok(clickTrackerStored !== undefined, 'the click tracker is stored');
    stored(
      catalog.paymentRules.create(
        1,
        {
          ...cpmRule(0),
          publisherId: clickTrackerStored.publisherId,
          pricingType: 'revshare',
          revshareMicros: 500_000,
          costCpmMicros: null,
        },
        NOW_MS,
      ),
    );
    const path = `/v1/click-trackers/${click}/export`;
    // Its line item books no revenue (revenueType none): a click costs its ancost alone.
    assert.deepEqual((await exportOf(path, { params: ['cachebuster'] })).body.warnings, []);
    const lineItem = catalog.lineItems.get(1, clickTrackerStored.lineItemId);
    assert.ok(lineItem !== undefined, 'the line item is stored');
    stored(
      catalog.lineItems.update(
        1,
        lineItem.id,
        { ...lineItem, revenueType: 'cpc', revenueValueMicros: 0 },
        NOW_MS,
      ),
    );
    const answer = await exportOf(path, { params: ['cachebuster'] });
    assert.deepEqual(codesOf(answer.body.warnings), [['zero_media_cost', click]]);
    assert.match(
      answer.body.warnings[0].message,
      new RegExp(`^click tracker ${click}: clicks without ancost`),
    );
  });

  it('gives a key scoped to the advertiser no pricing warning, as it is shown no media cost, and its publisher’s key every one', async () => {
    const id = storedTracker(catalog, 'impression', NOW_MS);
    const paused = catalog.trackers.get(1, id);
    assert.ok(paused !== undefined, 'the tracker is stored');
    stored(catalog.trackers.update(1, id, { ...paused, state: 'inactive' }, NOW_MS));
    const advertiserKey = keyOf('editor', { type: 'advertiser', id: paused.advertiserId });
    const publisherKey = keyOf('editor', { type: 'publisher', id: paused.publisherId });
    const asAdvertiser = await exportAs(advertiserKey, impression(id), {});
    assert.equal(asAdvertiser.status, 200, JSON.stringify(asAdvertiser.body));
    assert.deepEqual(codesOf(asAdvertiser.body.warnings), [
      ['inactive_tracker', id],
      ['cachebuster_missing', id],
    ]);
    const asPublisher = await exportAs(publisherKey, impression(id), {});
    assert.equal(asPublisher.status, 200, JSON.stringify(asPublisher.body));
    assert.deepEqual(codesOf(asPublisher.body.warnings), [
      ['inactive_tracker', id],
      ['cachebuster_missing', id],
      ['no_payment_rule', id],
    ]);
  });
});

describe('warning of tags without a cachebuster', () => {
  it('warns of each impression tracker exported without cachebuster, in the JSON, the file and the mail', async () => {
    const body = { trackerIds: [ids.secondImpression] };
    const answer = await exportOf(impression(), body);
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(codesOf(answer.body.warnings), [
      ['cachebuster_missing', ids.impression],
      ['cachebuster_missing', ids.secondImpression],
    ]);
    const message = `impression tracker ${ids.secondImpression}'s tag carries no cachebuster, so a repeated impression cannot be told from a new one: every hit on it is recorded as a new one and flagged cachebusterMissing: add "cachebuster" to params, and the tag carries cachebuster=[CACHEBUSTER], Xandr's export placeholder, for ad ops to replace with the random-number macro of the ad server serving the tag`;
    assert.equal(answer.body.warnings[1].message, message);

    const file = await fetch(`${base}${impression()}?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const lines = (await file.text()).split('\n');
    assert.deepEqual(
      [lines[4], lines[5], lines[6]?.startsWith('<!-- Tally impression tracker')],
      [`# impression tracker ${ids.secondImpression}`, `# warning cachebuster_missing: ${message}`, true],
    );

    const mailed = await exportOf(impression(), { delivery: 'email', email: 'trafficking@agency.example' });
    assert.equal(mailed.status, 202, mailed.text);
    assert.deepEqual(codesOf(mailed.body.warnings), [['cachebuster_missing', ids.impression]]);
    const mail = decodedMail(smtp.mails.at(-1)?.text ?? '');
    assert.match(mail, /^Subject: Tally impression tracker tags \(1\), with warnings$/m);
    assert.match(
      mail,
      /^Warning: these tags carry no cachebuster, so each of their hits is counted as a new one, repeats included, and flagged cachebusterMissing; see the lines starting "# warning" below\.$/m,
    );
    assert.doesNotMatch(mail, /will not be counted|media cost of 0/);
    assert.match(
      mail,
      new RegExp(`^# warning cachebuster_missing: impression tracker ${ids.impression}'s `, 'm'),
    );
  });

  it('names the cachebuster macro of the ad server whose placeholders are asked for', async () => {
    const expected: [Record<string, unknown>, string][] = [
      [
        { placeholders: 'gam' },
        'cachebuster=%%CACHEBUSTER%%, which Google Ad Manager fills with a random number',
      ],
      [{ placeholders: 'cm360' }, 'cachebuster=%n, which Campaign Manager 360 fills with a random number'],
      [
        { placeholders: 'xandr_macros' },
        'cachebuster=${CACHEBUSTER}, which Xandr fills with a random number',
      ],
      [{ type: 'vast' }, 'cachebuster=[CACHEBUSTING], which the VAST player fills with a random number'],
    ];
    for (const [body, macro] of expected) {
      const answer = await exportOf(impression(), body);
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(
        codesOf(answer.body.warnings),
        [['cachebuster_missing', ids.impression]],
        JSON.stringify(body),
      );
      assert.equal(
        answer.body.warnings[0].message.includes(`add "cachebuster" to params, and the tag carries ${macro}`),
        true,
        `${JSON.stringify(body)}: ${answer.body.warnings[0].message}`,
      );
    }
  });

  it('warns of a click tracker exported without cachebuster, as each of its clicks is flagged cachebusterMissing too', async () => {
    const click = `/v1/click-trackers/${ids.click}/export`;
    const answer = await exportOf(click, { placeholders: 'gam' });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(codesOf(answer.body.warnings), [['cachebuster_missing', ids.click]]);
    assert.match(
      answer.body.warnings[0].message,
      new RegExp(
        `^click tracker ${ids.click}'s tag carries no cachebuster, so a repeated click cannot be told from a new one: .*cachebuster=%%CACHEBUSTER%%, which Google Ad Manager fills`,
      ),
    );
  });

  it('gives no cachebuster warning to a tag exported with cachebuster, of either kind and any placeholders', async () => {
    for (const placeholders of ['xandr', 'gam', 'cm360', 'xandr_macros', 'vast']) {
      for (const path of [impression(), `/v1/click-trackers/${ids.click}/export`]) {
        const answer = await exportOf(path, { params: ['cachebuster'], placeholders });
        assert.equal(answer.status, 200, answer.text);
        assert.deepEqual(answer.body.warnings, [], `${path} ${placeholders}`);
      }
    }
  });
});

describe('mailing tracker tags', () => {
  const mailBody = (email: unknown) => ({ delivery: 'email', email });

  it('mails the tags from the configured sender to the address asked for, naming each tracker', async () => {
    const before = smtp.mails.length;
    const answer = await exportOf(impression(), mailBody('trafficking@agency.example'));
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    assert.equal(answer.body.email, 'trafficking@agency.example');
    assert.equal(smtp.mails.length, before + 1);
    const mail = smtp.mails.at(-1);
    assert.equal(mail?.from, MAIL_FROM);
    assert.deepEqual(mail?.to, ['trafficking@agency.example']);
    assert.match(mail?.text ?? '', new RegExp(`# impression tracker ${ids.impression}`));
  });

  it('attaches the very file ?download=1 answers, its warnings included', async () => {
    const paused = tracker('impression');
    const pausedTracker = catalog.trackers.get(1, paused);
    assert.ok(pausedTracker !== undefined, 'the tracker to pause is stored');
    stored(catalog.trackers.update(1, paused, { ...pausedTracker, state: 'inactive' }, NOW_MS));
    const body = { trackerIds: [ids.impression] };
    const file = await fetch(`${base}${impression(paused)}?download=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const downloaded = await file.text();
    assert.match(downloaded, /^# warning inactive_tracker: /m);
    const answer = await exportOf(impression(paused), { ...body, ...mailBody('trafficking@agency.example') });
    assert.equal(answer.status, 202, answer.text);
    const raw = (smtp.mails.at(-1)?.text ?? '').replace(/\r\n/g, '\n');
    const attached =
      /\nContent-Disposition: attachment; filename=tally-impression-trackers\.txt\n\n([A-Za-z0-9+/=\n]+)/.exec(
        raw,
      )?.[1];
    assert.ok(attached !== undefined, raw);
    assert.equal(Buffer.from(attached.replace(/\n/g, ''), 'base64').toString('utf8'), downloaded);
  });

  it('refuses an address sent without delivery email, which would be ignored and the tags never mailed', async () => {
    const before = smtp.mails.length;
    for (const body of [{ email: 'adops@example.com' }, { delivery: 'now', email: 'adops@example.com' }]) {
      assert.equal(
        await refusal(body),
        'email is only for delivery "email": add "delivery": "email" to mail the tags, or leave email out',
      );
    }
    assert.equal(smtp.mails.length, before);
  });

  it('refuses an address that is not one, or is several, before mailing anything', async () => {
    const before = smtp.mails.length;
    for (const email of [
      undefined,
      '',
      'adops',
      'adops@example',
      'a@x.example,b@y.example',
      'Ad Ops <a@x.example>',
      'a@x.example;b@y.example',
      'adops@example.com,',
      '<adops@example.com>',
      '"adops"@example.com',
    ]) {
      assert.match(
        await refusal(mailBody(email)),
        /^email must be the address to send the tags to/,
        String(email),
      );
    }
    assert.equal(smtp.mails.length, before);
  });

  it('answers 502 MAIL_FAILED, with the server’s reason, when the SMTP server refuses the message', async () => {
    const answer = await exportOf(impression(), mailBody('refused@agency.example'));
    assert.equal(answer.status, 502);
    assert.equal(answer.body.error.code, 'MAIL_FAILED');
    assert.match(answer.body.error.message, /^the SMTP server refused the message: .*no such mailbox/);
  });

  it('answers 502 MAIL_FAILED without naming the SMTP server’s address when it cannot be reached', async () => {
    // Nothing listens on port 1: the connection is refused at once.
    const unreachable = await serveApi(
      exportRoutes(catalog, () => snapshot.current(), PUBLIC_URL, {
        smtpUrl: 'smtp://127.0.0.1:1',
        from: MAIL_FROM,
      }),
      accounts,
    );
    try {
      const response = await fetch(`${unreachable.base}${impression()}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(mailBody('adops@agency.example')),
      });
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual([response.status, error.code], [502, 'MAIL_FAILED']);
      assert.match(error.message, /could not be reached or failed \(logged as request_failed\)/);
      assert.doesNotMatch(error.message, /127\.0\.0\.1|ECONNREFUSED|:1\b/);
      // The operator finds why in the log.
      const failed = unreachable.logged.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        failed.map((entry) => [entry.event, /ECONNREFUSED 127\.0\.0\.1:1/.test(String(entry.cause))]),
        [['request_failed', true]],
      );
    } finally {
      await unreachable.close();
    }
  });
});
