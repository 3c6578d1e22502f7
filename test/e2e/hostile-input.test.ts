import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { api, startServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

let tally: TestServer;

before(async () => {
  tally = await startServer();
});

after(async () => {
  await tally?.dispose();
});

describe('hostile input on the hot path and the API', () => {
  it('never answers a server error to arbitrary notice and tracker URLs or agents', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/n/', '/n/AQE', '/imptr?', '/imptr?id=1&redir=', '/clktr?code='),
        fc.string({ unit: 'binary', maxLength: 120 }),
        fc.string({ maxLength: 60 }),
        async (prefix, tail, userAgent) => {
          const response = await fetch(`${tally.url}${prefix}${encodeURI(tail).replace(/#/g, '%23')}`, {
            headers: { 'user-agent': userAgent.replace(/[^\x20-\x7e]/g, '') },
            redirect: 'manual',
          });
          await response.arrayBuffer();
          assert.ok(response.status < 500, `${response.status} for ${prefix}${tail}`);
        },
      ),
      { numRuns: 200 },
    );
    assert.equal((await fetch(`${tally.url}/healthz`)).status, 200);
  });

  it('answers arbitrary JSON bodies on the API with a 4xx envelope, never a 5xx', async () => {
    const paths = [
      '/v1/wins',
      '/v1/advertisers',
      '/v1/line-items',
      '/v1/payment-rules',
      '/v1/impression-trackers',
      '/v1/api-keys',
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.jsonValue({ maxDepth: 3 }), async (path, body) => {
        const response = await api(tally, tally.adminKey, 'POST', path, body);
        assert.ok(
          response.status < 500,
          `${response.status} for ${path} ${JSON.stringify(body)}: ${JSON.stringify(response.body)}`,
        );
        if (response.status >= 400) {
          assert.equal(typeof response.body.error.code, 'string');
          assert.equal(typeof response.body.error.requestId, 'string');
        }
      }),
      { numRuns: 150 },
    );
  });

  it('answers wins with hostile shapes one by one, never failing the batch', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue({ maxDepth: 4 }), { maxLength: 5 }), async (wins) => {
        const response = await api(tally, tally.adminKey, 'POST', '/v1/wins', { wins });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.results.length, wins.length);
      }),
      { numRuns: 100 },
    );
  });
});
