// How batches of decided events and their outcomes cross between the HTTP thread and the
// counting thread: as one string each, with the fields of an event joined by control characters
// in a fixed order rather than written as JSON. An event's fields are a few dozen short strings
// and numbers, so joining and splitting them costs a fraction of JSON on either side, and the
// counting thread builds every event with one object shape. An event with a field a separator
// could be mistaken in travels as JSON instead.
import type { IvtRule, NotCountedReason, Outcome } from '../domain/outcome.js';
import { COUNTED, duplicateOfRedirect, invalidTraffic, notCounted } from '../domain/outcome.js';
import type { EventRecord, ImpressionType } from '../ports/ledger.js';

/** Between the events of a batch, and between the outcomes of one. */
const ITEM = '\u0001';
/** Between the fields of one event. */
const FIELD = '\u0000';
/** First character of an event written field by field. */
const AS_FIELDS = 'f';
/** First character of an event written as JSON. */
const AS_JSON = 'j';
/** How many fields an event is written as (see `encodeEvent`). */
const EVENT_FIELDS = 32;
/**
 * Outcomes are written `c`, `n<reason>`, `i<rule>`, or `r<impressionMs>` (`duplicateOfRedirect`),
 * followed by a field separator and its location when it has one (a URL of printable ASCII, as
 * every Location Tally answers is: no separator).
 */
const COUNTED_CODE = 'c';
const DUPLICATE_OF_REDIRECT_CODE = 'r';
const NOT_COUNTED_CODE = 'n';
const INVALID_TRAFFIC_CODE = 'i';

/** The string a batch crosses as. */
export function encodeBatch(batch: readonly EventRecord[]): string {
  return batch.map(encodeEvent).join(ITEM);
}

/** The batch `encodeBatch` wrote, in order. */
export function decodeBatch(text: string): EventRecord[] {
  if (text === '') return [];
  return text.split(ITEM).map(decodeEvent);
}

/** The string the outcomes of a batch cross as. */
export function encodeOutcomes(outcomes: readonly Outcome[]): string {
  return outcomes.map(outcomeCode).join(ITEM);
}

/** The outcomes `encodeOutcomes` wrote, in order: one shared object per distinct outcome. */
export function decodeOutcomes(text: string): Outcome[] {
  if (text === '') return [];
  return text.split(ITEM).map(outcomeOf);
}

/**
 * An event's fields in a fixed order; a dedupe claim or a delivery that is absent is written as
 * two empty fields (a time is never empty when present), a delivery's `redirected` as `1` or
 * empty, and no VAST error code as an empty field.
 */
function encodeEvent(event: EventRecord): string {
  const d = event.dims;
  const { dedupe, delivery } = event;
  const text =
    `${AS_FIELDS}${event.receivedMs}${FIELD}${event.servedHourMs}${FIELD}${outcomeCode(event.outcome)}` +
    `${FIELD}${d.accountId}${FIELD}${d.impressionType}${FIELD}${d.kind}${FIELD}${d.format}${FIELD}${d.channel}` +
    `${FIELD}${d.method}${FIELD}${d.seat}${FIELD}${d.publisher}${FIELD}${d.auctionId}${FIELD}${d.impId}` +
    `${FIELD}${d.bidId}${FIELD}${d.currency}${FIELD}${d.advertiserId}${FIELD}${d.lineItemId}${FIELD}${d.trackerId}` +
    `${FIELD}${d.placementId}${FIELD}${d.paymentRuleId}${FIELD}${d.cachebusterMissing ? '1' : ''}` +
    `${FIELD}${event.priceMicros}${FIELD}${event.mediaCostMicros}${FIELD}${event.revenueMicros}` +
    `${FIELD}${event.deviceIp}${FIELD}${event.userAgent}` +
    `${FIELD}${dedupe === undefined ? '' : dedupe.key}${FIELD}${dedupe === undefined ? '' : dedupe.expiresMs}` +
    `${FIELD}${delivery === undefined ? '' : delivery.url}${FIELD}${delivery === undefined ? '' : delivery.deadlineMs}` +
    `${FIELD}${delivery?.redirected === true ? '1' : ''}${FIELD}${d.vastError ?? ''}`;
  // Written as it is only when no field holds a separator: exactly the separators joined in.
  if (countOf(FIELD, text) === EVENT_FIELDS - 1 && !text.includes(ITEM)) return text;
  return AS_JSON + JSON.stringify(event);
}

function decodeEvent(written: string): EventRecord {
  if (!written.startsWith(AS_FIELDS)) return JSON.parse(written.slice(1)) as EventRecord;
  const f = written.slice(1).split(FIELD);
  const event: EventRecord = {
    receivedMs: Number(f[0]),
    servedHourMs: Number(f[1]),
    outcome: outcomeOf(f[2] ?? ''),
    dims: {
      accountId: Number(f[3]),
      impressionType: f[4] as ImpressionType,
      kind: f[5] ?? '',
      format: f[6] ?? '',
      channel: f[7] ?? '',
      method: f[8] ?? '',
      seat: f[9] ?? '',
      publisher: f[10] ?? '',
      auctionId: f[11] ?? '',
      impId: f[12] ?? '',
      bidId: f[13] ?? '',
      currency: f[14] ?? '',
      advertiserId: Number(f[15]),
      lineItemId: Number(f[16]),
      trackerId: Number(f[17]),
      placementId: Number(f[18]),
      paymentRuleId: Number(f[19]),
      cachebusterMissing: f[20] === '1',
      vastError: f[31] === '' ? null : Number(f[31]),
    },
    priceMicros: Number(f[21]),
    mediaCostMicros: Number(f[22]),
    revenueMicros: Number(f[23]),
    deviceIp: f[24] ?? '',
    userAgent: f[25] ?? '',
  };
  if (f[27] !== '') event.dedupe = { key: f[26] ?? '', expiresMs: Number(f[27]) };
  if (f[29] !== '') {
    event.delivery = { url: f[28] ?? '', deadlineMs: Number(f[29]) };
    if (f[30] === '1') event.delivery.redirected = true;
  }
  return event;
}

function countOf(character: string, text: string): number {
  let count = 0;
  for (let at = text.indexOf(character); at !== -1; at = text.indexOf(character, at + 1)) count++;
  return count;
}

function outcomeCode(outcome: Outcome): string {
  if (outcome.outcome === 'counted') return COUNTED_CODE;
  if ('redirectedToDsp' in outcome) {
    const code = DUPLICATE_OF_REDIRECT_CODE + String(outcome.impressionMs);
    return outcome.location === undefined ? code : `${code}${FIELD}${outcome.location}`;
  }
  return outcome.reason === 'invalid_traffic'
    ? INVALID_TRAFFIC_CODE + outcome.rule
    : NOT_COUNTED_CODE + outcome.reason;
}

const notCountedOutcomes = new Map<string, Outcome>();

/** The outcome a code names; one shared object per code but for the repeats of a redirect. */
function outcomeOf(code: string): Outcome {
  if (code === COUNTED_CODE) return COUNTED;
  if (code.startsWith(DUPLICATE_OF_REDIRECT_CODE)) {
    const locationAt = code.indexOf(FIELD);
    if (locationAt === -1) return duplicateOfRedirect(Number(code.slice(1)));
    return duplicateOfRedirect(Number(code.slice(1, locationAt)), code.slice(locationAt + 1));
  }
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
