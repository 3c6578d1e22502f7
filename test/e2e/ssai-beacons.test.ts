import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { startDsp } from '../support/dsp.js';
import type { FakeDsp } from '../support/dsp.js';
import { ledgerEventsOf } from '../support/ledger-events.js';

/**
 * A CTV video's VAST impression fired by a server-side ad inserter (SSAI) on the device's behalf,
 * over real HTTP to a real server, in the header shapes vendors document: the device in
 * `X-Device-IP` / `X-Device-User-Agent` (VAST 4 §1.1.3, Index Exchange's list for server-side
 * burls), both as well as the device's agent in `User-Agent` and its address in `X-Forwarded-For`
 * (Adobe Primetime Ad Insertion's server-side tracking), or only the device's `User-Agent` and
 * `X-Forwarded-For` (Criteo's server-side beacons). The SSAI server is Tally's loopback peer, in a
 * blocked (data-centre) range and listed as a trusted notifier, as an operator sets one up.
 */

/** CTV devices' own agents, as their players fire a VAST impression. */
const CTV_DEVICES: Record<string, string> = {
  roku: 'Roku/DVP-12.5 (12.5.0.4178-AE)',
  fireTv: 'Dalvik/2.1.0 (Linux; U; Android 9; AFTMM Build/PS7242)',
  tizen:
    'Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36',
  webOs:
    'Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/79.0.3945.79 Safari/537.36 WebAppManager',
  appleTv: 'AppleCoreMedia/1.0.0.21J354 (Apple TV; U; CPU OS 17_0 like Mac OS X; en_us)',
  androidTv: 'com.example.tv/3.1 (Linux;Android 12) ExoPlayerLib/2.19.1',
  chromecast:
    'Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36 CrKey/1.56.500000 DeviceType/Chromecast',
};
/** A server-side ad inserter naming itself with a bare name and version. */
const STITCHER = 'Example-Stitcher/4.2';

let tally: TestServer;
let dsp: FakeDsp;
let auctionSeq = 0;

before(async () => {
  [tally, dsp] = await Promise.all([
    startServer({ TALLY_IVT_BLOCKED_IPS: '127.0.0.0/8', TALLY_IVT_TRUSTED_NOTIFIERS: '127.0.0.1' }),
    startDsp(),
  ]);
});

after(async () => {
  await Promise.all([tally?.dispose(), dsp?.close()]);
});

/** Registers a CTV video win; resolves with its auction id and VAST impression URL. */
async function ctvWin(): Promise<{ auctionId: string; impressionUrl: string }> {
  auctionSeq++;
  const auctionId = `ssai-${auctionSeq}`;
  const win = {
    request: {
      id: auctionId,
      imp: [{ id: '1', video: { mimes: ['video/mp4'], w: 1920, h: 1080 } }],
      app: { bundle: 'tv.example.channel', publisher: { id: 'pub-ctv' } },
      device: { devicetype: 3 },
    },
    seat: 'seat-ctv',
    bid: {
      id: `bid-${auctionSeq}`,
      impid: '1',
      price: 12,
      nurl: 'https://dsp.invalid/vast',
      burl: `${dsp.url}/bill`,
    },
  };
  const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  const [result] = response.body.results;
  assert.equal(result.method, 'vast', JSON.stringify(result));
  return { auctionId, impressionUrl: result.noticeUrls.vast };
}

async function fire(url: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(url, { headers, redirect: 'manual' });
  await response.arrayBuffer();
  return response.status;
}

/** The ledger's rows of an auction: `<outcome>/<reason>[/<rule>] <device ip> <user agent>`. */
function recorded(auctionId: string): string[] {
  return ledgerEventsOf(tally.dataDir, [auctionId]).map(
    (row) =>
      `${row.outcome}/${row.reason}${row.ivt_rule === '' ? '' : `/${row.ivt_rule}`} ${row.device_ip} ${String(row.user_agent)}`,
  );
}

describe('SSAI beacons', () => {
  it('counts each CTV device once, judged on the device the server names, in each header shape vendors send', async () => {
    for (const [name, agent] of Object.entries(CTV_DEVICES)) {
      const shapes: Record<string, string>[] = [
        { 'user-agent': STITCHER, 'x-device-ip': '198.51.100.10', 'x-device-user-agent': agent },
        {
          'user-agent': agent,
          'x-device-user-agent': agent,
          'x-forwarded-for': '198.51.100.10',
        },
        { 'user-agent': agent, 'x-forwarded-for': '198.51.100.10' },
      ];
      for (const headers of shapes) {
        const { auctionId, impressionUrl } = await ctvWin();
        assert.equal(await fire(impressionUrl, headers), 200);
        assert.equal(await fire(impressionUrl, headers), 200);
        assert.deepEqual(
          recorded(auctionId),
          [`counted/ 198.51.100.10 ${agent}`, `not_counted/duplicate 198.51.100.10 ${agent}`],
          `${name} ${JSON.stringify(headers)}`,
        );
      }
    }
  });

  it('does not count a server that names no device: its own agent is a bot, its own address a data centre', async () => {
    const bare = await ctvWin();
    await fire(bare.impressionUrl, { 'user-agent': STITCHER });
    assert.deepEqual(recorded(bare.auctionId), [
      `not_counted/invalid_traffic/bot_user_agent 127.0.0.1 ${STITCHER}`,
    ]);
    const noAddress = await ctvWin();
    await fire(noAddress.impressionUrl, {
      'user-agent': STITCHER,
      'x-device-user-agent': CTV_DEVICES.roku ?? '',
    });
    assert.deepEqual(recorded(noAddress.auctionId), [
      `not_counted/invalid_traffic/blocked_ip 127.0.0.1 ${CTV_DEVICES.roku}`,
    ]);
  });

  it('records the device address in one spelling, and gives way to X-Forwarded-For where X-Device-IP lists several', async () => {
    const agent = CTV_DEVICES.roku ?? '';
    const cases: [Record<string, string>, string][] = [
      [{ 'x-device-ip': '2001:DB8:0:0::0A' }, '2001:db8::a'],
      [{ 'x-device-ip': '::ffff:198.51.100.11' }, '198.51.100.11'],
      [{ 'x-device-ip': '10.1.2.3' }, '10.1.2.3'],
      [
        { 'x-device-ip': '198.51.100.12, 198.51.100.13', 'x-forwarded-for': '198.51.100.14' },
        '198.51.100.14',
      ],
    ];
    for (const [addressHeaders, deviceIp] of cases) {
      const { auctionId, impressionUrl } = await ctvWin();
      await fire(impressionUrl, { 'user-agent': STITCHER, 'x-device-user-agent': agent, ...addressHeaders });
      assert.deepEqual(
        recorded(auctionId),
        [`counted/ ${deviceIp} ${agent}`],
        JSON.stringify(addressHeaders),
      );
    }
  });
});
