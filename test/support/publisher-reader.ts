import assert from 'node:assert/strict';
import { api } from './server.js';
import type { TestServer } from './server.js';

/**
 * Creates a catalog publisher named `name` whose OpenRTB publisher id is `externalId`, and a reader
 * key scoped to it, through the server's API; answers the key.
 */
export async function publisherReaderKey(
  server: Pick<TestServer, 'url' | 'adminKey'>,
  name: string,
  externalId: string,
): Promise<string> {
  const publisher = await api(server, server.adminKey, 'POST', '/v1/publishers', { name, externalId });
  assert.equal(publisher.status, 201, JSON.stringify(publisher.body));
  const key = await api(server, server.adminKey, 'POST', '/v1/api-keys', {
    name: `${name} reader`,
    role: 'reader',
    scope: { type: 'publisher', id: publisher.body.id },
  });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return key.body.key as string;
}
