import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BROWSER_BLOCKED_PORTS } from './browser-blocked-ports.js';

/** Why Node's `fetch` refused a loopback URL on `port`, or `'called'` when it tried the port. */
async function fetchRefusal(port: number): Promise<string> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
    return 'called';
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause;
    return cause?.message === 'bad port' ? 'bad port' : 'called';
  }
}

describe('the ports browsers block', () => {
  it("are each refused by Node's fetch as a bad port, and the ports beside them are not", async () => {
    const listed = [...BROWSER_BLOCKED_PORTS];
    const neighbours = [...new Set(listed.flatMap((port) => [port - 1, port + 1]))].filter(
      (port) => port > 0 && !BROWSER_BLOCKED_PORTS.has(port),
    );
    const refusals = async (ports: number[]) =>
      new Map(await Promise.all(ports.map(async (port) => [port, await fetchRefusal(port)] as const)));
    assert.deepEqual(
      [...(await refusals(listed))].filter(([, refusal]) => refusal !== 'bad port'),
      [],
      'listed ports fetch called',
    );
    assert.deepEqual(
      [...(await refusals(neighbours))].filter(([, refusal]) => refusal !== 'called'),
      [],
      'unlisted ports fetch refused',
    );
  });
});
