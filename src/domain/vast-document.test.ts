import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { templateKind } from './vast-document.js';

const VAST_FIXTURES = new URL('../../../shared/fixtures/vast/', import.meta.url);

describe('templateKind', () => {
  test('recognises every IAB sample as VAST', () => {
    for (const file of readdirSync(VAST_FIXTURES)) {
      assert.equal(templateKind(readFileSync(new URL(file, VAST_FIXTURES), 'utf8')), 'vast', file);
    }
  });

  test('looks past a BOM, the XML declaration, comments and a DOCTYPE', () => {
    assert.equal(
      templateKind(
        '\uFEFF<?xml version="1.0"?>\n<!-- served by x -->\n<!DOCTYPE VAST>\n<VAST version="4.0"/>',
      ),
      'vast',
    );
    assert.equal(templateKind('  <vast:VAST xmlns:vast="http://www.iab.com/VAST">'), 'vast');
  });

  test("recognises an empty <VAST/> root, a root written in lower case and VAST 1.0's root", () => {
    assert.equal(templateKind('<VAST/>'), 'vast');
    assert.equal(templateKind('<vast version="2.0"><Ad></Ad></vast>'), 'vast');
    assert.equal(templateKind('<VideoAdServingTemplate><Ad/></VideoAdServingTemplate>'), 'vast');
  });

  test('tells a DAAST (audio) document from a VAST one', () => {
    assert.equal(
      templateKind('<?xml version="1.0"?><DAAST version="1.0"><Ad><InLine/></Ad></DAAST>'),
      'daast',
    );
    assert.equal(templateKind('<daast:DAAST xmlns:daast="x">'), 'daast');
  });

  test('rejects HTML, JSON, other XML and look-alike tag names', () => {
    for (const markup of [
      '<div>VAST</div>',
      '{"native":{}}',
      '<VMAP/>',
      '<VASTly>',
      '<DAASTx>',
      '',
      'VAST',
    ]) {
      assert.equal(templateKind(markup), undefined, markup);
    }
  });
});
