/**
 * Objects that name a member twice (`{"price": 1, "price": 100}`): valid JSON to `JSON.parse`,
 * which keeps the last, but read the other way by readers that keep the first, so that the caller
 * and Tally could bill different amounts from one body. RFC 8259 leaves such a body's meaning to
 * the reader; I-JSON (RFC 7493) forbids it.
 */

import { cutAt } from '../lib/shown.js';
import { jsonStringEnd } from './json-members.js';

/** An object or array open at the point the scan has reached. */
type Frame =
  | { kind: 'object'; names: Set<string>; name: string | undefined; expectingName: boolean }
  | { kind: 'array'; index: number };

/** A member named twice in one object: its name, and where the object's second one stands. */
export interface DuplicateMember {
  name: string;
  /** The member's path from the body's top, as `wins[0].bid.price`. */
  path: string;
}

/** The characters that open or close a string, an object or an array, or separate members. */
const STRUCTURE = /["{}[\],]/g;

/**
 * The first member named twice in one of `json`'s objects (names compared as JSON reads them:
 * `"a"` and `"\u0061"` are one name), or undefined. `json` must be valid JSON (read with
 * `JSON.parse` first): nothing else is checked. One pass over the text.
 */
export function duplicateMember(json: string): DuplicateMember | undefined {
  return duplicateMembers(json, 1)[0];
}

/**
 * Every member named twice in one of `json`'s objects, in the order of the text (each time a name
 * repeats), up to `limit`; as {@link duplicateMember} reads them.
 */
export function duplicateMembers(json: string, limit = Infinity): DuplicateMember[] {
  const found: DuplicateMember[] = [];
  if (limit < 1) return found;
  for (const duplicate of eachDuplicateMember(json)) {
    found.push(duplicate);
    if (found.length >= limit) break;
  }
  return found;
}

/**
 * Each member named twice in one of `json`'s objects, in the order of the text, as
 * {@link duplicateMembers} reads them, one at a time: a body naming millions twice need not hold
 * them all.
 */
export function* eachDuplicateMember(json: string): Generator<DuplicateMember> {
  const frames: Frame[] = [];
  const structure = new RegExp(STRUCTURE);
  for (let match = structure.exec(json); match !== null; match = structure.exec(json)) {
    const top = frames.at(-1);
    switch (match[0]) {
      case '"': {
        const end = jsonStringEnd(json, match.index) ?? json.length;
        structure.lastIndex = end;
        if (top?.kind !== 'object' || !top.expectingName) break;
        const quoted = json.slice(match.index, end);
        const name = quoted.includes('\\') ? (JSON.parse(quoted) as string) : quoted.slice(1, -1);
        if (top.names.has(name)) yield { name, path: pathOf(frames, name) };
        top.names.add(name);
        top.name = name;
        top.expectingName = false;
        break;
      }
      case '{':
        frames.push({ kind: 'object', names: new Set(), name: undefined, expectingName: true });
        break;
      case '[':
        frames.push({ kind: 'array', index: 0 });
        break;
      case ',':
        if (top?.kind === 'object') top.expectingName = true;
        else if (top?.kind === 'array') top.index += 1;
        break;
      default:
        frames.pop();
    }
  }
}

/** A member name as a path writes it: `.name` when it is an identifier, else `["name"]`. */
export function memberStep(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
}

/**
 * Most characters of a path written whole: a longer one is cut there, with `…`. Written whole from
 * the body's top, each member named twice deep in a body nesting a hundred thousand levels took
 * time and memory quadratic in the body.
 */
const MAX_PATH_CHARS = 1000;

/**
 * The path of member `name` of the innermost of `frames`, from the body's top (see
 * {@link MAX_PATH_CHARS}).
 */
function pathOf(frames: readonly Frame[], name: string): string {
  let path = '';
  // A name is cut before it is written: one of megabytes would take as long each time.
  const member = (written: string) => memberStep(cutAt(written, MAX_PATH_CHARS + 1));
  for (const [index, frame] of frames.entries()) {
    path +=
      index === frames.length - 1
        ? member(name)
        : frame.kind === 'array'
          ? `[${frame.index}]`
          : member(frame.name ?? '');
    if (path.length > MAX_PATH_CHARS + 1) break;
  }
  const written = path.replace(/^\./, '');
  return written.length > MAX_PATH_CHARS ? `${cutAt(written, MAX_PATH_CHARS)}…` : written;
}
