import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openSqlite } from '../adapters/sqlite/database.js';
import { SqliteLedger } from '../adapters/sqlite/ledger.js';
import { exchangeEvent, T0 } from '../../test/support/events.js';
import { parseReplayRequest, REPLAY_ROWS_PER_STEP, replayDeadInSteps } from './replay-dead.js';

const dir = mkdtempSync(join(tmpdir(), 'tally-replay-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A ledger holding `count` dead deliveries, and its path. */
function ledgerWithDead(name: string, count: number): { ledger: SqliteLedger; path: string } {
  const path = join(dir, `${name}.db`);
  const ledger = new SqliteLedger(openSqlite(path));
  const delivery = { url: 'https://dsp.example/bill', deadlineMs: T0 + 1000 };
  ledger.record(
    Array.from({ length: count }, (_, index) =>
      exchangeEvent({ dedupe: { key: `k${index}`, expiresMs: T0 + 1 }, delivery }),
    ),
  );
  for (const { id } of ledger.leaseDeliveries(T0, count, 1000)) ledger.markFailed(id, 'HTTP 500', null);
  return { ledger, path };
}

describe('tally replay-dead', () => {
  it('makes dead deliveries pending a step at a time, letting another connection write between two steps', async () => {
    const count = 2 * REPLAY_ROWS_PER_STEP + 1;
    const { ledger, path } = ledgerWithDead('steps', count);
    // The server's counting thread, as it would be were it never to wait for the lock.
    const server = new Database(path);
    server.pragma('busy_timeout = 0');
    const pendingAtPauses: number[] = [];
    const pause = () => {
      server.prepare('UPDATE prune_progress SET events_below_id = events_below_id').run();
      pendingAtPauses.push(ledger.countDeliveriesWith('pending'));
      return Promise.resolve();
    };
    try {
      const said = await replayDeadInSteps(ledger, { filter: {}, dryRun: false }, T0, T0 + 1000, pause);
      assert.equal(said, `${count} dead deliveries are pending again\n`);
      assert.deepEqual(pendingAtPauses, [REPLAY_ROWS_PER_STEP, 2 * REPLAY_ROWS_PER_STEP]);
      assert.equal(ledger.countDeliveriesWith('pending'), count);
    } finally {
      server.close();
      ledger.close();
    }
  });

  it('replays each dead delivery once when run twice at once: not one the other run replayed and that died again meanwhile', async () => {
    const count = REPLAY_ROWS_PER_STEP + 1;
    const { ledger } = ledgerWithDead('twice', count);
    const lastId = ledger.deadDeliveries().at(-1)?.id ?? 0;
    const saidByOther: string[] = [];
    // Between this run's two steps, another run replays what is still dead (the last delivery),
    // and the relay calls it and it dies again at once, as a burl the egress refuses does.
    const otherRunThenDeath = async () => {
      saidByOther.push(await replayDeadInSteps(ledger, { filter: {}, dryRun: false }, T0 + 2000, T0 + 9000));
      ledger.settleDeliveries([{ id: lastId, error: 'refused', nextDueMs: null, firstFailedMs: T0 + 2500 }]);
    };
    try {
      const said = await replayDeadInSteps(
        ledger,
        { filter: {}, dryRun: false },
        T0 + 1000,
        T0 + 8000,
        otherRunThenDeath,
      );
      assert.deepEqual(saidByOther, ['1 dead delivery is pending again\n']);
      assert.equal(said, `${REPLAY_ROWS_PER_STEP} dead deliveries are pending again\n`);
      assert.equal(ledger.countDeliveriesWith('dead'), 1, 'the one that died again stays dead');
    } finally {
      ledger.close();
    }
  });

  it('replays a dead delivery whose first failure was stamped by a clock ahead of the replay’s', async () => {
    const { ledger } = ledgerWithDead('clock-ahead', 2);
    const [ahead, behind] = ledger.deadDeliveries().map(({ id }) => id);
    // Killed again by a relay whose clock ran an hour ahead, and one just behind, after replays.
    ledger.replayDead(ledger.deadDeliveries(), T0, T0 + 1000);
    ledger.settleDeliveries([
      { id: ahead ?? 0, error: 'HTTP 500', nextDueMs: null, firstFailedMs: T0 + 3_600_000 },
      { id: behind ?? 0, error: 'HTTP 500', nextDueMs: null, firstFailedMs: T0 + 500 },
    ]);
    try {
      const said = await replayDeadInSteps(ledger, { filter: {}, dryRun: false }, T0 + 1000, T0 + 9000);
      assert.equal(said, '2 dead deliveries are pending again\n');
      assert.deepEqual(ledger.countDeliveries(), { pending: 2, delivered: 0, dead: 0, redirected: 0 });
    } finally {
      ledger.close();
    }
  });

  it('counts without changing anything on --dry-run, and replays one alone in a single step', async () => {
    const { ledger } = ledgerWithDead('dry-run', 1);
    const noPause = () => assert.fail('no pause for a single step');
    try {
      const dry = await replayDeadInSteps(ledger, { filter: {}, dryRun: true }, T0, T0 + 1000, noPause);
      assert.equal(dry, '1 dead delivery would be pending again (--dry-run: nothing was changed)\n');
      assert.equal(ledger.countDeliveriesWith('dead'), 1);
      const said = await replayDeadInSteps(ledger, { filter: {}, dryRun: false }, T0, T0 + 1000, noPause);
      assert.equal(said, '1 dead delivery is pending again\n');
      assert.equal(ledger.countDeliveriesWith('pending'), 1);
    } finally {
      ledger.close();
    }
  });
});

describe('the options of tally replay-dead', () => {
  it('refuses an unknown option by name, listing the options it takes', () => {
    for (const args of [['--bogus'], ['--dry-run', '-x'], ['--hosts=dsp.example']]) {
      const unknown = JSON.stringify(args.at(-1));
      assert.deepEqual(parseReplayRequest(args), {
        ok: false,
        error: `unknown option ${unknown}: the options are --account, --host, --from, --to, --dry-run`,
      });
    }
  });

  it('says in one line what an option lacks or cannot take: a value missing, or one that begins with -, or one given to --dry-run', () => {
    const refusals = [
      ['--account'],
      ['--dry-run', '--host'],
      ['--host', '--dry-run'],
      ['--from', '-1d', '--dry-run'],
      ['--dry-run=yes'],
    ].map((args) => parseReplayRequest(args));
    assert.deepEqual(refusals, [
      { ok: false, error: '--account needs a value' },
      { ok: false, error: '--host needs a value' },
      {
        ok: false,
        error:
          '--host needs a value, and "--dry-run" after it is an option (give a value beginning with - as --host=<value>)',
      },
      {
        ok: false,
        error:
          '--from needs a value, and "-1d" after it is an option (give a value beginning with - as --from=<value>)',
      },
      { ok: false, error: '--dry-run takes no value: give --dry-run alone' },
    ]);
  });

  it('picks the account, the host as any burl spells it, from and to, each as given', () => {
    const parsed = parseReplayRequest([
      '--account',
      '7',
      '--host',
      'admin@DSP.Example:8443',
      '--from',
      '2026-12-04T10:00:00Z',
      '--to',
      '2026-12-04T15:00:00+01:00',
    ]);
    assert.deepEqual(parsed, {
      ok: true,
      request: {
        filter: {
          accountId: 7,
          host: { hostname: 'dsp.example', port: 8443 },
          createdFromMs: Date.UTC(2026, 11, 4, 10),
          createdToMs: Date.UTC(2026, 11, 4, 14),
        },
        dryRun: false,
      },
    });
    assert.deepEqual(parseReplayRequest(['--to', '2026-12-04']), {
      ok: true,
      request: { filter: { createdToMs: Date.UTC(2026, 11, 4) }, dryRun: false },
    });
  });

  it('picks a host by what URL parsing reads, so that any spelling of it names it, and refuses one that names no host', () => {
    for (const spelt of ['127.1', '0x7f.0.0.1', '127.0.0.1.'])
      assert.deepEqual(
        parseReplayRequest(['--host', spelt]),
        { ok: true, request: { filter: { host: { hostname: '127.0.0.1' } }, dryRun: false } },
        spelt,
      );
    for (const notHost of ['999.1.1.1', 'dsp.example:99999', '[zz]', 'https://dsp.example', ''])
      assert.deepEqual(
        parseReplayRequest(['--host', notHost]),
        {
          ok: false,
          error: `--host ${JSON.stringify(notHost)} is no host a URL can name: give the burl's host, such as dsp.example, dsp.example:8443 or 192.0.2.1, without a scheme or path`,
        },
        notHost,
      );
  });

  it('refuses a window that holds no time, and a day that does not exist', () => {
    assert.deepEqual(parseReplayRequest(['--from', '2026-12-04T10:00:00Z', '--to', '2026-12-04T10:00:00Z']), {
      ok: false,
      error: '--from must be before --to',
    });
    assert.equal(parseReplayRequest(['--from', '2026-02-30']).ok, false, 'February 30 is refused');
  });

  it('refuses an option given twice, naming both values, rather than keep the last and replay less than asked', () => {
    const parsed = parseReplayRequest(['--host', 'a.example', '--host', 'b.example', '--dry-run']);
    assert.deepEqual(parsed, {
      ok: false,
      error:
        '--host is given 2 times ("a.example", "b.example"): give it once, and run the command once for each',
    });
    const both = parseReplayRequest([
      '--account=1',
      '--from',
      '2026-12-01',
      '--account',
      '2',
      '--from=2026-12-02',
    ]);
    assert.ok(!both.ok, '--account and --from given twice are refused');
    assert.match(both.error, /^--account is given 2 times \("1", "2"\).*; --from is given 2 times/);
    const once = parseReplayRequest(['--host', 'a.example', '--dry-run', '--dry-run']);
    assert.ok(once.ok, 'a flag given twice asks the same thing');
  });
});
