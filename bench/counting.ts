// The cost per notice of what the HTTP thread and the counting thread do besides HTTP, phase by
// phase, without HTTP or threads: on the HTTP thread, opening the token and deciding, then
// writing the batch of decided events (wire.ts); on the counting thread, reading the batch,
// recording it in the ledger (one transaction) and writing the outcomes. Beside it, two
// baselines measured in the same run: a bare SQLite insert of a small row per notice (batched
// the same way) and a bare AES-256-GCM decryption per token with Node's own crypto
// (createDecipheriv), which Tally's addon (native/aes-gcm) does in a tenth of the time by
// setting each key up once.
// SQLite runs with synchronous=NORMAL: this measures CPU, not the disk.
//
//   npm run bench:counting      (BENCH_NOTICES=200000 by default)
import Database from 'better-sqlite3';
import { createDecipheriv, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqlite } from '../src/adapters/sqlite/database.js';
import { SqliteLedger } from '../src/adapters/sqlite/ledger.js';
import { defaultIvtFilter } from '../src/domain/ivt-filter.js';
import { NO_REDIRECT_ALLOWLIST } from '../src/domain/tracker-hit.js';
import { sealToken } from '../src/domain/token.js';
import { noticeEvent } from '../src/hot/notice-event.js';
import type { NoticeRequest } from '../src/domain/notice-request.js';
import type { Outcome } from '../src/domain/outcome.js';
import { decodeBatch, encodeBatch, encodeOutcomes } from '../src/counting-thread/wire.js';
import type { EventRecord } from '../src/ports/ledger.js';
import { bannerClaims, testKeyRing } from '../test/support/claims.js';

const NOTICES = Number(process.env.BENCH_NOTICES ?? '200000');
const BATCH = 32;
const ROUNDS = 4;
const USER_AGENT =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';

/** Runs `body` on each of `ROUNDS` equal slices of `items` and keeps the fastest, in µs per item. */
function bestMicrosPerItem<T>(items: readonly T[], body: (slice: readonly T[]) => void): number {
  const perRound = Math.floor(items.length / ROUNDS);
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const slice = items.slice(round * perRound, (round + 1) * perRound);
    const started = process.hrtime.bigint();
    body(slice);
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / slice.length);
  }
  return best;
}

function batches<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let index = 0; index < items.length; index += BATCH) out.push(items.slice(index, index + BATCH));
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'tally-bench-counting-'));
try {
  const ring = testKeyRing();
  const env = {
    keyRing: ring,
    ivtFilter: defaultIvtFilter(),
    priceKeysFor: () => undefined,
    redirectAllowlist: () => NO_REDIRECT_ALLOWLIST,
  };
  const nowMs = Date.now();
  const tokens = Array.from({ length: NOTICES }, () =>
    sealToken(bannerClaims({ auctionId: randomUUID(), auctionTimeMs: nowMs }), ring),
  );
  const requests = batches(
    tokens.map((token): NoticeRequest => ({
      token,
      query: '',
      method: 'GET',
      headers: { 'user-agent': USER_AGENT },
      remoteAddress: '203.0.113.7',
      receivedMs: nowMs + 1000,
    })),
  );

  // Each phase runs on the output of the one before, batch by batch.
  const decided = requests.map((batch) => batch.map((notice) => noticeEvent(notice, env).event));
  const decideUs =
    bestMicrosPerItem(requests, (slice) =>
      slice.forEach((batch) => batch.map((notice) => noticeEvent(notice, env))),
    ) / BATCH;
  const sent = decided.map(encodeBatch);
  const sendUs = bestMicrosPerItem(decided, (slice) => slice.forEach(encodeBatch)) / BATCH;
  const parsed: EventRecord[][] = sent.map(decodeBatch);
  const parseUs = bestMicrosPerItem(sent, (slice) => slice.forEach(decodeBatch)) / BATCH;
  const ledger = new SqliteLedger(openSqlite(join(dir, 'ledger.db'), 'NORMAL'));
  const outcomes: Outcome[][] = [];
  const recordUs =
    bestMicrosPerItem(parsed, (slice) => slice.forEach((batch) => outcomes.push(ledger.record(batch)))) /
    BATCH;
  const answerUs = bestMicrosPerItem(outcomes, (slice) => slice.forEach(encodeOutcomes)) / BATCH;
  const recorded = ledger.countEvents();
  ledger.close();

  const bare = new Database(join(dir, 'bare.db'));
  bare.pragma('journal_mode = WAL');
  bare.pragma('synchronous = NORMAL');
  bare.exec(
    'CREATE TABLE notices (id INTEGER PRIMARY KEY, received_ms INTEGER, auction_id TEXT, user_agent TEXT)',
  );
  const insert = bare.prepare('INSERT INTO notices (received_ms, auction_id, user_agent) VALUES (?, ?, ?)');
  const insertBatch = bare.transaction((batch: readonly string[]) => {
    for (const token of batch) insert.run(nowMs, token.slice(0, 36), USER_AGENT);
  });
  const bareInsertUs = bestMicrosPerItem(batches(tokens), (slice) => slice.forEach(insertBatch)) / BATCH;
  bare.close();

  const bytes = tokens.map((token) => Buffer.from(token, 'base64url'));
  const key = ring.keys.get(ring.signingKeyId) ?? Buffer.alloc(32);
  const bareOpenUs = bestMicrosPerItem(bytes, (slice) => {
    for (const token of slice) {
      const decipher = createDecipheriv('aes-256-gcm', key, token.subarray(2, 14), { authTagLength: 16 });
      decipher.setAAD(token.subarray(0, 2));
      decipher.setAuthTag(token.subarray(token.length - 16));
      decipher.update(token.subarray(14, token.length - 16));
      decipher.final();
    }
  });

  const httpThreadUs = decideUs + sendUs;
  const countingThreadUs = parseUs + recordUs + answerUs;
  const row = (name: string, us: number, note = '') =>
    process.stdout.write(`${name.padEnd(44)} ${us.toFixed(2).padStart(6)} µs${note}\n`);
  process.stdout.write(
    `${recorded.total} notices recorded in batches of ${BATCH}, ${recorded.counted} counted; fastest of ${ROUNDS} rounds\n\n`,
  );
  process.stdout.write('HTTP thread\n');
  row(
    '  open the token and decide',
    decideUs,
    `   ${(decideUs / bareOpenUs).toFixed(1)}× Node's bare AES-GCM open`,
  );
  row('  write the batch', sendUs);
  row('  in all', httpThreadUs);
  process.stdout.write('counting thread\n');
  row('  read the batch', parseUs);
  row(
    '  record the batch (insert, rollup, claims)',
    recordUs,
    `   ${(recordUs / bareInsertUs).toFixed(1)}× a bare insert`,
  );
  row('  write the outcomes', answerUs);
  row('  in all', countingThreadUs);
  process.stdout.write('\nbaselines, same run:\n');
  row("Node's AES-256-GCM open of a token", bareOpenUs);
  row('bare SQLite insert of a 3-column row', bareInsertUs);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
