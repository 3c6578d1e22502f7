import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LaneAnswers } from './lane-answers.js';
import type { NoticeAnswer } from './notice-answer.js';
import { NO_CONTENT, PIXEL, UNAVAILABLE } from './notice-answer.js';
import { PIXEL_GIF } from './responses.js';

/** 2026-11-22T10:30:00Z, on a second. */
const NOW_MS = Date.UTC(2026, 10, 22, 10, 30);
const ANSWERS: readonly NoticeAnswer[] = [
  PIXEL,
  NO_CONTENT,
  UNAVAILABLE,
  { kind: 'redirect', location: 'https://dsp.test/b?p=1' },
  { kind: 'body', status: 404, contentType: 'text/html; charset=utf-8', body: Buffer.from('<p>’</p>\n') },
];

/** The head of an answer (without the blank line) and its body. */
function split(bytes: Buffer): { head: string[]; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  assert.ok(end !== -1, 'no blank line ends the head');
  return { head: bytes.toString('latin1', 0, end).split('\r\n'), body: bytes.subarray(end + 4) };
}

describe('the notice lane’s answers', () => {
  it('writes the 43-byte GIF with the headers that keep it out of every cache', () => {
    const bytes = new LaneAnswers(5).bytes(PIXEL, false, true, NOW_MS + 250);
    assert.equal(
      bytes.toString('latin1'),
      'HTTP/1.1 200 OK\r\n' +
        'Cache-Control: no-store, no-cache, must-revalidate\r\nPragma: no-cache\r\nExpires: 0\r\n' +
        'Content-Type: image/gif\r\nContent-Length: 43\r\n' +
        'Date: Sun, 22 Nov 2026 10:30:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n' +
        PIXEL_GIF.toString('latin1'),
    );
    assert.equal(PIXEL_GIF.length, 43);
    assert.equal(PIXEL_GIF.subarray(0, 6).toString('latin1'), 'GIF89a');
  });

  it('keeps every answer out of caches and says whether the connection stays open, whichever was written before in the same second', () => {
    const answers = new LaneAnswers(7);
    for (const answer of ANSWERS) {
      for (const keepAlive of [true, false, true]) {
        for (const head of [false, true]) {
          const { head: lines } = split(answers.bytes(answer, head, keepAlive, NOW_MS));
          const what = `${answer.kind} head=${head} keepAlive=${keepAlive}`;
          for (const line of [
            'Cache-Control: no-store, no-cache, must-revalidate',
            'Pragma: no-cache',
            'Expires: 0',
          ])
            assert.ok(lines.includes(line), `${what}: ${line}`);
          assert.deepEqual(
            lines.filter((line) => /^(connection|keep-alive):/i.test(line)),
            keepAlive ? ['Connection: keep-alive', 'Keep-Alive: timeout=7'] : ['Connection: close'],
            what,
          );
        }
      }
    }
  });

  it('answers HEAD with the head alone, even after a GET of the same answer in the same second', () => {
    const answers = new LaneAnswers(5);
    for (const answer of [PIXEL, UNAVAILABLE, ANSWERS[4] ?? PIXEL]) {
      const get = split(answers.bytes(answer, false, true, NOW_MS));
      const head = split(answers.bytes(answer, true, true, NOW_MS));
      assert.equal(
        get.body.length,
        Number(get.head.find((line) => line.startsWith('Content-Length: '))?.slice(16)),
      );
      assert.ok(get.body.length > 0, answer.kind);
      assert.deepEqual(head.head, get.head, `${answer.kind}: HEAD has the headers GET has`);
      assert.equal(head.body.length, 0, `${answer.kind}: HEAD has no body`);
    }
  });

  it('dates each answer by the second it is written in, not the second the answer was first composed', () => {
    const answers = new LaneAnswers(5);
    const dateOf = (nowMs: number) =>
      split(answers.bytes(PIXEL, false, true, nowMs)).head.find((line) => line.startsWith('Date: '));
    assert.equal(dateOf(NOW_MS), 'Date: Sun, 22 Nov 2026 10:30:00 GMT');
    assert.equal(dateOf(NOW_MS + 999), 'Date: Sun, 22 Nov 2026 10:30:00 GMT');
    assert.equal(dateOf(NOW_MS + 1000), 'Date: Sun, 22 Nov 2026 10:30:01 GMT');
    assert.equal(dateOf(NOW_MS + 61_000), 'Date: Sun, 22 Nov 2026 10:31:01 GMT');
  });

  it('answers a body with its status, its type and its length in bytes, not characters', () => {
    const body = Buffer.from('<p>’</p>\n');
    const bytes = new LaneAnswers(5).bytes(
      { kind: 'body', status: 404, contentType: 'text/html; charset=utf-8', body },
      false,
      true,
      NOW_MS,
    );
    const { head, body: sent } = split(bytes);
    assert.equal(head[0], 'HTTP/1.1 404 Not Found');
    assert.ok(head.includes('Content-Type: text/html; charset=utf-8'), JSON.stringify(head));
    // 11 bytes: the right single quote is 3 in UTF-8, of 9 characters.
    assert.ok(head.includes('Content-Length: 11'), JSON.stringify(head));
    assert.deepEqual(sent, body);
  });

  it('answers a redirect 302 to its own location, with an empty body', () => {
    const answers = new LaneAnswers(5);
    for (const location of ['https://dsp.test/a', 'https://dsp.test/b?x=1']) {
      const { head, body } = split(answers.bytes({ kind: 'redirect', location }, false, true, NOW_MS));
      assert.equal(head[0], 'HTTP/1.1 302 Found');
      assert.ok(head.includes(`Location: ${location}`), location);
      assert.ok(head.includes('Content-Length: 0'), JSON.stringify(head));
      assert.equal(body.length, 0);
    }
  });
});
