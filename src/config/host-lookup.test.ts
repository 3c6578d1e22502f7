import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostLookupProblem } from './host-lookup.js';

/** A resolver that fails every lookup with `code`, naming each host it was asked for in `asked`. */
function failingLookup(code: string, asked: string[]) {
  return (host: string) => {
    asked.push(host);
    return Promise.reject(Object.assign(new Error(`getaddrinfo ${code} ${host}`), { code }));
  };
}

describe('the host to listen on, looked up', () => {
  it('looks up no IP address: a literal one is fine whatever the resolver says', async () => {
    const asked: string[] = [];
    for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1'])
      assert.equal(await hostLookupProblem(host, failingLookup('ENOTFOUND', asked)), undefined, host);
    assert.deepEqual(asked, []);
  });

  it('refuses a host name that resolves to no address, saying what to give instead', async () => {
    const asked: string[] = [];
    assert.equal(
      await hostLookupProblem('tally.internal', failingLookup('ENOTFOUND', asked)),
      'does not resolve to an address (ENOTFOUND): give an address of this machine, or a host name that resolves to one; e.g. 0.0.0.0 (every interface), 127.0.0.1 or ::1',
    );
    assert.deepEqual(asked, ['tally.internal']);
  });

  it('leaves a lookup that failed for want of an answer (EAI_AGAIN) to the listen: the name may be right', async () => {
    assert.equal(await hostLookupProblem('tally.internal', failingLookup('EAI_AGAIN', [])), undefined);
  });

  it('accepts a host name the system resolves, as localhost', async () => {
    assert.equal(await hostLookupProblem('localhost'), undefined);
  });
});
