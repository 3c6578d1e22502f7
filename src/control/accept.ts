import { ApiError } from './api-error.js';
import { shown } from '../lib/shown.js';

/**
 * The media type an `Accept` header prefers among `offered` (RFC 9110 §12.5.1): each type takes
 * the quality of the most specific range matching it (`text/csv`, then `text/*`, then `*\/*`);
 * the highest quality wins; on a tie, the type a more specific range named (`text/csv, *\/*`
 * asks for CSV), then the earlier offered type. `undefined` when the header
 * accepts none of them (every match at `q=0`). No header, or a blank one, accepts anything.
 */
export function preferredMediaType(
  accept: string | undefined,
  offered: readonly string[],
): string | undefined {
  if (accept === undefined || accept.trim() === '') return offered[0];
  const ranges = accept.split(',').map(parseRange);
  let best: { type: string; quality: number; specificity: number } | undefined;
  for (const type of offered) {
    const { quality, specificity } = matchOf(type, ranges);
    const better =
      best === undefined ||
      quality > best.quality ||
      (quality === best.quality && specificity > best.specificity);
    if (quality > 0 && better) best = { type, quality, specificity };
  }
  return best?.type;
}

interface MediaRange {
  type: string;
  subtype: string;
  quality: number;
}

function parseRange(text: string): MediaRange {
  const [mediaType = '', ...parameters] = text.split(';');
  const [type = '', subtype = ''] = mediaType.trim().toLowerCase().split('/');
  let quality = 1;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'q') continue;
    const parsed = Number(value.trim());
    // A malformed weight is read as 1, as if it were absent.
    quality = /^\s*[01](\.\d{0,3})?\s*$/.test(value) && parsed <= 1 ? parsed : 1;
  }
  return { type, subtype, quality };
}

/**
 * The quality of the most specific range that matches `mediaType`, and how specific it is (2 for
 * `type/subtype`, 1 for `type/*`, 0 for `*\/*`); quality 0 when none matches.
 */
function matchOf(mediaType: string, ranges: readonly MediaRange[]): { quality: number; specificity: number } {
  const [type, subtype] = mediaType.split('/');
  let specificity = -1;
  let quality = 0;
  for (const range of ranges) {
    const matches =
      (range.type === type && range.subtype === subtype) ||
      (range.type === type && range.subtype === '*') ||
      (range.type === '*' && range.subtype === '*');
    if (!matches) continue;
    const rangeSpecificity = (range.type === '*' ? 0 : 1) + (range.subtype === '*' ? 0 : 1);
    if (rangeSpecificity > specificity) {
      specificity = rangeSpecificity;
      quality = range.quality;
    }
  }
  return { quality, specificity };
}

/**
 * Refuses (406 `NOT_ACCEPTABLE`, its envelope in JSON all the same) a request whose `Accept`
 * accepts neither JSON, in which every route answers its errors, nor any of `answers`, the other
 * types its route answers in (see {@link preferredMediaType}: no header, `*\/*` or `text/*` where
 * the route answers a text type accept it). A header naming no media range (`*`, `garbage`) is
 * disregarded.
 */
export function refuseUnacceptable(accept: string | undefined, answers: readonly string[]): void {
  const types = [JSON_TYPE, ...answers];
  if (preferredMediaType(accept, types) !== undefined) return;
  // A header naming no media range at all (`*`, `garbage`) is disregarded, as RFC 9110 §12.5.1
  // lets a server do: a client's broken header is no reason to refuse it the answer.
  if (accept !== undefined && !accept.split(',').some((range) => MEDIA_RANGE.test(range))) return;
  throw new ApiError(
    406,
    'NOT_ACCEPTABLE',
    `Accept: ${shown(accept ?? '')} accepts nothing this endpoint answers, which is ${types.join(' or ')}: accept ${types.join(' or ')} (or send no Accept)`,
  );
}

const JSON_TYPE = 'application/json';

/** A media range as RFC 9110 writes it, `type/subtype` (either may be `*`), parameters aside. */
const MEDIA_RANGE = /^\s*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*(;|$)/;

/** The values of a `format` parameter that choose an answer's form. */
export const OUTPUT_FORMATS: ReadonlySet<string> = new Set(['csv', 'json']);

/**
 * Whether a report or list is answered in CSV: an explicit `format=csv|json` decides; only without
 * one (or, in a report, with `format` filtering the ad format) does `Accept` choose, CSV when it
 * prefers `text/csv` to JSON (JSON on a tie; one accepting neither is refused 406 before the
 * route runs: {@link refuseUnacceptable}).
 */
export function wantsCsv(params: URLSearchParams, accept: string | undefined): boolean {
  const format = params.get('format');
  if (format !== null && OUTPUT_FORMATS.has(format)) return format === 'csv';
  return preferredMediaType(accept, ['application/json', 'text/csv']) === 'text/csv';
}
