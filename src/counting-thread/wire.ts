// How batches and their results cross between the HTTP thread and the counting thread: as one
// string each, with the fields of an exchange notice and of an outcome joined by control
// characters rather than written as JSON. A notice's fields are a handful of short strings, so
// joining and splitting them costs less than JSON on either side, and the counting thread
// builds each request with one object shape. Anything a separator could be mistaken in (a tracker
// hit's event, or a field holding a separator) travels as JSON instead.
import type { NoticeRequest } from '../domain/notice-request.js';
import type { IvtRule, NotCountedReason, Outcome } from '../domain/outcome.js';
import { COUNTED, invalidTraffic, notCounted } from '../domain/outcome.js';
import type { Recorded, Submission } from '../ports/recorder.js';

/** Between the submissions of a batch, and between the results of one. */
const ITEM = '\u0001';
/** Between the fields of one submission or result. */
const FIELD = '\u0000';
/** First character of an exchange notice written field by field. */
const NOTICE = 'n';
/** First character of a submission written as JSON. */
const AS_JSON = 'j';
/** First character of results written as JSON (all of them, when one could not be joined). */
const RESULTS_AS_JSON = 'j';
/** Outcomes are written `c`, `n<reason>` or `i<rule>`; each result adds `\0<redirect>` when it has one. */
const COUNTED_CODE = 'c';
const NOT_COUNTED_CODE = 'n';
const INVALID_TRAFFIC_CODE = 'i';
/** Fields of a notice before its headers: token, query, method, remote address, received ms. */
const NOTICE_FIXED_FIELDS = 5;

/** The string a batch crosses as. */
export function encodeBatch(batch: readonly Submission[]): string {
  return batch.map(encodeSubmission).join(ITEM);
}

/** The batch `encodeBatch` wrote, in order. */
export function decodeBatch(text: string): Submission[] {
  if (text === '') return [];
  return text.split(ITEM).map(decodeSubmission);
}

/** The string the results of a batch cross as. */
export function encodeResults(results: readonly Recorded[]): string {
  const written: string[] = [];
  for (const { outcome, redirectTo } of results) {
    if (hasSeparator(redirectTo)) return RESULTS_AS_JSON + JSON.stringify(results);
    const code =
      outcome.outcome === 'counted'
        ? COUNTED_CODE
        : outcome.reason === 'invalid_traffic'
          ? INVALID_TRAFFIC_CODE + outcome.rule
          : NOT_COUNTED_CODE + outcome.reason;
    written.push(redirectTo === '' ? code : code + FIELD + redirectTo);
  }
  return written.join(ITEM);
}

/** The results `encodeResults` wrote, in order. Outcomes without a redirect are shared objects. */
export function decodeResults(text: string): Recorded[] {
  if (text.startsWith(RESULTS_AS_JSON)) return JSON.parse(text.slice(1)) as Recorded[];
  if (text === '') return [];
  return text.split(ITEM).map((written) => {
    const fieldAt = written.indexOf(FIELD);
    const code = fieldAt === -1 ? written : written.slice(0, fieldAt);
    return { outcome: outcomeOf(code), redirectTo: fieldAt === -1 ? '' : written.slice(fieldAt + 1) };
  });
}

function encodeSubmission(submission: Submission): string {
  if ('notice' in submission) {
    const { token, query, method, remoteAddress, receivedMs, headers } = submission.notice;
    let text = `${NOTICE}${token}${FIELD}${query}${FIELD}${method}${FIELD}${remoteAddress}${FIELD}${receivedMs}`;
    let fields = NOTICE_FIXED_FIELDS;
    for (const name in headers) {
      text += `${FIELD}${name}${FIELD}${headers[name]}`;
      fields += 2;
    }
    // Written as they are only when no field holds a separator: exactly the separators joined in.
    if (countOf(FIELD, text) === fields - 1 && !text.includes(ITEM)) return text;
  }
  return AS_JSON + JSON.stringify(submission);
}

function decodeSubmission(written: string): Submission {
  if (!written.startsWith(NOTICE)) return JSON.parse(written.slice(1)) as Submission;
  const fields = written.slice(1).split(FIELD);
  const headers: Record<string, string> = {};
  for (let index = NOTICE_FIXED_FIELDS; index + 1 < fields.length; index += 2) {
    headers[fields[index] ?? ''] = fields[index + 1] ?? '';
  }
  const notice: NoticeRequest = {
    token: fields[0] ?? '',
    query: fields[1] ?? '',
    method: fields[2] ?? '',
    headers,
    remoteAddress: fields[3] ?? '',
    receivedMs: Number(fields[4]),
  };
  return { notice };
}

function hasSeparator(field: string): boolean {
  return field.includes(FIELD) || field.includes(ITEM);
}

function countOf(character: string, text: string): number {
  let count = 0;
  for (let at = text.indexOf(character); at !== -1; at = text.indexOf(character, at + 1)) count++;
  return count;
}

const notCountedOutcomes = new Map<string, Outcome>();

/** The outcome a code names; one shared object per code. */
function outcomeOf(code: string): Outcome {
  if (code === COUNTED_CODE) return COUNTED;
  let outcome = notCountedOutcomes.get(code);
  if (outcome === undefined) {
    const detail = code.slice(1);
    outcome = Object.freeze(
      code.startsWith(INVALID_TRAFFIC_CODE)
        ? invalidTraffic(detail as IvtRule)
        : notCounted(detail as Exclude<NotCountedReason, 'invalid_traffic'>),
    );
    notCountedOutcomes.set(code, outcome);
  }
  return outcome;
}
