import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { duplicateMember } from './duplicate-members.js';

describe('finding a member named twice in one object', () => {
  it('finds it at any depth, naming it and its path', () => {
    assert.deepEqual(
      duplicateMember('{"wins":[{"seat":"s"},{"clearingPrice":1,"bid":{},"clearingPrice":100}]}'),
      {
        name: 'clearingPrice',
        path: 'wins[1].clearingPrice',
      },
    );
    assert.deepEqual(duplicateMember('{"a":{"b":[[1],{"c d":1,"c d":2}]}}'), {
      name: 'c d',
      path: 'a.b[1]["c d"]',
    });
    assert.deepEqual(duplicateMember('{"x":1,"x":1}'), { name: 'x', path: 'x' });
  });

  it('writes a path of more than 1000 characters to its first 1000 and …, however long its names', () => {
    const deep = `${'['.repeat(500)}{"a":1,"a":2}${']'.repeat(500)}`;
    assert.deepEqual(duplicateMember(deep), { name: 'a', path: `${'[0]'.repeat(333)}[…` });
    const name = 'n'.repeat(5000);
    assert.deepEqual(duplicateMember(`{"${name}":{"a":1,"a":2}}`), {
      name: 'a',
      path: `${'n'.repeat(1000)}…`,
    });
    assert.deepEqual(duplicateMember(`{"x":{"a":1,"a":2}}`), { name: 'a', path: 'x.a' });
  });

  it('compares names as JSON reads them, escapes and all', () => {
    assert.deepEqual(duplicateMember('{"price":1,"\\u0070rice":2}'), { name: 'price', path: 'price' });
    assert.deepEqual(duplicateMember('{"a\\\\":1,"a\\\\":2}'), { name: 'a\\', path: '["a\\\\"]' });
    assert.equal(duplicateMember('{"a":1,"A":2,"a ":3}'), undefined);
  });

  it('takes the same name in two objects, a name inside a string value, or an escaped quote for no duplicate', () => {
    assert.equal(duplicateMember('[{"a":1},{"a":2}]'), undefined);
    assert.equal(duplicateMember('{"a":{"a":{"a":1}}}'), undefined);
    assert.equal(duplicateMember('{"a":"\\",\\"a\\":1","b":["a","a"]}'), undefined);
    assert.equal(duplicateMember('{"a\\\\":"x","b":"\\\\","c":1}'), undefined);
  });

  it('finds a duplicate exactly when an object parsed and written back has fewer members than were written (property)', () => {
    const name = fc.constantFrom('a', 'b', '"', '\\', 'é', '\u0061', ',', '{');
    const json = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constantFrom(1, 'x', null, '"{,}"'),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.array(fc.tuple(name, tie('value')), { maxLength: 3 }).map((members) => ({ members })),
      ),
    })).value;
    /** Writes a generated value as JSON text, objects with their members as generated, repeats included. */
    const write = (value: unknown): string => {
      if (Array.isArray(value)) return `[${value.map(write).join(',')}]`;
      if (typeof value === 'object' && value !== null && 'members' in value) {
        const members = (value as { members: [string, unknown][] }).members;
        return `{${members.map(([key, member]) => `${JSON.stringify(key)}:${write(member)}`).join(',')}}`;
      }
      return JSON.stringify(value);
    };
    /** Whether any generated object repeats a name. */
    const repeats = (value: unknown): boolean => {
      if (Array.isArray(value)) return value.some(repeats);
      if (typeof value !== 'object' || value === null) return false;
      const members = (value as { members: [string, unknown][] }).members;
      return (
        new Set(members.map(([key]) => key)).size < members.length ||
        members.some(([, member]) => repeats(member))
      );
    };
    fc.assert(
      fc.property(json, (value) => {
        const text = write(value);
        JSON.parse(text);
        assert.equal(duplicateMember(text) !== undefined, repeats(value), text);
      }),
    );
  });
});
