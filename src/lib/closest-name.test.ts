import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestName } from './closest-name.js';

const SETTINGS = ['TALLY_RETENTION_DAYS', 'TALLY_PORT', 'TALLY_HOST', 'TALLY_SQLITE_SYNCHRONOUS'];

describe('closestName', () => {
  it('names the setting a letter dropped, added, changed or two swapped meant', () => {
    assert.equal(closestName('TALLY_RETENTON_DAYS', SETTINGS), 'TALLY_RETENTION_DAYS');
    assert.equal(closestName('TALLY_RETENTION_DAY', SETTINGS), 'TALLY_RETENTION_DAYS');
    assert.equal(closestName('TALLY_SQLITE_SYNCRONOUS', SETTINGS), 'TALLY_SQLITE_SYNCHRONOUS');
    assert.equal(closestName('TALLY_PROT', SETTINGS), 'TALLY_PORT');
    assert.equal(closestName('tally_port', SETTINGS), 'TALLY_PORT');
  });

  it('names none when no setting is near, rather than guess', () => {
    assert.equal(closestName('TALLY_DEBUG', SETTINGS), undefined);
    assert.equal(closestName('TALLY_POST_URL', SETTINGS), undefined);
    assert.equal(closestName('x', ['y']), undefined);
  });

  it('names none further than the edits it is allowed, when told fewer than 3', () => {
    const macros = ['AUCTION_LOSS', 'AUCTION_PRICE'];
    assert.equal(closestName('AUCTION_FOO', macros), 'AUCTION_LOSS');
    assert.equal(closestName('AUCTION_FOO', macros, 2), undefined);
    assert.equal(closestName('AUCITON_PRCE', macros, 2), 'AUCTION_PRICE');
  });

  it('takes the nearest of two near names', () => {
    assert.equal(closestName('TALLY_HOSTS', ['TALLY_HOST', 'TALLY_HOSTNAMES']), 'TALLY_HOST');
  });
});
