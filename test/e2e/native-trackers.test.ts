import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { fixtureJson, fixtureText } from '../support/fixtures.js';
import { CHROME } from '../support/user-agents.js';
import { HOUR_MS, hourStartMs } from '../../src/lib/time.js';

/**
 * Where Tally's tracker goes in a native response, over real HTTP: the IAB's clickout response
 * written to Native 1.1 after a byte order mark, won on the IAB's content-context request (which
 * offers the impression by script alone), its two trackers fired by a renderer firing both, and
 * the report of what counted.
 */

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('the trackers of a native response', () => {
  it('puts Tally’s script event tracker and its imptracker in a Native 1.1 response sent after a byte order mark, serves it as JSON without the mark, and counts a renderer firing both once', async () => {
    const request = fixtureJson('openrtb', 'bid-request_2.6_simple-banner.json');
    const nativeRequest = fixtureText('native', 'request_1.2_content-context.json');
    request.imp = [{ id: '1', native: { ver: '1.2', request: nativeRequest } }];
    const response = { ...fixtureJson('native', 'response_1.2_clickout.json'), ver: '1.1' };
    const win = {
      request,
      seat: 'seat-native',
      bid: { id: 'b1', impid: '1', price: 3, adm: `\uFEFF${JSON.stringify({ native: response })}` },
    };
    const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
    assert.equal(registered.status, 200);
    const [result] = registered.body.results;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(result.format, 'native');
    assert.deepEqual(result.warnings, [
      "native markup began with a byte order mark (U+FEFF), which JSON readers such as JSON.parse and Android's org.json refuse, so that the ad would not render: Tally served it without the mark",
    ]);
    const notice: string = result.noticeUrls.native;
    assert.deepEqual(JSON.parse(result.adm), {
      native: {
        ...response,
        eventtrackers: [...response.eventtrackers, { event: 1, method: 2, url: `${notice}?f=b` }],
        imptrackers: [notice],
      },
    });

    // A renderer of Native 1.1 fires the imptracker, one of 1.2 the script event tracker too.
    const pixel = await fetch(notice, { headers: { 'user-agent': CHROME } });
    assert.equal(pixel.status, 200);
    const script = await fetch(`${notice}?f=b`, { headers: { 'user-agent': CHROME } });
    assert.equal(script.status, 204);
    const hourMs = hourStartMs(Date.now());
    const window = `from=${new Date(hourMs - HOUR_MS).toISOString()}&to=${new Date(hourMs + 2 * HOUR_MS).toISOString()}`;
    const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=outcome,reason`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.rows.map((row: any) => [row.outcome, row.reason, row.events, row.priceMicros]),
      [
        ['counted', '', 1, 3_000_000],
        ['not_counted', 'duplicate', 1, 0],
      ],
    );
  });
});
