import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { TALLY_VERSION } from './version.js';

describe('the version', () => {
  it('is the one package.json gives, so that a release bumps both', () => {
    const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    assert.equal(TALLY_VERSION, packageJson.version);
  });
});
