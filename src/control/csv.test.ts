import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { csvCell } from './csv.js';

describe('csvCell', () => {
  it('writes after a quote an id a spreadsheet would read as a date, time, percentage, amount or boolean', () => {
    const converted = [
      '1-2',
      '1/2',
      '2026-12-06',
      '12/6/2026',
      '6.12.2026',
      '1:30',
      '12:30:45',
      '1:30 PM',
      '1 1/2',
      '1,000',
      '1,000.5',
      '50%',
      '$5',
      '€5',
      '(5)',
      'Jan-5',
      '5-Jan',
      'SEPT2',
      'MARCH1',
      'jan 2026',
      '1 Jan 2026',
      'TRUE',
      'false',
      '#N/A',
      '#DIV/0!',
    ];
    for (const cell of converted) {
      const written = cell.includes(',') ? `"'${cell}"` : `'${cell}`;
      assert.equal(csvCell(cell), written, `csvCell(${JSON.stringify(cell)})`);
    }
  });

  it('writes as they are the ids a spreadsheet keeps as text or reads back as written', () => {
    const kept = [
      'seat-a',
      'pub42',
      '42',
      '123456789012345',
      'abc-1',
      'Mayfair',
      'January',
      'x1:30',
      'TRUEx',
      '#1',
    ];
    for (const cell of kept) assert.equal(csvCell(cell), cell, `csvCell(${JSON.stringify(cell)})`);
  });

  it('writes after a quote a cell starting with the full-width form of any character that starts a formula, the vertical line (U+FF5C) included', () => {
    // ＝ ＋ － ＠ ｜: an input method may type any of them for = + - @ |.
    for (const start of ['\uff1d', '\uff0b', '\uff0d', '\uff20', '\uff5c']) {
      assert.equal(csvCell(`${start}calc`), `'${start}calc`, `csvCell(${JSON.stringify(`${start}calc`)})`);
    }
  });

  it('writes numbers given as numbers without a quote', () => {
    assert.equal(csvCell(1.5), '1.5');
    assert.equal(csvCell(2000000n), '2000000');
  });
});
