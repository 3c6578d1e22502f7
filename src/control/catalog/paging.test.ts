import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageOf, parseListRequest, parsePathId } from './paging.js';
import { ApiError } from '../api-error.js';
import { validationFailure } from '../../../test/support/validation-failure.js';

const FILTERS = {
  advertiserId: { idOf: 'advertiser' },
  name: 'text',
  state: ['active', 'inactive'],
} as const;

function parse(query: string) {
  return parseListRequest(new URLSearchParams(query), FILTERS);
}

/** The 400 message `query` is refused with. */
const refusal = (query: string): string => validationFailure(() => parse(query), query);

describe('list queries', () => {
  it('pages 50 rows by default and takes any whole limit from 1 to 500', () => {
    assert.deepEqual(parse(''), { filter: {}, limit: 50, afterId: undefined });
    assert.equal(parse('limit=1').limit, 1);
    assert.equal(parse('limit=500').limit, 500);
  });

  it('refuses a limit of 0, over 500, fractional, signed or not a number, saying the range and default', () => {
    for (const limit of ['0', '501', '2.5', '-1', '+5', '1e2', 'ten', '']) {
      assert.match(
        refusal(`limit=${limit}`),
        /limit: send an integer from 1 to 500 \(default 50\)/,
        `limit=${limit}`,
      );
    }
  });

  it('reads `after` as the previous page’s `next` id and refuses anything else', () => {
    assert.equal(parse('after=0').afterId, 0);
    assert.equal(parse('after=123').afterId, 123);
    assert.equal(parse('after=999999999999999').afterId, 999_999_999_999_999);
    for (const after of ['-1', '1.5', 'abc', '', '9007199254740992', '99999999999999999999']) {
      assert.match(refusal(`after=${after}`), /after: send the `next` value of the previous page/, after);
    }
  });

  it('reads id filters as positive numbers, text filters as given and value filters among their values', () => {
    assert.deepEqual(parse('advertiserId=42&name=Spring Sale&state=inactive').filter, {
      advertiserId: 42,
      name: 'Spring Sale',
      state: 'inactive',
    });
    for (const id of ['0', '007', '-3', 'x', '1.5']) {
      assert.match(
        refusal(`advertiserId=${id}`),
        new RegExp(
          `advertiserId: send an id, a whole number from 1 to 2\\^53 - 1 written without leading zeros, not "${id}"`,
        ),
        id,
      );
    }
    assert.match(refusal('state=paused'), /state: send one of active, inactive/);
  });

  it('takes an id in a filter, in after and in a path up to 2^53 - 1, the bound of an id in a body, and no further', () => {
    const largest = '9007199254740991';
    assert.deepEqual(parse(`advertiserId=${largest}&after=${largest}`), {
      filter: { advertiserId: Number.MAX_SAFE_INTEGER },
      limit: 50,
      afterId: Number.MAX_SAFE_INTEGER,
    });
    assert.equal(parsePathId(largest, 'advertiser'), Number.MAX_SAFE_INTEGER);
    for (const past of ['9007199254740992', '10000000000000000']) {
      assert.match(
        refusal(`advertiserId=${past}`),
        new RegExp(
          `advertiserId: send an id, a whole number from 1 to 2\\^53 - 1 written without leading zeros, not "${past}"`,
        ),
      );
      assert.match(refusal(`after=${past}`), /after: send the `next` value of the previous page/);
      assert.throws(
        () => parsePathId(past, 'advertiser'),
        (error: unknown) =>
          error instanceof ApiError &&
          error.status === 404 &&
          error.message === `advertiser ${past} not found`,
      );
    }
  });

  it('refuses a parameter given twice rather than reading one of its values', () => {
    assert.match(refusal('state=active&state=inactive'), /state: given more than once; give it once/);
    assert.match(refusal('limit=5&after=10&limit=50'), /limit: given more than once/);
    // Neither value is read: the bad one draws no second problem.
    assert.equal(refusal('limit=0&limit=5'), 'bad list query: limit: given more than once; give it once');
    assert.equal(refusal('state=x&state=y'), 'bad list query: state: given more than once; give it once');
    assert.match(refusal('foo=1&foo=2'), /^bad list query: "foo": unknown parameter; use limit, after/);
  });

  it('refuses an unknown parameter, listing the known ones, and names every problem at once', () => {
    const message = refusal('advertiser=1&limit=0&state=x');
    assert.match(message, /^bad list query: /);
    assert.match(message, /"advertiser": unknown parameter; use limit, after, advertiserId, name, state/);
    assert.match(message, /limit: send an integer/);
    assert.match(message, /state: send one of/);
  });

  it('quotes an unknown parameter name, cut to 64 characters, so that an empty, long or multi-line one reads as a name', () => {
    const known = 'unknown parameter; use limit, after, advertiserId, name, state';
    assert.equal(refusal('=1'), `bad list query: "": ${known}`);
    assert.equal(refusal('a%0Ab=1'), `bad list query: "a\\nb": ${known}`);
    assert.equal(refusal(`${'x'.repeat(10_000)}=1`), `bad list query: "${'x'.repeat(64)}…": ${known}`);
  });

  it('refuses a parameter named like an Object property as unknown, not a filter', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      assert.equal(
        refusal(`${name}=1`),
        `bad list query: "${name}": unknown parameter; use limit, after, advertiserId, name, state`,
        name,
      );
    }
  });

  it('lists only limit and after for a list without filters (API keys), with no dangling comma', () => {
    const message = validationFailure(() => parseListRequest(new URLSearchParams('foo=1'), {}), 'foo=1');
    assert.equal(message, 'bad list query: "foo": unknown parameter; use limit, after');
  });
});

describe('list pages', () => {
  const rows = (count: number) => Array.from({ length: count }, (_, at) => ({ id: (at + 1) * 10 }));
  const ids = (page: { items: { id: number }[] }) => page.items.map((item) => item.id);

  it('answers `limit` items and the last one’s id as `next` when a row more was found', () => {
    const page = pageOf(rows(4), 3, (row) => row);
    assert.deepEqual(ids(page), [10, 20, 30]);
    assert.equal(page.next, 30);
  });

  it('answers `next: null` on the last page, even one that is exactly full', () => {
    const full = pageOf(rows(3), 3, (row) => row);
    assert.deepEqual(ids(full), [10, 20, 30]);
    assert.equal(full.next, null);
    assert.deepEqual(
      pageOf([], 3, (row) => row),
      { items: [], next: null },
    );
  });
});
