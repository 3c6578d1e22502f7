import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { ApiError } from './api-error.js';
import { MAX_BODY_DEPTH, parseJsonBody } from './json-body.js';
import type { ProbeApi } from '../../test/support/probe-api.js';
import { errorOf, PROBE_MAX_BODY_BYTES as MAX_BYTES, serveProbeApi } from '../../test/support/probe-api.js';

let api: ProbeApi;
let base = '';
let editorKey = '';
before(async () => {
  api = await serveProbeApi();
  base = api.base;
  editorKey = api.editorKey;
});

after(() => api.close());

const call: ProbeApi['call'] = (...args) => api.call(...args);
const rawAnswer: ProbeApi['rawAnswer'] = (...args) => api.rawAnswer(...args);

/** POSTs `body` to the body route as `application/json` (or `type`). */
function post(body: string, type = 'application/json'): Promise<Response> {
  return call('/v1/bodies', { method: 'POST', body, headers: { 'content-type': type } });
}

/** Sends `head` (and `body`) on a raw connection; resolves with the status line answered within 3 s. */
function rawStatus(head: string, body = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 3 s; got ${JSON.stringify(answer)}`));
    }, 3000);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer.slice(0, answer.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.write(head + body);
  });
}

/** Nests `levels` arrays (or objects) around 1. */
function nested(levels: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(levels)}1${']'.repeat(levels)}`
    : `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

describe('reading JSON bodies', () => {
  it('reads a body of exactly the limit, whether its length is declared or it comes chunked', async () => {
    const exact = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 8) });
    assert.equal(Buffer.byteLength(exact), MAX_BYTES);
    assert.equal((await post(exact)).status, 200);
    const chunked = await call('/v1/bodies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([exact]).stream(),
      duplex: 'half',
    });
    assert.equal(chunked.status, 200);
  });

  it('refuses a body one byte over the limit with 413, whether its length is declared or it comes chunked', async () => {
    const over = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 7) });
    const refused = await post(over);
    assert.equal(
      ((await refused.clone().json()) as { error: { message: string } }).error.message,
      `the body is larger than ${MAX_BYTES} bytes, the limit for this request: send a smaller one`,
    );
    assert.deepEqual(await errorOf(refused), [413, 'BODY_TOO_LARGE']);
    const chunked = await call('/v1/bodies', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: new Blob([over]).stream(),
      duplex: 'half',
    });
    assert.deepEqual(await errorOf(chunked), [413, 'BODY_TOO_LARGE']);
  });

  it('refuses a body declared too large at once, without waiting for it to arrive', async () => {
    const head =
      'POST /v1/bodies HTTP/1.1\r\nHost: tally.test\r\nContent-Type: application/json\r\n' +
      `Authorization: Bearer ${editorKey}\r\nContent-Length: ${MAX_BYTES + 1}\r\n\r\n`;
    assert.equal(await rawStatus(head, '{"a":'), 'HTTP/1.1 413 Payload Too Large');
  });

  it('reads application/json and any +json type, in any case and with parameters, and refuses other types with 415', async () => {
    for (const type of [
      'application/json',
      'Application/JSON; charset=utf-8',
      'application/merge-patch+json',
      'application/vnd.api+json;charset=utf-8',
      'application/json ; charset=utf-8',
    ]) {
      assert.equal((await post('{"a":1}', type)).status, 200, type);
    }
    for (const type of [
      'text/plain',
      'application/jsonp',
      'application/json-seq',
      'application/json.x',
      'application/x+json/x',
      'text/x-application/json',
      'application/x-www-form-urlencoded',
    ]) {
      assert.deepEqual(await errorOf(await post('{"a":1}', type)), [415, 'UNSUPPORTED_MEDIA_TYPE'], type);
    }
  });

  it('refuses a body sent with two Content-Type headers with 415 saying to send one, whichever comes first: node:http reads the first alone, a proxy may read the last', async () => {
    const answers: [string, string, string][] = [];
    for (const types of [
      ['application/json', 'application/json; charset=utf-16'],
      ['text/plain', 'application/json'],
      ['application/json', 'application/json'],
    ]) {
      const answer = await rawAnswer(
        'POST /v1/bodies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          `Authorization: Bearer ${editorKey}\r\n${types.map((type) => `Content-Type: ${type}\r\n`).join('')}` +
          'Content-Length: 7\r\n\r\n',
        Buffer.from('{"a":1}'),
      );
      const { error } = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      answers.push([answer.slice(0, answer.indexOf('\r\n')), error.code, error.message]);
    }
    const refused = [
      'HTTP/1.1 415 Unsupported Media Type',
      'UNSUPPORTED_MEDIA_TYPE',
      'the request has 2 Content-Type headers: send one, Content-Type: application/json',
    ];
    assert.deepEqual(answers, [refused, refused, refused]);
  });

  it('refuses a body that is not JSON with 400 INVALID_JSON', async () => {
    assert.deepEqual(await errorOf(await post('{"a":')), [400, 'INVALID_JSON']);
  });

  it('refuses an empty body with 400 INVALID_JSON saying it is empty, not with the JSON parser’s words', async () => {
    for (const body of ['', ' \r\n']) {
      const response = await post(body);
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.deepEqual(
        [error.code, error.message],
        ['INVALID_JSON', 'the body is empty: send a JSON object (Content-Type: application/json)'],
        JSON.stringify(body),
      );
    }
  });

  it('tells a short body that is not JSON, such as a lone `{`, that it is not valid JSON rather than empty', async () => {
    for (const body of ['{', ' x ']) {
      const response = await post(body);
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, 'INVALID_JSON');
      assert.match(error.message, /^the body is not valid JSON: /, JSON.stringify(body));
    }
  });

  it('refuses a body that is not UTF-8 with 400 INVALID_JSON, rather than read two different ids as one', async () => {
    for (const bytes of [[0xff], [0xfe], [0xc3], [0xed, 0xa0, 0x80]]) {
      const body = Buffer.concat([Buffer.from('{"a":"x'), Buffer.from(bytes), Buffer.from('"}')]);
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON'], String(bytes));
      assert.match(error.message, /not valid UTF-8.*send JSON encoded in UTF-8/);
    }
    const accepted = await post('{"a":"é € 😀"}');
    assert.deepEqual(await accepted.json(), { body: { a: 'é € 😀' } });
  });

  it('reads a body that starts with a UTF-8 byte order mark, as a Windows editor saves it, as the JSON after it (RFC 8259 §8.1)', async () => {
    const accepted = await call('/v1/bodies', {
      method: 'POST',
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":"\ufeffb"}')]),
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(accepted.status, 200);
    // Only the mark that begins the body: one inside a string is the string's.
    assert.deepEqual(await accepted.json(), { body: { a: '\ufeffb' } });
  });

  it('refuses a string value or key holding an unpaired surrogate escape, naming it, and reads paired ones', () => {
    for (const [body, shown] of [
      ['{"a":"x\\ud800"}', '"x\\ud800"'],
      ['{"a":["\\udc00y"]}', '"\\udc00y"'],
      ['{"x\\udbff":1}', '"x\\udbff"'],
      ['{"a":"\\ude00\\ud83d"}', '"\\ude00\\ud83d"'],
    ] as const) {
      assert.throws(
        () => parseJsonBody(body),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === 400 &&
          error.code === 'INVALID_JSON' &&
          error.message.includes(`unpaired surrogate escape (${shown})`),
        body,
      );
    }
    assert.deepEqual(parseJsonBody('{"a":"\\ud83d\\ude00"}'), { a: '😀' });
  });

  it('refuses a body with a transfer coding besides chunked (gzip, chunked) with 415, naming it, and reads chunked alone', async () => {
    const json = Buffer.from('{"a":1}');
    const gzipped = gzipSync(json);
    for (const [codings, body] of [
      ['gzip, chunked', gzipped],
      ['gzip, chunked', json],
      ['GZIP ,chunked', json],
      ['deflate,chunked', json],
    ] as const) {
      const answer = await rawAnswer(
        'POST /v1/bodies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
          `Authorization: Bearer ${editorKey}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: ${codings}\r\n\r\n`,
        Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]),
      );
      assert.match(answer, /^HTTP\/1\.1 415 /, codings);
      const { error } = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: { code: string; message: string };
      };
      assert.equal(error.code, 'UNSUPPORTED_MEDIA_TYPE');
      const coding = codings.split(',')[0]?.trim() ?? '';
      assert.match(error.message, new RegExp(`^a body with Transfer-Encoding ${coding} cannot be read: `));
    }
    const chunked = await rawAnswer(
      'POST /v1/bodies HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
        `Authorization: Bearer ${editorKey}\r\nContent-Type: application/json\r\n` +
        'Transfer-Encoding: chunked\r\n\r\n',
      Buffer.from(`${json.length.toString(16)}\r\n${json.toString()}\r\n0\r\n\r\n`),
    );
    assert.match(chunked, /^HTTP\/1\.1 200 [^]*\{"body":\{"a":1\}\}$/);
  });

  it('reads a gzip-compressed body (Content-Encoding gzip or x-gzip, in any case) as the JSON it holds', async () => {
    for (const coding of ['gzip', 'x-gzip', 'GZip']) {
      const read = await call('/v1/bodies', {
        method: 'POST',
        body: gzipSync('{"a":"é"}'),
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
      });
      assert.deepEqual([read.status, await read.json()], [200, { body: { a: 'é' } }], coding);
    }
  });

  it('refuses a body in another content coding (br, deflate, gzip twice) with 415, naming the codings it reads', async () => {
    for (const coding of ['br', 'deflate', 'gzip, gzip', 'compress']) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body: '{"a":1}',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], coding);
      assert.equal(
        error.message,
        `a body with Content-Encoding ${coding} cannot be read: send it compressed with Content-Encoding: gzip, or uncompressed without Content-Encoding`,
      );
    }
  });

  it('refuses a body labelled gzip that is not gzip, or is cut short, with 400 INVALID_JSON saying so', async () => {
    const whole = gzipSync('{"a":1}');
    for (const body of [Buffer.from('{"a":1}'), whole.subarray(0, whole.length - 4)]) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON']);
      assert.match(
        error.message,
        /^the body is not whole gzip data \(.+\): send it compressed whole with gzip, or uncompressed without Content-Encoding$/,
      );
    }
  });

  it('holds a gzip body to the limit once uncompressed: exactly the limit is read, a byte over refused 413', async () => {
    const exact = JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 8) });
    const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const read = await call('/v1/bodies', { method: 'POST', body: gzipSync(exact), headers });
    assert.equal(read.status, 200);
    const over = gzipSync(JSON.stringify({ a: 'x'.repeat(MAX_BYTES - 7) }));
    assert.equal(over.length < MAX_BYTES, true, 'the compressed body is within the limit');
    const refused = await call('/v1/bodies', { method: 'POST', body: over, headers });
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    assert.deepEqual(
      [refused.status, error.code, error.message],
      [
        413,
        'BODY_TOO_LARGE',
        `the body is larger than ${MAX_BYTES} bytes once uncompressed, the limit for this request: send a smaller one`,
      ],
    );
  });

  it('reads any charset label on UTF-8 text, and Content-Encoding identity as none', async () => {
    // RFC 8259 defines no charset for JSON; clients label ASCII bodies ISO-8859-1 (old Spring),
    // which reads as in UTF-8. A byte beyond ASCII in such a body is refused (see below).
    for (const charset of ['ISO-8859-1', 'us-ascii', 'windows-1252', '']) {
      assert.equal((await post('{"a":1}', `application/json;charset=${charset}`)).status, 200, charset);
    }
    const identity = await call('/v1/bodies', {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json; charset="UTF8"', 'content-encoding': 'identity' },
    });
    assert.equal(identity.status, 200);
  });

  it('refuses a body declared in UTF-16, UTF-32 or a 7-bit shifting charset (UTF-7, HZ, ISO-2022) with 415 naming the charset, even when all its bytes are ASCII', async () => {
    // In UTF-7 '+-' is '+': '{"a":"1+-2"}' means {"a":"1+2"}, and read as UTF-8 would be stored otherwise.
    for (const charset of ['utf-16', 'UTF-16LE', '"utf-32"', 'ucs-2', 'UTF-7', 'HZ-GB-2312', 'iso-2022-jp']) {
      const refused = await post('{"a":"1+-2"}', `application/json; charset=${charset}`);
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], charset);
      assert.equal(
        error.message,
        `the body is declared charset=${JSON.stringify(charset.replace(/"/g, ''))}, which Tally does not read: ` +
          'send it encoded in UTF-8, with Content-Type: application/json; charset=utf-8 (or no charset)',
      );
    }
  });

  it('refuses a body declared in a charset other than UTF-8 that holds a byte beyond ASCII with 415, rather than read é as something else', async () => {
    const latin1 = Buffer.from('{"name":"café"}', 'latin1');
    const utf8 = Buffer.from('{"name":"café"}', 'utf8');
    for (const [charset, body] of [
      ['iso-8859-1', latin1],
      ['"ISO-8859-1"', utf8],
      ['windows-1252', utf8],
      ['us-ascii', utf8],
    ] as const) {
      const refused = await call('/v1/bodies', {
        method: 'POST',
        body,
        headers: { 'content-type': `application/json;charset=${charset}` },
      });
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE'], charset);
      assert.equal(
        error.message,
        `the body is declared charset=${JSON.stringify(charset.replace(/"/g, ''))} but holds bytes beyond ASCII ` +
          `(0x${body[12]?.toString(16).toUpperCase()} at byte 12), which read otherwise in it than in UTF-8, the one charset ` +
          'Tally reads: send it encoded in UTF-8, with Content-Type: application/json; charset=utf-8 (or no charset)',
      );
    }
    for (const charset of ['utf-8', 'UTF8', '"Utf-8"', 'utf-8; charset=utf8']) {
      const accepted = await call('/v1/bodies', {
        method: 'POST',
        body: utf8,
        headers: { 'content-type': `application/json; charset=${charset}` },
      });
      assert.deepEqual(await accepted.json(), { body: { name: 'café' } }, charset);
    }
    // Its first byte too: a UTF-8 byte order mark so declared is not dropped as in a UTF-8 body.
    const marked = await call('/v1/bodies', {
      method: 'POST',
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]),
      headers: { 'content-type': 'application/json; charset=iso-8859-1' },
    });
    const { error } = (await marked.json()) as { error: { code: string; message: string } };
    assert.deepEqual([marked.status, error.code], [415, 'UNSUPPORTED_MEDIA_TYPE']);
    assert.match(error.message, /but holds bytes beyond ASCII \(0xEF at byte 0\)/);
  });

  /** The status, code and message a JSON route answers `body` sent as application/json with. */
  const refusalOf = async (body: Buffer): Promise<[number, string, string]> => {
    const refused = await call('/v1/bodies', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    return [refused.status, error.code, error.message];
  };

  it('tells a body in UTF-16 or UTF-32 without a byte order mark that it looks so, by its NUL bytes (RFC 4627 §3), not with the JSON parser’s words', async () => {
    const text = '{"a":1}';
    const utf16le = Buffer.from(text, 'utf16le');
    const utf32le = Buffer.from([...text].flatMap((char) => [char.charCodeAt(0), 0, 0, 0]));
    for (const [encoding, body, head] of [
      ['UTF-16LE', utf16le, '7B 00 22 00'],
      ['UTF-16BE', Buffer.from(utf16le).swap16(), '00 7B 00 22'],
      ['UTF-32LE', utf32le, '7B 00 00 00'],
      ['UTF-32BE', Buffer.from(utf32le).swap32(), '00 00 00 7B'],
      ['UTF-16LE', Buffer.from('1', 'utf16le'), '31 00'],
      // A second character whose low byte is 0 (U+4E00) is no UTF-32 for its NUL third byte.
      ['UTF-16LE', Buffer.from('"\u4e00"', 'utf16le'), '22 00 00 4E'],
    ] as const) {
      assert.deepEqual(
        await refusalOf(body),
        [
          400,
          'INVALID_JSON',
          `the body looks ${encoding} encoded (NUL bytes among its first four, ${head}), which Tally does not read: send JSON encoded in UTF-8`,
        ],
        encoding,
      );
    }
  });

  it('tells a UTF-8 body with a NUL byte after its first two characters (a C string’s terminator) that it is not valid JSON, not that it looks UTF-16 or UTF-32', async () => {
    // In UTF-16 or UTF-32 the first character, ASCII in any JSON text, puts NUL in byte 0 or 1.
    for (const [body, position] of [
      ['{}\u0000', 2],
      ['[1\u0000]', 2],
      ['{"a\u0000":1}', 3],
    ] as const) {
      const refused = await post(body, 'application/json');
      const { error } = (await refused.json()) as { error: { code: string; message: string } };
      assert.deepEqual([refused.status, error.code], [400, 'INVALID_JSON'], JSON.stringify(body));
      assert.match(error.message, new RegExp(`^the body is not valid JSON: .* at position ${position}`));
    }
  });

  it('tells a body that begins with a UTF-16 or UTF-32 byte order mark that it looks so, not only that it is not UTF-8', async () => {
    const text = Buffer.from('{"a":1}', 'utf16le');
    for (const [encoding, body, mark] of [
      ['UTF-16LE', Buffer.concat([Buffer.from([0xff, 0xfe]), text]), 'FF FE'],
      ['UTF-16BE', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text).swap16()]), 'FE FF'],
      ['UTF-32LE', Buffer.from([0xff, 0xfe, 0, 0, 0x31, 0, 0, 0]), 'FF FE 00 00'],
      ['UTF-32BE', Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x31]), '00 00 FE FF'],
    ] as const) {
      assert.deepEqual(
        await refusalOf(body),
        [
          400,
          'INVALID_JSON',
          `the body looks ${encoding} encoded (it begins with the byte order mark ${mark}), which Tally does not read: send JSON encoded in UTF-8`,
        ],
        encoding,
      );
    }
  });

  it(`reads arrays and objects nested ${MAX_BODY_DEPTH} levels deep and refuses them one level deeper`, () => {
    for (const kind of ['array', 'object'] as const) {
      assert.doesNotThrow(() => parseJsonBody(nested(MAX_BODY_DEPTH, kind)), kind);
      assert.throws(
        () => parseJsonBody(nested(MAX_BODY_DEPTH + 1, kind)),
        (error: unknown) =>
          error instanceof ApiError && error.status === 400 && error.code === 'BODY_TOO_DEEP',
        kind,
      );
    }
    assert.equal(MAX_BODY_DEPTH, 64, 'the limit the README documents');
  });
});
