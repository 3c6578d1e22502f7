import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { serveRequests } from './request-thread.js';

/** Sends `request` to a port served by `serveRequests` and resolves with the reply. */
function ask(port: MessageChannel['port1'], request: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    port.once('message', resolve);
    port.postMessage({ id: 1, request });
  });
}

describe('serveRequests', () => {
  it('moves the buffers the answer names to the caller, leaving none behind in the answering thread', async () => {
    const { port1, port2 } = new MessageChannel();
    let sent: Uint8Array | undefined;
    serveRequests(
      port2,
      (text: string) => (sent = new TextEncoder().encode(text)),
      (bytes) => [bytes.buffer],
    );
    try {
      const reply = (await ask(port1, 'héllo')) as { id: number; answer: Uint8Array };
      assert.equal(reply.id, 1);
      assert.equal(new TextDecoder().decode(reply.answer), 'héllo');
      assert.equal(sent?.byteLength, 0, 'moved, not copied: the sender’s view is detached');
    } finally {
      port1.close();
    }
  });

  it('copies answers when nothing is named to move, and replies with what the handler threw', async () => {
    const { port1, port2 } = new MessageChannel();
    let sent: Uint8Array | undefined;
    serveRequests(port2, (text: string) => {
      if (text === '') throw new Error('empty request');
      return (sent = new TextEncoder().encode(text));
    });
    try {
      const reply = (await ask(port1, 'abc')) as { answer: Uint8Array };
      assert.equal(new TextDecoder().decode(reply.answer), 'abc');
      assert.equal(sent?.byteLength, 3);
      assert.deepEqual(await ask(port1, ''), { id: 1, error: 'Error: empty request' });
    } finally {
      port1.close();
    }
  });
});

describe('RequestThread', () => {
  it('fails the request a thread ran out of memory on as such, the ones queued behind it as a death, and starts a new thread for the next', () => {
    const ask = fileURLToPath(new URL('../../test/support/hungry-thread/ask.ts', import.meta.url));
    const printed = execFileSync(process.execPath, ['--max-old-space-size=32', '--import', 'tsx', ask], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.deepEqual(JSON.parse(printed), [
      { error: 'ThreadOutOfMemoryError' },
      { error: 'Error' },
      { answer: 'fed' },
    ]);
  });
});
