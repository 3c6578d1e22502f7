import { MAX_AMOUNT_MICROS, formatMicros, parseDecimalMicros } from '../../domain/macros.js';
import type { FieldProblem } from '../../ports/catalog.js';
import { ApiError } from '../api-error.js';
import { shown } from '../../lib/shown.js';
import { isId } from '../ids.js';

/**
 * How a body is read: `create` and `replace` (PUT) need every required field, and give an absent
 * optional field its default; `patch` keeps what is absent. In every mode null is taken only by a
 * field documented "or null" (it has an empty value: none, cleared); any other field sent as null
 * is refused ({@link nullProblem}), as its schema does not admit null.
 */
export type WriteMode = 'create' | 'replace' | 'patch';

/** Fields every answer carries that a client may send back unchanged; they are ignored. */
const READ_ONLY_FIELDS = new Set(['id', 'createdAt', 'updatedAt']);

const MICROS_PER_UNIT = 1_000_000;
/** The most characters of a name (of a catalog object, an account), as a reader counts them. */
export const NAME_MAX_LENGTH = 255;
/**
 * A character no name needs, which breaks the lines of CSV reports and logs: a control character
 * (NUL, tab, line feed…), or Unicode's line and paragraph separators (U+2028, U+2029), which
 * editors and line readers (Python's `splitlines`) break lines at too.
 */
const LINE_BREAKING_CHARACTER = /[\p{Cc}\p{Zl}\p{Zp}]/u;
/**
 * A name none of whose characters shows: white space and characters that draw nothing (a
 * zero-width space, a right-to-left override, a Hangul filler…), a blank name in every list.
 */
const NOTHING_VISIBLE = /^[\p{White_Space}\p{Default_Ignorable_Code_Point}]*$/u;

/**
 * `text` trimmed, when that is a name: not blank (nor only characters that draw nothing), at most
 * {@link NAME_MAX_LENGTH} characters, none a control character or a line break; else `undefined`.
 */
export function validName(text: string): string | undefined {
  const trimmed = text.trim();
  return !NOTHING_VISIBLE.test(trimmed) &&
    [...trimmed].length <= NAME_MAX_LENGTH &&
    !LINE_BREAKING_CHARACTER.test(trimmed)
    ? trimmed
    : undefined;
}
/** The most characters of a URL the catalog stores (a click tracker's `clickUrl`). */
export const URL_MAX_LENGTH = 2048;
/** Most ids a list field (a payment rule's `placementIds`) takes. */
const MAX_LISTED_IDS = 10_000;

interface FieldOptions {
  /** Absent (or null) on create/replace is a problem. */
  required?: boolean;
}

/**
 * Reads the fields of a JSON object body, collecting every problem; `finish()` throws one
 * 400 `VALIDATION_FAILED` naming each field and its fix. Each reader answers the body's value
 * when present and valid, else `base` (the stored value on `patch`, the default otherwise);
 * on a problem the answer is a placeholder that `finish()` never lets through. Besides `id`,
 * `createdAt` and `updatedAt`, the fields named in `answerOnly` (fields an answer holds that a
 * client may send back unchanged) are ignored.
 */
export class FieldReader {
  private readonly problems: FieldProblem[] = [];
  private readonly body: Record<string, unknown>;

  constructor(
    body: unknown,
    private readonly mode: WriteMode,
    known: readonly string[],
    answerOnly: readonly string[] = [],
  ) {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ApiError(
        400,
        'VALIDATION_FAILED',
        `the body must be a JSON object with the fields ${known.join(', ')}`,
      );
    }
    this.body = body as Record<string, unknown>;
    for (const key of Object.keys(this.body)) {
      if (!known.includes(key) && !READ_ONLY_FIELDS.has(key) && !answerOnly.includes(key)) {
        this.problem(key, `unknown field; the fields are ${known.join(', ')}`);
      }
    }
  }

  /** True when the body sets the field (even to null). */
  has(name: string): boolean {
    return Object.hasOwn(this.body, name);
  }

  /**
   * True, with the problem recorded ({@link nullProblem}), when the body sends the field as null;
   * for a field read outside the readers that has no empty value. `hint` says what to send.
   */
  refusedNull(name: string, hint: string, options: FieldOptions = {}): boolean {
    if (this.body[name] !== null) return false;
    this.problem(name, nullProblem(name, hint, this.mode, options.required === true));
    return true;
  }

  /** Records a problem found outside the readers (e.g. a rule across fields). */
  problem(field: string, message: string): void {
    this.problems.push({ field, message });
  }

  /** True once a problem with the field was recorded (rules across fields then say nothing more of it). */
  hasProblem(field: string): boolean {
    return this.problems.some((problem) => problem.field === field);
  }

  /** A name (see {@link validName}), trimmed; required (absent on create or replace, or null, is a problem). */
  name(name: string, base: string): string {
    return (
      this.read(
        name,
        base,
        { required: true },
        (value) => (typeof value === 'string' ? validName(value) : undefined),
        `a non-empty string of at most ${NAME_MAX_LENGTH} characters, not all invisible, without control characters or line breaks (tabs, line feeds, U+2028, NUL)`,
      ) ?? base
    );
  }

  /** A string matching `pattern`, or null to clear it. */
  optionalText(name: string, base: string | null, pattern: RegExp, hint: string): string | null {
    return this.readNullable(
      name,
      base,
      (value) => (typeof value === 'string' && pattern.test(value) ? value : undefined),
      hint,
    );
  }

  /** A positive integer id; required (absent on create or replace, or null, is a problem). */
  id(name: string, base: number): number {
    return this.read(name, base, { required: true }, toId, 'the numeric id of an existing object') ?? base;
  }

  /** A positive integer id, or null to clear it. */
  optionalId(name: string, base: number | null): number | null {
    return this.readNullable(name, base, toId, 'the numeric id of an existing object, or null for none');
  }

  /**
   * A list of distinct positive integer ids, at most {@link MAX_LISTED_IDS} of them; a refusal
   * names the first entry that is no id, which the list as shown, cut short, may not reach.
   */
  idList(name: string, base: number[]): number[] {
    const sent = this.body[name];
    const at = Array.isArray(sent) ? sent.findIndex((entry) => toId(entry) === undefined) : -1;
    const noId = at === -1 ? '' : `: ${name}[${at}] is ${shown((sent as unknown[])[at])}`;
    return (
      this.read(
        name,
        base,
        {},
        (value) => {
          if (!Array.isArray(value) || value.length > MAX_LISTED_IDS) return undefined;
          const ids = value.map(toId);
          return ids.every((id) => id !== undefined) ? [...new Set(ids)] : undefined;
        },
        `an array of at most ${MAX_LISTED_IDS} numeric ids (empty for none)${noId}`,
      ) ?? base
    );
  }

  /** One of `values`. */
  oneOf<T extends string>(name: string, values: readonly T[], base: T, options: FieldOptions = {}): T {
    return (
      this.read(
        name,
        base,
        options,
        (value) => (values.includes(value as T) ? (value as T) : undefined),
        `one of ${values.map((value) => JSON.stringify(value)).join(', ')}`,
      ) ?? base
    );
  }

  bool(name: string, base: boolean, options: FieldOptions = {}): boolean {
    return (
      this.read(
        name,
        base,
        options,
        (value) => (typeof value === 'boolean' ? value : undefined),
        'true or false',
      ) ?? base
    );
  }

  /** An integer from `min` to `max`. */
  integer(name: string, base: number, min: number, max: number): number {
    return (
      this.read(
        name,
        base,
        {},
        (value) =>
          Number.isInteger(value) && (value as number) >= min && (value as number) <= max
            ? (value as number)
            : undefined,
        `an integer from ${min} to ${max}`,
      ) ?? base
    );
  }

  /** A decimal amount of currency (number or string, at most 6 decimals) → micros; null clears it. */
  amount(name: string, base: number | null): number | null {
    return this.decimal(
      name,
      base,
      MAX_AMOUNT_MICROS,
      'a decimal amount from 0 to 999999.999999 with at most 6 decimals, e.g. 2.5',
    );
  }

  /** A fraction from 0 to 1 (at most 6 decimals) → micros of 1; null clears it. */
  fraction(name: string, base: number | null): number | null {
    return this.decimal(
      name,
      base,
      MICROS_PER_UNIT,
      'a fraction from 0 to 1 with at most 6 decimals, e.g. 0.25 for 25 %',
    );
  }

  /** A calendar day `YYYY-MM-DD`, or null for none. */
  date(name: string, base: string | null): string | null {
    return this.readNullable(
      name,
      base,
      (value) =>
        typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value) && isCalendarDay(value)
          ? value
          : undefined,
      'a date YYYY-MM-DD (UTC), or null for none',
    );
  }

  /** An absolute http(s) URL, or null for none. */
  url(name: string, base: string | null): string | null {
    return this.readNullable(
      name,
      base,
      toHttpUrl,
      `an absolute http(s) URL of at most ${URL_MAX_LENGTH} characters without a user name or password, or null for none`,
    );
  }

  /** Throws one 400 naming every problem found; `noun` says what was not saved. */
  finish(noun: string): void {
    if (this.problems.length === 0) return;
    throw validationError(noun, this.problems);
  }

  private decimal(name: string, base: number | null, maxMicros: number, hint: string): number | null {
    const parse = (value: unknown): number | undefined => {
      const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
      return typeof text === 'string' ? parseDecimalMicros(text, maxMicros) : undefined;
    };
    return this.readNullable(name, base, parse, `${hint}, or null for none`);
  }

  private read<T>(
    name: string,
    base: T,
    options: FieldOptions,
    parse: (value: unknown) => T | undefined,
    hint: string,
  ): T | undefined {
    const value = this.body[name];
    if (this.refusedNull(name, hint, options)) return base;
    if (value === undefined) {
      if (options.required === true && this.mode !== 'patch') this.problem(name, `required: send ${hint}`);
      return base;
    }
    const parsed = parse(value);
    if (parsed === undefined) this.problem(name, `${shown(value)} is not valid: send ${hint}`);
    return parsed;
  }

  private readNullable<T>(
    name: string,
    base: T | null,
    parse: (value: unknown) => T | undefined,
    hint: string,
  ): T | null {
    if (!this.has(name)) return base;
    const value = this.body[name];
    if (value === null) return null;
    const parsed = parse(value);
    if (parsed === undefined) {
      this.problem(name, `${shown(value)} is not valid: send ${hint}`);
      return base;
    }
    return parsed;
  }
}

/**
 * The problem of a field sent as null that has no empty value: null would mean its default on a
 * create, and on a PATCH a clearing it cannot get (a rule's placements, say), while its schema
 * admits no null. Says what to send, or to leave an optional field out (`mode` says to what end).
 */
export function nullProblem(name: string, hint: string, mode: WriteMode, required: boolean): string {
  if (required && mode !== 'patch') return `cannot be null: send ${hint}`;
  const absent = mode === 'patch' ? 'to keep it' : 'for its default';
  return `cannot be null: send ${hint}, or leave ${name} out ${absent}`;
}

/** Most characters of a field name a message repeats. */
const MAX_FIELD_NAME_CHARS = 64;

/** Most problems a message lists; the rest are counted (a body of 60 000 unknown fields, say). */
const MAX_LISTED_PROBLEMS = 10;

/** The 400 for `problems`: one message naming each field (the first ten) and its fix. */
export function validationError(noun: string, problems: readonly FieldProblem[]): ApiError {
  const fieldName = (field: string) =>
    field.length <= MAX_FIELD_NAME_CHARS ? field : `${field.slice(0, MAX_FIELD_NAME_CHARS)}…`;
  const listed = problems.slice(0, MAX_LISTED_PROBLEMS);
  const unlisted = problems.length - listed.length;
  const list =
    listed.map((problem) => `${fieldName(problem.field)}: ${problem.message}`).join('; ') +
    (unlisted > 0 ? `; and ${unlisted} more` : '');
  return new ApiError(
    400,
    'VALIDATION_FAILED',
    `the ${noun} was not saved; fix ${problems.length === 1 ? 'this field' : `these ${problems.length} fields`}: ${list}`,
  );
}

/** Micros as the decimal number the API answers (`2500000` → `2.5`); null stays null. */
export function decimalOf(micros: number | null): number | null {
  return micros === null ? null : Number(formatMicros(micros));
}

/** Epoch ms as the ISO 8601 time the API answers. */
export function isoOf(ms: number): string {
  return new Date(ms).toISOString();
}

function toId(value: unknown): number | undefined {
  return isId(value) ? value : undefined;
}

/** True when `YYYY-MM-DD` names a real day: month 1–12 and a day its month has. */
function isCalendarDay(value: string): boolean {
  const ms = Date.parse(`${value}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().startsWith(value);
}

function toHttpUrl(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > URL_MAX_LENGTH || /[\s\p{Cc}]/u.test(value)) {
    return undefined;
  }
  try {
    const url = new URL(value);
    // A URL with credentials is never a redirect target (see checkRedirectTarget).
    const credentials = url.username !== '' || url.password !== '';
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !credentials
      ? value
      : undefined;
  } catch {
    return undefined;
  }
}
