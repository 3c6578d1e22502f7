import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferredMediaType, refuseUnacceptable } from './accept.js';
import { ApiError } from './api-error.js';

const OFFERED = ['application/json', 'text/csv'];

describe('choosing a media type from Accept', () => {
  it('takes the first offered type without a header, or with a blank one', () => {
    assert.equal(preferredMediaType(undefined, OFFERED), 'application/json');
    assert.equal(preferredMediaType('  ', OFFERED), 'application/json');
  });

  it('takes the only offered type a header names, whatever its case', () => {
    assert.equal(preferredMediaType('text/csv', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('Text/CSV; charset=utf-8', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('application/json', OFFERED), 'application/json');
  });

  it('gives a tie between equally weighted types to the first offered, whatever order the header lists them in', () => {
    assert.equal(preferredMediaType('application/json, text/csv', OFFERED), 'application/json');
    assert.equal(preferredMediaType('text/csv, application/json', OFFERED), 'application/json');
    assert.equal(preferredMediaType('*/*', OFFERED), 'application/json');
  });

  it('gives a tie to the type a more specific range names: text/csv with */* as a fallback asks for CSV', () => {
    assert.equal(preferredMediaType('text/csv, */*', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('*/*, text/*', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('application/*, text/csv', OFFERED), 'text/csv');
  });

  it('follows the weights: the higher q wins, and q=0 refuses a type', () => {
    assert.equal(preferredMediaType('text/csv, application/json;q=0.9', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('text/csv;q=0.5, application/json', OFFERED), 'application/json');
    assert.equal(preferredMediaType('application/json;q=0, */*', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('text/csv;q=0, application/json;q=0', OFFERED), undefined);
  });

  it('weighs each type by the most specific range that matches it', () => {
    assert.equal(preferredMediaType('text/*', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('*/*;q=0.1, text/*;q=0.5', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('text/*;q=0.9, text/csv;q=0.2, */*;q=0.5', OFFERED), 'application/json');
  });

  it('reads a malformed weight as 1 and accepts none of the offered types for an unrelated header', () => {
    assert.equal(preferredMediaType('text/csv;q=high, application/json;q=0.5', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('text/csv;q=1.5, application/json;q=0.5', OFFERED), 'text/csv');
    assert.equal(preferredMediaType('image/png', OFFERED), undefined);
  });
});

describe('refusing an Accept that accepts nothing a route answers', () => {
  /** What `refuseUnacceptable` does with `accept`: `ok`, or the status, code and message it throws. */
  const outcome = (accept: string | undefined, answers: readonly string[] = []) => {
    try {
      refuseUnacceptable(accept, answers);
      return 'ok';
    } catch (error) {
      assert.equal(error instanceof ApiError, true, String(error));
      const refusal = error as ApiError;
      return `${refusal.status} ${refusal.code}: ${refusal.message}`;
    }
  };

  it('answers without Accept, with a blank one, */*, application/* or JSON at any weight above 0', () => {
    for (const accept of [
      undefined,
      '',
      '*/*',
      'application/*',
      'application/json;q=0.1',
      'text/html, */*;q=0.8',
    ])
      assert.equal(outcome(accept), 'ok', String(accept));
  });

  it('refuses 406 saying what the route answers when Accept names only other types, or refuses JSON with q=0', () => {
    assert.equal(
      outcome('application/xml'),
      '406 NOT_ACCEPTABLE: Accept: "application/xml" accepts nothing this endpoint answers, which is application/json: accept application/json (or send no Accept)',
    );
    for (const accept of [
      'text/csv',
      'text/*',
      'application/json;q=0, text/csv',
      '*/*;q=0',
      'image/png, application/xml;q=0.5',
    ])
      assert.match(outcome(accept), /^406 NOT_ACCEPTABLE: /, accept);
  });

  it('disregards an Accept naming no media range at all (a client’s broken header), as RFC 9110 allows, but not one naming a range it refuses beside broken ones', () => {
    for (const accept of ['*', 'garbage', 'json', ' , ;q=1']) assert.equal(outcome(accept), 'ok', accept);
    assert.match(outcome('garbage, application/xml'), /^406 NOT_ACCEPTABLE: /);
  });

  it('answers an Accept naming a type the route answers besides JSON: text/csv, text/* or */* where it answers CSV', () => {
    const csv = ['text/csv'];
    for (const accept of ['text/csv', 'text/*', 'text/csv, application/json;q=0', '*/*'])
      assert.equal(outcome(accept, csv), 'ok', accept);
    assert.equal(
      outcome('application/xml', csv),
      '406 NOT_ACCEPTABLE: Accept: "application/xml" accepts nothing this endpoint answers, which is application/json or text/csv: accept application/json or text/csv (or send no Accept)',
    );
  });
});
