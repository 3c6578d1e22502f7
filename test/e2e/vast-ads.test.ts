import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { fixtureText } from '../support/fixtures.js';
import { registerVideoWin } from '../support/video-win.js';
import { CHROME } from '../support/user-agents.js';
import { reportWindowAroundNow } from '../support/report-window.js';

/**
 * Which elements of a VAST are its ads, over real HTTP: a pod of two ads built from an IAB sample,
 * one of which nests a whole VAST document (another IAB sample) in an `<Extension>`, registered as
 * a win, its ads played by a player, and the report of what counted.
 */

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

/** The sample's one `<Ad>` twice, as a pod, the first holding `extension` at the end of its `<InLine>`. */
function podOf(sample: string, extension: string): string {
  const ad = /<Ad [\s\S]*<\/Ad>/.exec(sample)?.[0];
  assert.ok(ad, 'the sample has an <Ad>');
  const first = ad.replace('\n    </InLine>', `\n      ${extension}\n    </InLine>`);
  assert.notEqual(first, ad, 'the extension is in the first ad');
  const second = ad.replace('id="20001" sequence="1"', 'id="20002" sequence="2"');
  return sample.replace(ad, `${first}\n  ${second}`);
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('the ads of a VAST', () => {
  it('puts Tally’s Impression in each ad of a pod and none in the VAST an Extension nests, and counts the pod’s impressions once', async () => {
    const nested = fixtureText('vast', 'v3.0_Wrapper_Tag-test.xml').trim();
    const extension = `<Extensions><Extension type="waterfall">${nested}</Extension></Extensions>`;
    const vast = podOf(fixtureText('vast', 'v4.1_Inline_Simple.xml'), extension);
    const result = await registerVideoWin(tally, 'seat-pod', vast);
    assert.deepEqual(result.warnings, []);
    const impression = `<Impression><![CDATA[${result.noticeUrls.vast}]]></Impression>`;
    assert.equal(occurrences(result.adm, impression), 2, 'one Tally <Impression> in each ad of the pod');
    assert.equal(occurrences(result.adm, result.noticeUrls.vast_error), 2, 'one Tally <Error> in each ad');
    assert.equal(occurrences(result.adm, extension), 1, 'the Extension is served as the DSP wrote it');

    // The player plays both ads of the pod, firing Tally's <Impression> in each.
    for (let played = 0; played < 2; played++) {
      const answer = await fetch(result.noticeUrls.vast, { headers: { 'user-agent': CHROME } });
      assert.equal(answer.status, 200);
    }
    const window = reportWindowAroundNow();
    const report = await api(tally, tally.adminKey, 'GET', `/v1/reports?${window}&groupBy=outcome,reason`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.deepEqual(
      report.body.rows.map((row: any) => [row.outcome, row.reason, row.events, row.priceMicros]),
      [
        ['counted', '', 1, 2_000_000],
        ['not_counted', 'duplicate', 1, 0],
      ],
    );
  });
});
