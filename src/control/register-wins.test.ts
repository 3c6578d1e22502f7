import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPublicAddress } from '../billing/egress.js';
import { RulesTable } from '../domain/rules.js';
import type { WinEnvironment } from '../domain/win.js';
import { MAX_BODY_DEPTH } from './json-body.js';
import { MAX_WINS_PER_CALL, registerWins } from './register-wins.js';
import { testKeyRing } from '../../test/support/claims.js';
import { jsonError } from '../lib/json-error.js';

const env: WinEnvironment = {
  accountId: 1,
  rulesFor: () => new RulesTable(),
  keyRing: testKeyRing(),
  publicUrl: 'https://tally.example',
  priceKeysFor: () => undefined,
  allowsBurlAddress: isPublicAddress,
  nowMs: Date.now(),
};

/** For calls that must not fail on a win: any fault fails the test. */
const noFault = (error: unknown) => assert.fail(`a win failed: ${String(error)}`);

const banner = {
  request: { id: 'a1', imp: [{ id: '1', banner: {} }], site: {} },
  seat: 's1',
  bid: { id: 'b1', impid: '1', price: 1, adm: '<p>ad</p>' },
};

/** Each registered win's warnings of a second winner of its imp ("with another bid"). */
function secondWinnerWarnings(wins: unknown[]): string[][] {
  const answer = registerWins(JSON.stringify({ wins }), env, noFault);
  assert.ok(answer.ok, JSON.stringify(answer));
  const { results } = JSON.parse(answer.json) as { results: { ok: boolean; warnings?: string[] }[] };
  return results.map((result) =>
    (result.warnings ?? []).filter((warning) => warning.includes('with another bid')),
  );
}

describe('registering a POST /v1/wins body', () => {
  it('warns of a second winning bid for one imp of one auction in a call, but not of the same bid again (its id or seat as a number or text), of an ad pod’s slots, nor after a refused win', () => {
    const otherBid = { ...banner, bid: { ...banner.bid, id: 'b2' } };
    const pod = {
      request: { id: 'a2', imp: [{ id: '1', video: { podid: 'p1' } }], site: {} },
      seat: 's1',
      bid: { id: 'v1', impid: '1', price: 1, nurl: 'https://dsp.example/v' },
    };
    const podSecond = { ...pod, bid: { ...pod.bid, id: 'v2' } };
    const audioPod = {
      request: { id: 'a3', imp: [{ id: '1', audio: { podseq: 1 } }], site: {} },
      seat: 's1',
      bid: { id: 'r1', impid: '1', price: 1, nurl: 'https://dsp.example/r' },
    };
    const slotted = {
      ...banner,
      request: { ...banner.request, id: 'a4' },
      bid: { ...banner.bid, slotinpod: 1 },
    };
    const refused = {
      ...banner,
      request: { ...banner.request, id: 'a5' },
      bid: { ...banner.bid, price: 'one' },
    };
    const afterRefused = { ...refused, bid: { ...banner.bid, id: 'b9' } };
    const numericId = { ...banner, request: { ...banner.request, id: 'a6' }, bid: { ...banner.bid, id: 7 } };
    const textId = { ...numericId, bid: { ...banner.bid, id: '7' } };
    const numericSeat = { ...banner, request: { ...banner.request, id: 'a7' }, seat: 12 };
    const textSeat = { ...numericSeat, seat: '12' };
    const wins = [
      banner,
      otherBid,
      banner,
      pod,
      podSecond,
      audioPod,
      { ...audioPod, bid: { ...audioPod.bid, id: 'r2' } },
      slotted,
      { ...slotted, bid: { ...slotted.bid, id: 'b2' } },
      refused,
      afterRefused,
      numericId,
      textId,
      numericSeat,
      textSeat,
    ];
    const answer = registerWins(JSON.stringify({ wins }), env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as { results: { ok: boolean; warnings?: string[] }[] };
    const secondWinner = (warnings: string[] = []) =>
      warnings.filter((warning) => warning.includes('with another bid'));
    assert.equal(results[9]?.ok, false, 'the refused win');
    assert.deepEqual(
      results.map((result) => secondWinner(result.warnings).length),
      [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
    assert.match(
      secondWinner(results[1]?.warnings)[0] ?? '',
      /^wins\[0\] of this call won the same imp of the same auction with another bid/,
    );
  });

  it('warns of the same bid registered again in one call at another clearing price, naming the first by its wins[] index and both prices, but not of it again at the same price', () => {
    const second = { ...banner, request: { ...banner.request, id: 'a2' } };
    const wins = [
      banner,
      second,
      { ...second, bid: { ...second.bid, price: 3 } },
      { ...second, clearingPrice: 1 },
      { ...second, bid: { ...second.bid, price: 3 }, clearingPrice: 1 },
    ];
    const answer = registerWins(JSON.stringify({ wins }), env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as { results: { warnings?: string[] }[] };
    assert.deepEqual(
      results.map((result) => (result.warnings ?? []).filter((warning) => warning.includes('same bid'))),
      [
        [],
        [],
        [
          'wins[1] of this call registered this same bid (auction, imp, bid id and seat) at a clearing price of 1, this one at 3: both are one impression, counted once, at the price of the registration whose notice counts first; send the bid once, at the price it cleared at',
        ],
        [],
        [],
      ],
    );
  });

  it('does not warn of the bids of a dynamic ad pod, an imp whose video or audio gives poddur or maxseq without a podid, as second winners', () => {
    const dynamicPod = (auctionId: string, media: Record<string, unknown>) => ({
      request: { id: auctionId, imp: [{ id: '1', ...media }], site: {} },
      seat: 's1',
      bid: { id: 'v1', impid: '1', price: 1, nurl: 'https://dsp.example/v', dur: 15 },
    });
    const pods = [
      dynamicPod('d1', { video: { poddur: 60, maxseq: 3 } }),
      dynamicPod('d2', { video: { poddur: 60 } }),
      dynamicPod('d3', { audio: { maxseq: 4 } }),
    ];
    const wins = pods.flatMap((pod) => [pod, { ...pod, bid: { ...pod.bid, id: 'v2' } }]);
    assert.deepEqual(secondWinnerWarnings(wins), [[], [], [], [], [], []]);
  });

  it('does not warn of the bids of an ad pod slot its video names by slotinpod alone as second winners', () => {
    const slot = {
      request: { id: 's1', imp: [{ id: '1', video: { slotinpod: 1 } }], site: {} },
      seat: 's1',
      bid: { id: 'v1', impid: '1', price: 1, nurl: 'https://dsp.example/v' },
    };
    const wins = [slot, { ...slot, bid: { ...slot.bid, id: 'v2' } }];
    assert.deepEqual(secondWinnerWarnings(wins), [[], []]);
  });

  it('refuses a win that Tally fails on alone, with INTERNAL, reports the fault, and registers the others', () => {
    const faults: unknown[] = [];
    const failing: WinEnvironment = {
      ...env,
      // The fault injected: the counting rules of one publisher cannot be read.
      rulesFor: (publisherId) => {
        if (publisherId === 'broken') throw new Error('rules unreadable');
        return new RulesTable();
      },
    };
    const broken = { ...banner, request: { ...banner.request, site: { publisher: { id: 'broken' } } } };
    const answer = registerWins(JSON.stringify({ wins: [banner, broken, banner] }), failing, (error) =>
      faults.push(error),
    );
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as { results: { ok: boolean; error?: { code: string } }[] };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'INTERNAL', 'ok'],
    );
    assert.deepEqual(faults.map(String), ['Error: rules unreadable']);
  });

  it('answers every win in input order, one bad win failing alone', () => {
    const answer = registerWins(
      JSON.stringify({ wins: [banner, 'not a win', { ...banner, bid: {} }] }),
      env,
      noFault,
    );
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as { results: { ok: boolean; error?: { code: string } }[] };
    assert.deepEqual(
      results.map((result) => [result.ok, result.error?.code]),
      [
        [true, undefined],
        [false, 'VALIDATION_FAILED'],
        [false, 'VALIDATION_FAILED'],
      ],
    );
  });

  it('refuses a win whose markup would take the answer past its budget alone, answering the wins before and after it', () => {
    const big = { ...banner, bid: { ...banner.bid, adm: `<div>${'x'.repeat(50_000)}</div>` } };
    const body = JSON.stringify({ wins: [banner, big, big, banner] });
    const whole = registerWins(body, env, noFault);
    assert.ok(whole.ok, whole.ok ? '' : `the call without a budget was refused: ${whole.message}`);
    const budget = whole.json.length - 1000;
    const answer = registerWins(body, env, noFault, budget);
    assert.ok(answer.ok, answer.ok ? '' : `the call was refused: ${answer.message}`);
    assert.ok(answer.json.length <= budget, `${answer.json.length} characters`);
    const { results } = JSON.parse(answer.json) as {
      results: { ok: boolean; adm?: string; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'ok', 'ANSWER_TOO_LARGE', 'ok'],
    );
    assert.equal(
      results[1]?.adm?.includes('x'.repeat(50_000)),
      true,
      'the first large win still fits, its markup whole',
    );
    assert.equal(
      results[2]?.error?.message,
      `this win's markup would take the answer past ${budget} characters; send it in another call (the other wins are answered)`,
    );
  });

  it('writes U+FFFD for half a character of two UTF-16 units that JSON.parse quotes of a body that is not JSON', () => {
    // A lone half made the answer's JSON one that strict readers (serde_json) refuse.
    assert.deepEqual(registerWins('{"wins": [😀]}', env, noFault), {
      ok: false,
      status: 400,
      code: 'INVALID_JSON',
      message: `the body is not valid JSON: Unexpected token '\uFFFD', "{"wins": [😀]}" is not valid JSON`,
    });
  });

  it('says what to fix in a body that is not JSON, has no wins array, or has too many wins', () => {
    assert.deepEqual(registerWins('{"wins": [', env, noFault), {
      ok: false,
      status: 400,
      code: 'INVALID_JSON',
      message: `the body is not valid JSON: ${jsonError('{"wins": [')}`,
    });
    const cases: [string, string][] = [
      ['null', '(this is null)'],
      ['[]', '(this is an array)'],
      ['{}', '(this had no fields)'],
      ['{"win": []}', '(this had "win" and no "wins")'],
      ['{"wins": {}}', '("wins" is an object, not an array)'],
      ['{"wins": "[]"}', '("wins" is a string, not an array)'],
    ];
    for (const [body, sent] of cases) {
      assert.deepEqual(
        registerWins(body, env, noFault),
        {
          ok: false,
          status: 400,
          code: 'VALIDATION_FAILED',
          message: `the body must be {"wins": [ {request, seat, bid, …} ]} ${sent}`,
        },
        body,
      );
    }
    const tooMany = registerWins(
      JSON.stringify({ wins: Array(MAX_WINS_PER_CALL + 1).fill({}) }),
      env,
      noFault,
    );
    assert.ok(!tooMany.ok, 'a call of 10001 wins is refused');
    assert.match(tooMany.message, /send at most 10000 wins per call; this had 10001/);
  });

  it('refuses a body with a field beside wins, naming it, rather than ignoring it', () => {
    assert.deepEqual(registerWins('{"wins": [], "test": true}', env, noFault), {
      ok: false,
      status: 400,
      code: 'VALIDATION_FAILED',
      message:
        'the body must be {"wins": [ {request, seat, bid, …} ]}, without other fields (this had "test")',
    });
    assert.deepEqual(registerWins('{"wins": []}', env, noFault), { ok: true, json: '{"results":[]}' });
  });

  it(`takes ${MAX_WINS_PER_CALL} wins in one call, the most it allows`, () => {
    const answer = registerWins(JSON.stringify({ wins: Array(MAX_WINS_PER_CALL).fill({}) }), env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer).slice(0, 200));
    assert.equal((JSON.parse(answer.json) as { results: unknown[] }).results.length, MAX_WINS_PER_CALL);
  });

  it('answers a win that is null, an array or not an object with what each win must be, the others registered', () => {
    const answer = registerWins(JSON.stringify({ wins: [null, [banner], 5, banner] }), env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as { results: { ok: boolean; error?: unknown }[] };
    const notAWin = (sent: string) => ({
      ok: false,
      error: {
        code: 'VALIDATION_FAILED',
        message: `each win must be an object {request, seat, bid, …}, not ${sent}`,
      },
    });
    assert.deepEqual(results.slice(0, 3), [
      notAWin('null'),
      notAWin(
        `an array (${JSON.stringify([banner]).slice(0, 64)}… (${JSON.stringify([banner]).length} characters of JSON))`,
      ),
      notAWin('5'),
    ]);
    assert.equal(results[3]?.ok, true);
  });

  it('refuses a win holding a string with an unpaired surrogate escape alone, saying which, and registers the others', () => {
    // An exchange that cuts a string in UTF-16 units mid-emoji (a truncated keywords or page URL)
    // and writes it with JSON.stringify sends "\ud83d" alone.
    const cut = JSON.stringify({
      ...banner,
      request: { ...banner.request, site: { keywords: 'sale \ud83d' } },
    });
    const cutKey = JSON.stringify({ ...banner, request: { ...banner.request, ext: { 'k\udc00': 1 } } });
    const answer = registerWins(`{"wins": [${JSON.stringify(banner)}, ${cut}, ${cutKey}]}`, env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'INVALID_JSON', 'INVALID_JSON'],
    );
    assert.match(
      results[1]?.error?.message ?? '',
      /^this win holds a string with an unpaired surrogate escape \("sale \\ud83d"\)/,
    );
    assert.match(results[2]?.error?.message ?? '', /unpaired surrogate escape \("k\\udc00"\)/);
    // Outside the wins, the body is refused whole.
    const outside = registerWins('{"wins": [], "x\\ud800": 1}', env, noFault);
    assert.ok(!outside.ok && outside.code === 'INVALID_JSON', JSON.stringify(outside));
    assert.match(
      outside.message,
      /^the body holds a string with an unpaired surrogate escape \("x\\ud800"\)/,
    );
  });

  it('refuses alone each win holding a number past 2^53 - 1 where it would be an id or served rounded, and registers the others', () => {
    // Written as text: JSON.stringify would write 2^53 + 1 as the 2^53 it reads as.
    const big = '9007199254740993';
    const body =
      `{"wins": [${JSON.stringify(banner)}, ` +
      `{"request": {"id": ${big}, "imp": [{"id": "1", "banner": {}}], "site": {}}, "seat": "s1", "bid": {"id": "b1", "impid": "1", "price": 1}}, ` +
      `{"request": {"id": "a1", "imp": [{"id": ${big}, "banner": {}}], "site": {}}, "seat": "s1", "bid": {"id": "b1", "impid": "${big}", "price": 1}}, ` +
      `{"request": {"id": "a1", "imp": [{"id": "1", "native": {}}], "site": {}}, "seat": "s1", "bid": {"id": "b1", "impid": "1", "price": 1, "adm": {"native": {"assets": [{"id": ${big}}]}}}}, ` +
      `${JSON.stringify({ ...banner, request: { ...banner.request, id: 'a2' } })}]}`;
    const answer = registerWins(body, env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => [result.error?.code ?? 'ok', result.error?.message.split(' is ')[0]]),
      [
        ['ok', undefined],
        ['VALIDATION_FAILED', 'request.id'],
        ['VALIDATION_FAILED', 'request.imp[0].id'],
        ['VALIDATION_FAILED', 'bid.adm.native.assets[0].id'],
        ['ok', undefined],
      ],
    );
    assert.deepEqual(
      results.filter((result) => JSON.stringify(result).includes('9007199254740992')),
      [],
      'no result repeats the rounded 9007199254740992',
    );
  });

  it('refuses a win naming a member twice a hundred thousand times a hundred thousand levels deep without writing each one’s path whole', () => {
    // The path of each member named twice was once written from the body's top: time and memory
    // quadratic in the body, minutes for a quarter of a megabyte.
    const levels = 100_000;
    const deep = `${'['.repeat(levels)}{${'"a":1,'.repeat(levels)}"a":1}${']'.repeat(levels)}`;
    const twice = `{"seat":"x",${JSON.stringify(banner).slice(1)}`;
    const answer = registerWins(`{"wins": [${deep}, ${twice}]}`, env, noFault);
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['BODY_TOO_DEEP', 'INVALID_JSON'],
    );
    assert.match(
      results[1]?.error?.message ?? '',
      /^this win names "seat" twice in one object \(at wins\[1\]\.seat\)/,
    );
  });

  it('refuses a win nested past the limit alone with BODY_TOO_DEEP, and a body nested past it outside its wins whole, instead of overflowing the stack', () => {
    // 20 000 levels in 120 KB: instrumenting the object adm used to throw a RangeError.
    const deepAdm = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    const deepWin = JSON.stringify({ ...banner, bid: { ...banner.bid, adm: 0 } }).replace(
      '"adm":0',
      `"adm":${deepAdm}`,
    );
    const deepArray = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const answer = registerWins(
      `{"wins": [${JSON.stringify(banner)}, ${deepWin}, ${deepArray}, ${JSON.stringify(banner)}]}`,
      env,
      noFault,
    );
    assert.ok(answer.ok, JSON.stringify(answer));
    const { results } = JSON.parse(answer.json) as {
      results: { ok: boolean; error?: { code: string; message: string } }[];
    };
    assert.deepEqual(
      results.map((result) => result.error?.code ?? 'ok'),
      ['ok', 'BODY_TOO_DEEP', 'BODY_TOO_DEEP', 'ok'],
    );
    assert.match(results[1]?.error?.message ?? '', new RegExp(`more than ${MAX_BODY_DEPTH} levels deep`));
    // Outside the wins, the body itself is refused.
    for (const body of [deepArray, `{"wins": [], "ext": ${deepArray}}`]) {
      const deep = registerWins(body, env, noFault);
      assert.deepEqual(deep.ok ? 'ok' : [deep.status, deep.code], [400, 'BODY_TOO_DEEP']);
    }
    // A body exactly at the limit is read: its win is judged on its own.
    const nested = (levels: number): unknown => (levels === 0 ? 'x' : { a: nested(levels - 1) });
    const atLimit = registerWins(
      JSON.stringify({ wins: [{ ...banner, ext: nested(MAX_BODY_DEPTH - 3) }] }),
      env,
      noFault,
    );
    assert.ok(atLimit.ok, JSON.stringify(atLimit));
    const [atLimitResult] = (JSON.parse(atLimit.json) as { results: { error?: { code: string } }[] }).results;
    assert.equal(atLimitResult?.error?.code, 'VALIDATION_FAILED', 'judged on its own: ext is no field');
    const pastLimit = registerWins(
      JSON.stringify({ wins: [{ ...banner, ext: nested(MAX_BODY_DEPTH - 2) }] }),
      env,
      noFault,
    );
    assert.ok(pastLimit.ok, JSON.stringify(pastLimit));
    const [pastLimitResult] = (JSON.parse(pastLimit.json) as { results: { error?: { code: string } }[] })
      .results;
    assert.equal(pastLimitResult?.error?.code, 'BODY_TOO_DEEP');
  });
});
