import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../api-error.js';
import type { WriteMode } from './validation.js';
import { FieldReader } from './validation.js';

/** Reads `body` with `read`, answering the value, or the 400 message when the reader refused it. */
function outcome<T>(
  body: Record<string, unknown>,
  read: (fields: FieldReader) => T,
  mode: WriteMode = 'create',
): { value: T } | { refused: string } {
  const fields = new FieldReader(body, mode, Object.keys(body));
  const value = read(fields);
  try {
    fields.finish('thing');
  } catch (error) {
    assert.ok(error instanceof ApiError, `finish refuses with an ApiError; got ${String(error)}`);
    assert.deepEqual([error.status, error.code], [400, 'VALIDATION_FAILED']);
    return { refused: error.message };
  }
  return { value };
}

function accepted<T>(body: Record<string, unknown>, read: (fields: FieldReader) => T): T {
  const result = outcome(body, read);
  assert.ok(
    'value' in result,
    `${JSON.stringify(body)} was refused: ${'refused' in result ? result.refused : ''}`,
  );
  return result.value;
}

function refused(body: Record<string, unknown>, read: (fields: FieldReader) => unknown): string {
  const result = outcome(body, read);
  assert.ok('refused' in result, `${JSON.stringify(body)} was accepted`);
  return result.refused;
}

describe('catalog field readers', () => {
  it('takes names of 1 to 255 characters once trimmed, and refuses blank or longer ones', () => {
    const name = (fields: FieldReader) => fields.name('name', '');
    assert.equal(accepted({ name: ` ${'n'.repeat(255)} ` }, name), 'n'.repeat(255));
    assert.equal(accepted({ name: 'x' }, name), 'x');
    // Characters as a reader counts them: an emoji is one, though two UTF-16 units.
    assert.equal(accepted({ name: '😀'.repeat(255) }, name), '😀'.repeat(255));
    assert.match(refused({ name: '😀'.repeat(256) }, name), /… \(256 characters\) is not valid/);
    for (const value of ['n'.repeat(256), '   ', '', 7, 'a\u0000b', 'a\tb', 'line\nbreak', 'a\u007fb']) {
      assert.match(
        refused({ name: value }, name),
        /name: .* is not valid: send a non-empty string of at most 255 characters/,
      );
    }
  });

  it('refuses a name with nothing visible in it or holding a Unicode line break, and takes invisible joiners inside a visible one', () => {
    const name = (fields: FieldReader) => fields.name('name', '');
    // Zero-width space, a right-to-left override, a word joiner and a Hangul filler alone read as
    // a blank name in every list; U+2028 and U+2029 break lines as a line feed does.
    for (const value of ['\u200b', '\u202e', '\u2060\u200c', ' \u3164 ', 'a\u2028b', 'a\u2029b']) {
      assert.match(
        refused({ name: value }, name),
        /name: .* is not valid: send a non-empty string of at most 255 characters, not all invisible, without control characters or line breaks/s,
      );
    }
    // A joiner in an emoji sequence, a soft hyphen in a word: visible names all the same.
    assert.equal(accepted({ name: '👩\u200d💻 Studio' }, name), '👩\u200d💻 Studio');
    assert.equal(accepted({ name: 'Acme\u00adCorp' }, name), 'Acme\u00adCorp');
  });

  it('takes integers within the bounds, both bounds included', () => {
    const priority = (fields: FieldReader) => fields.integer('priority', 5, 1, 10);
    assert.equal(accepted({ priority: 1 }, priority), 1);
    assert.equal(accepted({ priority: 10 }, priority), 10);
    assert.equal(accepted({}, priority), 5);
    for (const value of [0, 11, 2.5, '3']) {
      assert.match(
        refused({ priority: value }, priority),
        /priority: .* is not valid: send an integer from 1 to 10/,
      );
    }
  });

  it('takes amounts up to 999999.999999 and fractions up to 1, with at most 6 decimals', () => {
    const amount = (fields: FieldReader) => fields.amount('costCpm', null);
    const fraction = (fields: FieldReader) => fields.fraction('revshare', null);
    assert.equal(accepted({ costCpm: '999999.999999' }, amount), 999_999_999_999);
    assert.equal(accepted({ costCpm: 0 }, amount), 0);
    assert.equal(accepted({ costCpm: null }, amount), null);
    assert.equal(accepted({ revshare: 1 }, fraction), 1_000_000);
    assert.equal(accepted({ revshare: '0.000001' }, fraction), 1);
    for (const value of ['1000000', 1000000, '1.0000001', -1, 'abc']) {
      assert.match(refused({ costCpm: value }, amount), /costCpm: .* is not valid: send a decimal amount/);
    }
    // In range but too precise: the hint must say why.
    assert.match(refused({ costCpm: 2.1234567 }, amount), /with at most 6 decimals/);
    for (const value of ['1.000001', 1.5, -0.5]) {
      assert.match(
        refused({ revshare: value }, fraction),
        /revshare: .* is not valid: send a fraction from 0 to 1/,
      );
    }
  });

  it('takes absolute http(s) URLs of at most 2048 characters, without spaces, controls or credentials', () => {
    const url = (fields: FieldReader) => fields.url('clickUrl', null);
    const longest = `https://shop.example/${'a'.repeat(2048 - 'https://shop.example/'.length)}`;
    assert.equal(accepted({ clickUrl: longest }, url), longest);
    assert.equal(accepted({ clickUrl: 'http://shop.example/x?a=1' }, url), 'http://shop.example/x?a=1');
    for (const value of [
      `${longest}a`,
      'https://shop.example/a b',
      'https://shop.example/a\nb',
      'https://user@shop.example/',
      'https://:pw@shop.example/',
      'ftp://shop.example/',
      '/relative',
    ]) {
      assert.match(
        refused({ clickUrl: value }, url),
        /clickUrl: .* is not valid: send an absolute http\(s\) URL/,
      );
    }
  });

  it('takes real calendar days only', () => {
    const date = (fields: FieldReader) => fields.date('endDate', null);
    assert.equal(accepted({ endDate: '2028-02-29' }, date), '2028-02-29');
    for (const value of ['2027-02-29', '2026-04-31', '2026-1-05', '2026-01-05T00:00:00Z']) {
      assert.match(refused({ endDate: value }, date), /endDate: .* is not valid: send a date YYYY-MM-DD/);
    }
  });

  it('takes lists of positive ids, without repeats, and refuses any other element', () => {
    const ids = (fields: FieldReader) => fields.idList('placementIds', []);
    assert.deepEqual(accepted({ placementIds: [3, 1, 3] }, ids), [3, 1]);
    for (const value of [[0], [1, '2'], [1.5], 'x']) {
      assert.match(
        refused({ placementIds: value }, ids),
        /placementIds: .* is not valid: send an array of at most 10000 numeric ids/,
      );
    }
  });

  it('takes a list of 10000 ids and refuses a longer one, saying how many it takes', () => {
    const ids = (fields: FieldReader) => fields.idList('placementIds', []);
    const most = Array.from({ length: 10_000 }, (_, index) => index + 1);
    assert.equal(accepted({ placementIds: most }, ids).length, 10_000);
    assert.match(
      refused({ placementIds: [...most, 10_001] }, ids),
      /placementIds: .* is not valid: send an array of at most 10000 numeric ids \(empty for none\)$/,
    );
  });

  it('refuses an id past 2^53 - 1 saying so, rather than repeat it rounded as a number the caller never sent', () => {
    // 2^53 + 1 reads as 2^53, an id no one sent.
    const body = JSON.parse(
      '{"advertiserId": 9007199254740993, "publisherId": null, "placementIds": [1, 9007199254740993]}',
    ) as Record<string, unknown>;
    const message = refused(body, (fields) => [
      fields.id('advertiserId', 0),
      fields.optionalId('publisherId', 1),
      fields.idList('placementIds', []),
    ]);
    assert.doesNotMatch(message, /900719925474099/);
    assert.match(
      message,
      /advertiserId: a number past 2\^53 - 1 in size \(JSON readers round it\) is not valid: send the numeric id of an existing object; placementIds: an array holding a number past 2\^53 - 1 in size \(JSON readers round it\) is not valid: send an array of at most 10000 numeric ids/,
    );
  });

  it('lists the first ten problems of a body and counts the rest, rather than repeat thousands', () => {
    const body = Object.fromEntries(Array.from({ length: 25 }, (_, index) => [`unknown${index}`, 1]));
    const fields = new FieldReader(body, 'create', ['name']);
    assert.throws(
      () => fields.finish('thing'),
      (error: unknown) =>
        error instanceof ApiError &&
        error.message.startsWith('the thing was not saved; fix these 25 fields: unknown0: unknown field') &&
        error.message.includes('unknown9: unknown field') &&
        !error.message.includes('unknown10') &&
        error.message.endsWith('; and 15 more'),
    );
  });

  it('asks for required fields on create and replace, keeps absent ones on patch, and refuses null there', () => {
    const name = (fields: FieldReader) => fields.name('name', 'stored');
    for (const mode of ['create', 'replace'] as const) {
      const result = outcome({}, name, mode);
      assert.ok('refused' in result, mode);
      assert.match(result.refused, /name: required: send a non-empty string/);
    }
    assert.deepEqual(outcome({}, name, 'patch'), { value: 'stored' });
    const cleared = outcome({ name: null }, name, 'patch');
    assert.ok(
      'refused' in cleared,
      `a patch setting the required name to null is refused; got ${JSON.stringify(cleared)}`,
    );
    assert.match(cleared.refused, /name: cannot be null/);
  });

  it('refuses null for a field without an empty value in every mode, saying to send a value or leave it out, and takes it where it clears', () => {
    const readers: [string, (fields: FieldReader) => unknown, string][] = [
      [
        'state',
        (fields) => fields.oneOf('state', ['active', 'inactive'], 'active'),
        'one of "active", "inactive"',
      ],
      ['enabled', (fields) => fields.bool('enabled', false), 'true or false'],
      ['priority', (fields) => fields.integer('priority', 5, 1, 10), 'an integer from 1 to 10'],
      [
        'placementIds',
        (fields) => fields.idList('placementIds', [7]),
        'an array of at most 10000 numeric ids',
      ],
    ];
    for (const [field, read, hint] of readers) {
      for (const [mode, fate] of [
        ['create', 'for its default'],
        ['replace', 'for its default'],
        ['patch', 'to keep it'],
      ] as const) {
        const result = outcome({ [field]: null }, read, mode);
        assert.deepEqual(
          'refused' in result ? result.refused : result,
          `the thing was not saved; fix this field: ${field}: cannot be null: send ${hint}${field === 'placementIds' ? ' (empty for none)' : ''}, or leave ${field} out ${fate}`,
          `${field} in a ${mode}`,
        );
      }
    }
    assert.deepEqual(
      outcome({ role: null }, (fields) => fields.oneOf('role', ['reader'], 'reader', { required: true })),
      { refused: 'the thing was not saved; fix this field: role: cannot be null: send one of "reader"' },
    );
    for (const mode of ['create', 'replace', 'patch'] as const)
      assert.deepEqual(
        outcome({ placementId: null }, (fields) => fields.optionalId('placementId', 3), mode),
        {
          value: null,
        },
      );
  });
});
