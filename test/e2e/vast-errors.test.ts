import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { fixtureText } from '../support/fixtures.js';
import { registerVideoWin } from '../support/video-win.js';
import { CHROME } from '../support/user-agents.js';
import { reportWindowAroundNow } from '../support/report-window.js';

/**
 * VAST errors by code over real HTTP: a VAST win registered from the fixtures, its `<Error>` URL
 * fired by a player with a code, with the macro left unreplaced and with a code that is none, and
 * the reports that group and filter the notices by the code.
 */

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

/** A player's GET of a notice URL: its status, content type and body. */
async function fire(url: string): Promise<{ status: number; type: string | null; body: Buffer }> {
  const response = await fetch(url, { headers: { 'user-agent': CHROME } });
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: Buffer.from(await response.arrayBuffer()),
  };
}

describe('VAST errors by code', () => {
  it('keeps the code a player put in the <Error> URL, none for the macro left unreplaced or a code that is none, and reports them by it in JSON and CSV', async () => {
    const result = await registerVideoWin(tally, 'seat-video', fixtureText('vast', 'v4.0_Inline_Simple.xml'));
    assert.equal(result.method, 'vast');
    const errorUrl: string = result.noticeUrls.vast_error;
    assert.match(errorUrl, /\?e=\[ERRORCODE\]$/);
    assert.equal(result.adm.includes(errorUrl), true, 'the markup the player gets holds the <Error> URL');

    const impression = await fire(result.noticeUrls.vast);
    const answers = [
      await fire(errorUrl.replace('[ERRORCODE]', '303')),
      await fire(errorUrl),
      await fire(errorUrl.replace('[ERRORCODE]', 'abc')),
    ];
    assert.equal(impression.status, 200);
    for (const answer of answers) {
      // The same GIF whatever the code: only the ledger tells them apart.
      assert.deepEqual(
        [answer.status, answer.type, answer.body],
        [impression.status, impression.type, impression.body],
      );
    }

    const window = reportWindowAroundNow();
    const json = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=method,vastError`);
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.deepEqual(
      json.body.rows.map((row: any) => [row.method, row.vastError, row.events, row.priceMicros]),
      [
        // The counted impression, and the two notices that named no code.
        ['vast', '', 3, 2_000_000],
        ['vast', 303, 1, 0],
      ],
    );
    const csv = await fetch(`${tally.url}/v1/reports?${window}&groupBy=method,vastError&format=csv`, {
      headers: { authorization: `Bearer ${tally.adminKey}` },
    });
    assert.equal(csv.status, 200);
    assert.deepEqual((await csv.text()).trim().split(/\r?\n/), [
      'method,vastError,events,priceMicros,mediaCostMicros,revenueMicros,profitMicros',
      'vast,,3,2000000,0,0,0',
      'vast,303,1,0,0,0,0',
    ]);

    const byNotice = async (filter: string) =>
      (
        await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=notice,outcome&${filter}`)
      ).body.rows.map((row: any) => [row.notice, row.outcome, row.events]);
    assert.deepEqual(await byNotice('vastError=303'), [['vast_error', 'not_counted', 1]]);
    assert.deepEqual(await byNotice('vastError='), [
      ['vast', 'counted', 1],
      ['vast_error', 'not_counted', 2],
    ]);
    const refused = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&vastError=abc`);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'VALIDATION_FAILED');
    assert.match(refused.body.error.message, /^vastError="abc": must be a VAST error code, 100 to 999/);
  });
});
