import assert from 'node:assert/strict';
import { runBoundedScript } from '../../test/support/bounded-script.js';
import { createServer } from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { readLaneRequest } from './lane-request.js';
import { ruleHeaders } from './read-notice.js';

describe('reading a notice head in the notice lane', () => {
  it('reads a GET of /n/… with its raw headers (values trimmed) and keeps HTTP/1.1 alive', () => {
    assert.deepEqual(
      readLaneRequest('GET /n/tok?f=b HTTP/1.1\r\nHost: t.test\r\nUser-Agent:  Agent/1 \r\nX-Empty:'),
      {
        method: 'GET',
        endpoint: 'notice',
        target: '/n/tok?f=b',
        rawHeaders: ['Host', 't.test', 'User-Agent', 'Agent/1', 'X-Empty', ''],
        keepAlive: true,
      },
    );
  });

  it('trims only spaces and tabs from the end of a value: a trailing U+00A0 stays, as node:http keeps it', () => {
    assert.deepEqual(readLaneRequest('GET /n/t HTTP/1.1\r\nHost: t\r\nX-A: a\xa0 \t')?.rawHeaders, [
      'Host',
      't',
      'X-A',
      'a\xa0',
    ]);
  });

  it('refuses a header value that is a long run of white space then a control character, and reads one ending visibly, without trying every split of the white space', () => {
    // In a child process, killed after 30 s: a pattern that tries every split of the white space
    // takes some 140 ms at the 16 KB a head may be, and ten minutes at this 1 MB.
    const module = new URL('./lane-request.ts', import.meta.url).href;
    const script =
      `import { readLaneRequest } from ${JSON.stringify(module)};\n` +
      `const line = (end) => 'GET /imptr?id=1 HTTP/1.1\\r\\nHost: t\\r\\nX-A:' + ' \\t'.repeat(500000) + end;\n` +
      `console.log(readLaneRequest(line('\\x01')) === undefined, readLaneRequest(line('x')) !== undefined);\n`;
    const child = runBoundedScript(script);
    assert.equal(child.signal, null, `still reading the head after 30 s: ${child.stderr}`);
    assert.equal(child.stdout, 'true true\n', child.stderr);
  });

  it('closes HTTP/1.1 on Connection: close, and keeps HTTP/1.0 only on keep-alive (as llhttp)', () => {
    assert.equal(readLaneRequest('HEAD /n/t HTTP/1.1\r\nHost: t\r\nConnection: Close')?.keepAlive, false);
    assert.equal(
      readLaneRequest('GET /n/t HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, close')?.keepAlive,
      false,
    );
    assert.equal(readLaneRequest('GET /n/t HTTP/1.0')?.keepAlive, false);
    assert.equal(readLaneRequest('GET /n/t HTTP/1.0\r\nConnection: te, Keep-Alive')?.keepAlive, true);
    assert.equal(readLaneRequest('GET /n/t HTTP/1.0\r\nConnection: keep-alive, close')?.keepAlive, true);
  });

  it('reads Proxy-Connection as llhttp does: close ends an HTTP/1.1 connection, keep-alive keeps an HTTP/1.0 one', () => {
    assert.equal(
      readLaneRequest('GET /n/t HTTP/1.1\r\nHost: t\r\nProxy-Connection: close')?.keepAlive,
      false,
    );
    assert.equal(
      readLaneRequest('GET /n/t HTTP/1.1\r\nHost: t\r\nproxy-connection: te, Close')?.keepAlive,
      false,
    );
    assert.equal(readLaneRequest('GET /n/t HTTP/1.0\r\nProxy-Connection: keep-alive')?.keepAlive, true);
  });

  it('reads the raw bytes of 0x80 and above a client left unencoded in the target as their percent-escapes', () => {
    const utf8 = Buffer.from('GET /n/tok?site=café HTTP/1.1\r\nHost: t', 'utf8').toString('latin1');
    assert.equal(readLaneRequest(utf8)?.target, '/n/tok?site=caf%C3%A9');
    assert.equal(readLaneRequest('GET /n/t\xe9?x=\xff HTTP/1.1\r\nHost: t')?.target, '/n/t%E9?x=%FF');
  });

  it('reads a GET or HEAD of /imptr or /clktr, alone or with a query, as a tracker hit of its kind', () => {
    const read = (head: string) => {
      const request = readLaneRequest(head);
      return request === undefined ? undefined : `${request.method} ${request.endpoint} ${request.target}`;
    };
    assert.equal(read('GET /imptr?id=1&t=1 HTTP/1.1\r\nHost: t'), 'GET impression /imptr?id=1&t=1');
    assert.equal(read('HEAD /imptr HTTP/1.1\r\nHost: t'), 'HEAD impression /imptr');
    assert.equal(
      read('GET /clktr?id=2&redir=https://a.test/?x HTTP/1.0'),
      'GET click /clktr?id=2&redir=https://a.test/?x',
    );
    assert.equal(read('GET /clktr HTTP/1.1\r\nHost: t'), 'GET click /clktr');
    assert.equal(read('GET /n/imptr?x HTTP/1.1\r\nHost: t'), 'GET notice /n/imptr?x');
    const utf8 = Buffer.from('GET /imptr?id=1&site=café HTTP/1.1\r\nHost: t', 'utf8').toString('latin1');
    assert.equal(read(utf8), 'GET impression /imptr?id=1&site=caf%C3%A9');
    assert.equal(read('GET /clktr?x=\xe9 HTTP/1.1\r\nHost: t'), 'GET click /clktr?x=%E9');
  });

  it('reads a notice or hit whose prefix escapes unreserved characters as its prefix unescaped, and leaves any other to node:http', () => {
    const read = (head: string) => {
      const request = readLaneRequest(head);
      return request === undefined ? undefined : `${request.endpoint} ${request.target}`;
    };
    assert.equal(read('GET /%6E/tok HTTP/1.1\r\nHost: t'), 'notice /n/tok');
    assert.equal(read('GET /%6e/t\xe9?f=b HTTP/1.1\r\nHost: t'), 'notice /n/t%E9?f=b');
    assert.equal(read('GET /%69mptr?id=1 HTTP/1.1\r\nHost: t'), 'impression /imptr?id=1');
    assert.equal(read('HEAD /clk%74r HTTP/1.1\r\nHost: t'), 'click /clktr');
    assert.equal(read('GET /n%2Ftok HTTP/1.1\r\nHost: t'), undefined);
    assert.equal(read('GET /%4E/tok HTTP/1.1\r\nHost: t'), undefined, '/N/ is another path');
  });

  const leftToNodeHttp: [string, string][] = [
    ['a Connection option followed by a tab', 'GET /n/t HTTP/1.1\r\nHost: t\r\nConnection: close\t'],
    ['a Connection option followed by a space', 'GET /n/t HTTP/1.1\r\nHost: t\r\nConnection:close '],
    ['a space before a comma in Connection', 'GET /n/t HTTP/1.0\r\nConnection: keep-alive ,te'],
    ['a Proxy-Connection option followed by a tab', 'GET /n/t HTTP/1.0\r\nProxy-Connection: keep-alive\t'],
    ['a Proxy-Connection upgrade', 'GET /n/t HTTP/1.1\r\nHost: t\r\nProxy-Connection: upgrade'],
    ['another path', 'GET /v1/reports HTTP/1.1\r\nHost: t'],
    ['a path that only begins like a notice', 'GET /nope HTTP/1.1\r\nHost: t'],
    ['the notice prefix without its slash', 'GET /n HTTP/1.1\r\nHost: t'],
    ['a path that only begins like a tracker hit', 'GET /imptrs?id=1 HTTP/1.1\r\nHost: t'],
    ['a tracker path with a segment after it', 'GET /clktr/x?id=1 HTTP/1.1\r\nHost: t'],
    ['a tracker path with a fragment and no query', 'GET /imptr#x HTTP/1.1\r\nHost: t'],
    ['a tracker path in another case', 'GET /IMPTR?id=1 HTTP/1.1\r\nHost: t'],
    ['a tracker hit posted', 'POST /imptr?id=1 HTTP/1.1\r\nHost: t'],
    ['a tracker hit by another method', 'OPTIONS /clktr?id=1 HTTP/1.1\r\nHost: t'],
    ['a tracker hit with a body', 'GET /imptr?id=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0'],
    ['a tracker hit without Host', 'GET /imptr?id=1 HTTP/1.1\r\nUser-Agent: a'],
    ['a control character in a tracker hit', 'GET /imptr?x=\xe9\x01 HTTP/1.1\r\nHost: t'],
    ['another method', 'POST /n/t HTTP/1.1\r\nHost: t'],
    ['a lower-case method', 'get /n/t HTTP/1.1\r\nHost: t'],
    ['HTTP/2 or another version', 'GET /n/t HTTP/2.0\r\nHost: t'],
    ['an absolute-form target', 'GET http://t/n/t HTTP/1.1\r\nHost: t'],
    ['a space too many', 'GET  /n/t HTTP/1.1\r\nHost: t'],
    ['a control character in the target', 'GET /n/t\x01 HTTP/1.1\r\nHost: t'],
    ['a control character beside raw bytes in the target', 'GET /n/t\xe9\x01 HTTP/1.1\r\nHost: t'],
    ['a DEL beside raw bytes in the target', 'GET /n/\xc3\xa9\x7f HTTP/1.1\r\nHost: t'],
    ['a space inside a target with raw bytes', 'GET /n/t\xe9 x HTTP/1.1\r\nHost: t'],
    ['HTTP/1.1 without Host', 'GET /n/t HTTP/1.1\r\nUser-Agent: a'],
    ['two Hosts', 'GET /n/t HTTP/1.1\r\nHost: a\r\nHost: b'],
    // node:http serves it, and Tally's server answers 400 (see `hostHeaderProblem`): never counted.
    ['two Hosts in HTTP/1.0', 'GET /n/t HTTP/1.0\r\nHost: a\r\nHost: b'],
    ['a body length', 'GET /n/t HTTP/1.1\r\nHost: t\r\nContent-Length: 0'],
    ['a chunked body', 'GET /n/t HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked'],
    ['an upgrade', 'GET /n/t HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket'],
    ['an expectation', 'GET /n/t HTTP/1.1\r\nHost: t\r\nExpect: 100-continue'],
    ['a folded header line', 'GET /n/t HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b'],
    ['space before the colon', 'GET /n/t HTTP/1.1\r\nHost : t'],
    ['space before the colon of another header', 'GET /n/t HTTP/1.1\r\nHost: t\r\nUser-Agent : a'],
    ['a line without a colon', 'GET /n/t HTTP/1.1\r\nHost: t\r\nnonsense'],
    ['a bare line feed', 'GET /n/t HTTP/1.1\nHost: t'],
    ['a bare carriage return in a value', 'GET /n/t HTTP/1.1\r\nHost: t\r\nX-A: a\rb'],
    ['a NUL in a value', 'GET /n/t HTTP/1.1\r\nHost: t\r\nX-A: a\x00b'],
    ['an empty head', ''],
  ];
  for (const [what, head] of leftToNodeHttp) {
    it(`leaves ${what} to node:http`, () => assert.equal(readLaneRequest(head), undefined));
  }
});

/** Header names and values a client may send: tokens, and values of visible characters and spaces. */
const headerName = fc
  .stringMatching(/^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}$/)
  .filter(
    (name) =>
      !['host', 'content-length', 'transfer-encoding', 'upgrade', 'expect', 'connection'].includes(
        name.toLowerCase(),
      ),
  );
const headerValue = fc.stringMatching(
  /^[ \t]{0,2}[\x21-\x7e\x80-\xff]([\x20-\x7e\t\x80-\xff]{0,30}[\x21-\x7e\x80-\xff])?[ \t]{0,2}$/,
);
const connectionOption = fc.constantFrom('close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'te', 'foo');

describe('the notice lane reads what node:http reads', () => {
  it('gives the same raw headers, method, target and keep-alive for any well-formed notice or tracker hit head', () =>
    withNodeHttp(async (port, seen) => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('GET', 'HEAD'),
          fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
          fc.constantFrom('/n/', '/imptr?', '/clktr?'),
          fc.stringMatching(/^[\x21-\x7e]{0,40}$/),
          fc.array(fc.tuple(headerName, headerValue), { maxLength: 8 }),
          fc.array(connectionOption, { maxLength: 3 }),
          async (method, version, path, rest, headers, connection) => {
            const lines = [`${method} ${path}${rest} ${version}`, 'Host: tally.test'];
            for (const [name, value] of headers) lines.push(`${name}:${value}`);
            if (connection.length > 0) lines.push(`Connection: ${connection.join(', ')}`);
            const head = lines.join('\r\n');
            const lane = readLaneRequest(head);
            assert.ok(lane !== undefined, `the lane refused ${JSON.stringify(head)}`);
            const node = await throughNodeHttp(port, head, seen);
            assert.equal(lane.method, node.method);
            assert.equal(lane.target, node.url);
            assert.deepEqual(lane.rawHeaders, node.rawHeaders);
            assert.equal(lane.keepAlive, node.keepAlive, `keep-alive of ${JSON.stringify(head)}`);
          },
        ),
        { numRuns: 150 },
      );
    }));
});

describe('the notice lane reads a raw byte as node:http reads its percent-escape', () => {
  it('gives the target node:http gives for the same head with each raw byte sent as %XX', () =>
    withNodeHttp(async (port, seen) => {
      await fc.assert(
        fc.asyncProperty(
          fc.stringMatching(/^[\x21-\x7e\x80-\xff]{0,40}$/),
          fc.constantFrom('GET', 'HEAD'),
          fc.constantFrom('/n/', '/imptr?', '/clktr?'),
          async (rest, method, path) => {
            const lane = readLaneRequest(`${method} ${path}${rest} HTTP/1.1\r\nHost: tally.test`);
            assert.ok(lane !== undefined, `the lane refused ${JSON.stringify(rest)}`);
            const escaped = rest.replace(
              /[\x80-\xff]/g,
              (raw) => `%${raw.charCodeAt(0).toString(16).toUpperCase()}`,
            );
            const node = await throughNodeHttp(
              port,
              `${method} ${path}${escaped} HTTP/1.1\r\nHost: tally.test`,
              seen,
            );
            assert.equal(lane.target, node.url);
          },
        ),
        { numRuns: 100 },
      );
    }));
});

/** The names of the headers the counting rules read, in the cases clients write them. */
const ruleHeaderName = fc
  .constantFrom(
    'User-Agent',
    'X-Forwarded-For',
    'X-Device-IP',
    'X-Device-User-Agent',
    'Sec-Purpose',
    'Purpose',
    'X-Purpose',
    'X-Moz',
  )
  .chain((name) =>
    fc
      .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
      .map((upper) =>
        [...name].map((char, at) => (upper[at] === true ? char.toUpperCase() : char.toLowerCase())).join(''),
      ),
  );

/** The same names as node:http gives them. */
const RULE_HEADER_NAMES = [
  'user-agent',
  'x-forwarded-for',
  'x-device-ip',
  'x-device-user-agent',
  'sec-purpose',
  'purpose',
  'x-purpose',
  'x-moz',
];

describe('a tracker hit the notice lane reads is decided on the headers node:http gives', () => {
  it('gives the rules the headers node:http gives them, by lower-case name, repeats kept first or joined as node:http does, but for a repeated X-Device-User-Agent, read as empty', () =>
    withNodeHttp(async (port, seen) => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.oneof(ruleHeaderName, headerName), headerValue), { maxLength: 8 }),
          async (headers) => {
            const lines = ['GET /imptr?id=1 HTTP/1.1', 'Host: tally.test'];
            for (const [name, value] of headers) lines.push(`${name}:${value}`);
            const head = lines.join('\r\n');
            const lane = readLaneRequest(head);
            assert.ok(lane !== undefined, `the lane refused ${JSON.stringify(head)}`);
            const node = await throughNodeHttp(port, head, seen);
            const fromLane = ruleHeaders(lane.rawHeaders);
            // node:http's path reads them alike, from the raw headers node:http gives.
            assert.deepEqual(fromLane, ruleHeaders(node.rawHeaders));
            const deviceAgents = headers.filter(([name]) => name.toLowerCase() === 'x-device-user-agent');
            const expected = (name: string) =>
              name === 'x-device-user-agent' && deviceAgents.length > 1 ? '' : node.headers[name];
            for (const name of Object.keys(fromLane)) assert.equal(fromLane[name], expected(name), name);
            for (const name of Object.keys(node.headers)) {
              if (RULE_HEADER_NAMES.includes(name)) assert.equal(fromLane[name], expected(name), name);
            }
          },
        ),
        {
          numRuns: 150,
          examples: [
            [
              [
                ['X-Device-User-Agent', ' Device/1'],
                ['x-device-user-agent', 'Device/2, like Gecko'],
              ],
            ],
          ],
        },
      );
    }));
});

/** Connection option lists as clients spell them, and as they could: spaces, tabs, odd bytes. */
const connectionValue = fc.oneof(
  fc.constantFrom('close', 'keep-alive', 'Keep-Alive', 'te, close', 'close,te', 'x, keep-alive', ''),
  fc.string({
    unit: fc.constantFrom('close', 'keep-alive', 'te', ',', ' ', '\t', 'x', '\xa0', ';'),
    maxLength: 6,
  }),
);

describe('the notice lane keeps a connection as node:http does', () => {
  it('keeps it open or closes it as node:http does, whatever the Connection and Proxy-Connection values', () =>
    withNodeHttp(async (port, seen) => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
          fc.array(
            fc.tuple(fc.constantFrom('Connection', 'Proxy-Connection', 'proxy-connection'), connectionValue),
            {
              minLength: 1,
              maxLength: 3,
            },
          ),
          async (version, headers) => {
            const lines = [`GET /n/t ${version}`, 'Host: tally.test'];
            for (const [name, value] of headers) lines.push(`${name}: ${value}`);
            const head = lines.join('\r\n');
            const lane = readLaneRequest(head);
            // A value the lane cannot read as every llhttp does goes to node:http, which decides.
            if (lane === undefined) return;
            const node = await throughNodeHttp(port, head, seen);
            assert.equal(lane.keepAlive, node.keepAlive, `keep-alive of ${JSON.stringify(head)}`);
          },
        ),
        {
          numRuns: 300,
          examples: [
            ['HTTP/1.1', [['Proxy-Connection', 'close']]],
            ['HTTP/1.0', [['Proxy-Connection', 'keep-alive']]],
            ['HTTP/1.1', [['Connection', 'close\t']]],
            ['HTTP/1.0', [['Connection', 'keep-alive\t']]],
          ],
        },
      );
    }));
});

/** Sends `head` to the node:http server on `port` and says what it read and whether it kept the connection. */
/** Runs `check` against a node:http server on loopback that answers 200 and keeps every request it read. */
async function withNodeHttp(check: (port: number, seen: IncomingMessage[]) => Promise<void>): Promise<void> {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(200, { 'Content-Length': '0' });
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await check((server.address() as AddressInfo).port, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function throughNodeHttp(
  port: number,
  head: string,
  seen: IncomingMessage[],
): Promise<{
  method: string;
  url: string;
  rawHeaders: string[];
  headers: IncomingMessage['headers'];
  keepAlive: boolean;
}> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(Buffer.from(`${head}\r\n\r\n`, 'latin1')));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (!answer.includes('\r\n\r\n')) return;
      const req = seen.pop();
      if (req === undefined) return reject(new Error(`node:http answered without a request: ${answer}`));
      resolve({
        method: req.method ?? '',
        url: req.url ?? '',
        rawHeaders: req.rawHeaders,
        headers: req.headers,
        keepAlive: /\r\nConnection: keep-alive\r\n/i.test(answer),
      });
      socket.destroy();
    });
    socket.on('error', reject);
  });
}
