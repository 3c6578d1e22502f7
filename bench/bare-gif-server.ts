// Baseline for the notice benchmark: a bare node:http server answering the same 43-byte GIF
// with the same headers as Tally's notice endpoint, and doing nothing else.
import { createServer } from 'node:http';
import { PIXEL_GIF } from '../src/hot/responses.js';

const port = Number(process.argv[2] ?? '0');
const headers = {
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
  Expires: '0',
  'Content-Type': 'image/gif',
  'Content-Length': String(PIXEL_GIF.length),
};
createServer({ keepAliveTimeout: 65_000 }, (_req, res) => {
  res.writeHead(200, headers);
  res.end(PIXEL_GIF);
}).listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
