import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { forwardOutput } from './closed-output.js';

/** A destination that keeps what it is given, failing every write from the `failFrom`th on. */
function destination(failFrom = Infinity): { stream: Writable; written: string[] } {
  const written: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (written.length + 1 >= failFrom)
        return done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      written.push(chunk.toString());
      done();
    },
  });
  stream.on('error', () => {});
  return { stream, written };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe("forwarding a worker thread's output", () => {
  it('writes what the thread writes, in order', async () => {
    const source = new PassThrough();
    const { stream, written } = destination();
    forwardOutput(source, stream);
    for (const line of ['one\n', 'two\n', 'three\n']) source.write(line);
    await settle();
    assert.deepEqual(written, ['one\n', 'two\n', 'three\n']);
  });

  it('drops what the thread writes once the destination failed, rather than keep it in memory', async () => {
    const source = new PassThrough();
    const { stream, written } = destination(2);
    forwardOutput(source, stream);
    source.write('before\n');
    await settle();
    source.write('fails\n');
    await settle();
    assert.ok(stream.destroyed, 'the failed write destroyed the destination');
    // Far past a stream's buffer (16 KiB): all read, none kept.
    for (let line = 0; line < 1000; line++) source.write(`${'x'.repeat(1000)}\n`);
    await settle();
    assert.equal(source.readableLength, 0);
    assert.equal(source.writableLength, 0);
    assert.deepEqual(written, ['before\n']);
  });
});
