import assert from 'node:assert/strict';
import { fixtureJson } from './fixtures.js';
import { api } from './server.js';
import type { TestServer } from './server.js';

/**
 * Registers one video win: the OpenRTB 2.6 spec's video request, won by `seat` at price 2 with the
 * VAST `adm`; asserts it was registered, and returns its result (`adm`, `noticeUrls`, `warnings`…).
 */
export async function registerVideoWin(tally: TestServer, seat: string, adm: string): Promise<any> {
  const request = fixtureJson('openrtb', 'bid-request_2.6_video.json');
  const win = { request, seat, bid: { id: 'b1', impid: request.imp[0].id, price: 2, adm } };
  const registered = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins: [win] });
  assert.equal(registered.status, 200);
  const [result] = registered.body.results;
  assert.equal(result.ok, true, JSON.stringify(result));
  return result;
}
