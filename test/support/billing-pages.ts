import assert from 'node:assert/strict';
import { api } from './server.js';
import type { TestServer } from './server.js';

/**
 * Every billing record `key` reads with `query` (the query string without `after`), following
 * `next` page by page; each page must be answered 200.
 */
export async function everyBillingRecord(
  server: Pick<TestServer, 'url'>,
  key: string,
  query: string,
): Promise<any[]> {
  const records: any[] = [];
  for (let after = ''; ;) {
    const page = await api(server, key, 'GET', `/v1/billing-records?${query}${after}`);
    assert.equal(page.status, 200, `${query}: ${JSON.stringify(page.body)}`);
    records.push(...page.body.records);
    if (page.body.next === null) return records;
    after = `&after=${page.body.next}`;
  }
}
