import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Principal } from './auth.js';
import { ApiError } from './http.js';
import { parseReportQuery } from './reports.js';

const ADMIN: Principal = { accountId: 1, keyId: 1, role: 'admin', scope: null };
const RANGE = 'from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z';
const parse = (query: string) => parseReportQuery(new URLSearchParams(query), ADMIN, () => null);

function refusal(query: string): string {
  try {
    parse(query);
  } catch (error) {
    assert.ok(error instanceof ApiError);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'VALIDATION_FAILED');
    return error.message;
  }
  assert.fail(`${query} was accepted`);
}

describe('report queries', () => {
  it('filters on the dimensions named, and takes format=csv as the output rather than an ad format', () => {
    const query = parse(`${RANGE}&groupBy=hour,seat&seat=s1&format=csv&outcome=counted`);
    assert.deepEqual(query.groupBy, ['hour', 'seat']);
    assert.deepEqual(query.filters, { seat: 's1', outcome: 'counted' });
  });

  it('refuses a misspelt filter instead of answering unfiltered totals, naming it and what is allowed', () => {
    const message = refusal(`${RANGE}&groupBy=hour&sear=s1`);
    assert.match(message, /unknown parameter "sear"/);
    assert.match(message, /seat/);
  });

  it('refuses a filter given twice instead of keeping its first value', () => {
    assert.match(refusal(`${RANGE}&seat=s1&seat=s2`), /"seat" is given more than once/);
  });

  it('repeats at most 64 characters of an unknown parameter name', () => {
    const message = refusal(`${RANGE}&${'x'.repeat(10_000)}=1`);
    assert.ok(message.length < 400, `message of ${message.length} characters`);
  });
});
