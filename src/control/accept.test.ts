import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferredMediaType } from './accept.js';

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
