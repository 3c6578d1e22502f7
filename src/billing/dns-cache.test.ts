import * as assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import {
  DNS_CACHE_SECONDS,
  DNS_FAILURE_CACHE_SECONDS,
  DnsCache,
  UNSETTLED_LOOKUP_SECONDS,
} from './dns-cache.js';
import type { ResolveAll } from './dns-cache.js';

/** A resolver that counts its lookups and answers each when the test says. */
function heldResolver(): {
  resolveAll: ResolveAll;
  asked: string[];
  answer: (addresses: LookupAddress[] | Error) => void;
} {
  const asked: string[] = [];
  const pending: ((addresses: LookupAddress[] | Error) => void)[] = [];
  return {
    asked,
    resolveAll: (hostname, family) => {
      asked.push(`${family} ${hostname}`);
      return new Promise((resolve, reject) =>
        pending.push((result) => (result instanceof Error ? reject(result) : resolve(result))),
      );
    },
    answer: (result) => pending.shift()?.(result),
  };
}

const DSP: LookupAddress[] = [{ address: '203.0.113.7', family: 4 }];

describe('the relay’s DNS cache', () => {
  it('shares one lookup among the calls that ask at once, keeps its addresses for a while, then looks up again', async () => {
    const resolver = heldResolver();
    let nowMs = 1_000;
    const dns = new DnsCache(resolver.resolveAll, () => nowMs);
    const first = dns.lookup('dsp.example', 0);
    const second = dns.lookup('DSP.example', 0);
    resolver.answer(DSP);
    assert.deepEqual(await Promise.all([first, second]), [DSP, DSP]);
    nowMs += DNS_CACHE_SECONDS * 1000 - 1;
    assert.deepEqual(await dns.lookup('dsp.example', 0), DSP);
    assert.deepEqual(resolver.asked, ['0 dsp.example'], 'one lookup so far');
    nowMs += 1;
    const again = dns.lookup('dsp.example', 0);
    resolver.answer(DSP);
    assert.deepEqual(await again, DSP);
    assert.deepEqual(resolver.asked, ['0 dsp.example', '0 dsp.example']);
  });

  it('keeps a failed lookup for a few seconds only, and each family apart', async () => {
    const resolver = heldResolver();
    let nowMs = 1_000;
    const dns = new DnsCache(resolver.resolveAll, () => nowMs);
    const failed = dns.lookup('gone.example', 0);
    resolver.answer(new Error('getaddrinfo ENOTFOUND gone.example'));
    await assert.rejects(failed, /ENOTFOUND/);
    await assert.rejects(dns.lookup('gone.example', 0), /ENOTFOUND/);
    const sixOnly = dns.lookup('gone.example', 6);
    resolver.answer(DSP);
    assert.deepEqual(await sixOnly, DSP);
    nowMs += DNS_FAILURE_CACHE_SECONDS * 1000;
    const retried = dns.lookup('gone.example', 0);
    resolver.answer(DSP);
    assert.deepEqual(await retried, DSP);
    assert.deepEqual(resolver.asked, ['0 gone.example', '6 gone.example', '0 gone.example']);
  });

  it('takes an answer of no address as a failed lookup, kept for a few seconds only', async () => {
    const resolver = heldResolver();
    let nowMs = 1_000;
    const dns = new DnsCache(resolver.resolveAll, () => nowMs);
    const empty = dns.lookup('void.example', 4);
    resolver.answer([]);
    await assert.rejects(empty, { code: 'ENOTFOUND', message: 'void.example has no IPv4 address' });
    await assert.rejects(dns.lookup('void.example', 4), { code: 'ENOTFOUND' });
    nowMs += DNS_FAILURE_CACHE_SECONDS * 1000;
    const retried = dns.lookup('void.example', 4);
    resolver.answer(DSP);
    assert.deepEqual(await retried, DSP);
    assert.deepEqual(resolver.asked, ['4 void.example', '4 void.example']);
  });

  it('shares a lookup that has not settled for up to a minute, asking again only then: lookups of a name whose DNS does not answer, piled up, would hold the threads every other DSP’s lookup waits for', async () => {
    const resolver = heldResolver();
    let nowMs = 1_000;
    const dns = new DnsCache(resolver.resolveAll, () => nowMs);
    void dns.lookup('hung.example', 0);
    // Past the time a failure is kept, and past what the system resolver takes to give up (its
    // calls meanwhile end at their time limit).
    nowMs += DNS_FAILURE_CACHE_SECONDS * 1000;
    void dns.lookup('hung.example', 0);
    nowMs += UNSETTLED_LOOKUP_SECONDS * 1000 - DNS_FAILURE_CACHE_SECONDS * 1000 - 1;
    void dns.lookup('hung.example', 0);
    assert.deepEqual(resolver.asked, ['0 hung.example'], 'shared while it may still answer');
    nowMs += 1;
    const fresh = dns.lookup('hung.example', 0);
    assert.deepEqual(resolver.asked, ['0 hung.example', '0 hung.example']);
    resolver.answer(DSP);
    resolver.answer(DSP);
    assert.deepEqual(await fresh, DSP);
  });

  it('forgets the names past their time, so that one-off burls’ hosts are not kept', async () => {
    let nowMs = 1_000;
    const dns = new DnsCache(
      () => Promise.resolve(DSP),
      () => nowMs,
    );
    await Promise.all(['a.example', 'b.example', 'c.example'].map((name) => dns.lookup(name, 0)));
    nowMs += DNS_CACHE_SECONDS * 1000;
    await dns.lookup('d.example', 0);
    assert.deepEqual([...dns['entries'].keys()], ['0 d.example']);
  });

  it('looks up a name through the system resolver by default', async () => {
    const addresses = await new DnsCache().lookup('localhost', 4);
    assert.ok(
      addresses.some((entry) => entry.address === '127.0.0.1'),
      JSON.stringify(addresses),
    );
  });
});
