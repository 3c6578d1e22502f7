import type { RuleOverride } from '../domain/rules.js';
import { canInstrument, nativeMethod } from '../domain/rules.js';
import { CHANNELS, FORMATS, METHODS } from '../domain/types.js';
import { closestName } from '../lib/closest-name.js';
import { shown } from '../lib/shown.js';

/**
 * The longest TTL a rule may give: 7 days (the default rules' longest is 3 h). A win's token
 * carries its TTL as a safe integer, its notices count until auction time plus TTL, and until
 * then its dedupe claim is held in memory and rebuilt at every start.
 */
const MAX_RULE_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Most characters of a rule an error repeats: a rule of four fields (some 70) is shown whole, to
 * say which one is refused, a long or deeply nested one described or cut.
 */
const MAX_SHOWN_RULE_CHARS = 200;

/** A rule as an error repeats it (see {@link shown}). */
function shownRule(rule: unknown): string {
  return shown(rule, MAX_SHOWN_RULE_CHARS);
}

/** The fields of a `rules` entry. */
const RULE_FIELDS = ['format', 'channel', 'method', 'ttlSeconds'];

/**
 * The `rules` overrides by publisher id (`*`: every publisher), each checked; `source` names where
 * they were given (`TALLY_RULES`, or the TALLY_CONFIG file's `rules`), in each error.
 */
export function parseRules(
  value: unknown,
  source: string,
  errors: string[],
): ReadonlyMap<string, RuleOverride[]> {
  const out = new Map<string, RuleOverride[]>();
  if (value === undefined) return out;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push(
      `rules: ${source} must be {"<publisher id or *>": [{"format","channel","method","ttlSeconds"}…]}`,
    );
    return out;
  }
  for (const [publisher, rules] of Object.entries(value)) {
    // Looked up by the id of a win naming no publisher, it would be those wins' rules, unsaid.
    if (publisher === '') {
      errors.push(
        `rules."": in ${source}, "" names no publisher id: wins naming no publisher count by the "*" rules, those for every publisher; put these under "*" or under a publisher's id`,
      );
      continue;
    }
    if (!Array.isArray(rules)) {
      errors.push(
        `rules.${publisher}: in ${source}, its value must be a list of {"format","channel","method","ttlSeconds"}`,
      );
      continue;
    }
    const overrides: RuleOverride[] = [];
    for (const rule of rules as unknown[]) {
      if (typeof rule !== 'object' || rule === null || Array.isArray(rule)) {
        errors.push(
          `rules.${publisher}: in ${source}, ${shownRule(rule)} needs to be {"format","channel","method","ttlSeconds"}`,
        );
        continue;
      }
      const fields = rule as Record<string, unknown>;
      // A field Tally does not read (a `placementId` meant to narrow the rule, a misspelt
      // `ttlSecond` beside the right one) would leave the rule applied wider than meant.
      const unknown = Object.keys(fields).filter((field) => !RULE_FIELDS.includes(field));
      if (unknown.length > 0) {
        for (const field of unknown) {
          const closest = closestName(field, RULE_FIELDS);
          errors.push(
            `rules.${publisher}: in ${source}, ${shownRule(rule)} has an unknown field ${JSON.stringify(field)}` +
              (closest === undefined
                ? ` (a rule has only ${RULE_FIELDS.join(', ')}; it applies to the publisher it is listed under)`
                : `: did you mean ${closest}?`),
          );
        }
        continue;
      }
      const problems = ruleProblems(fields);
      if (problems.length > 0) {
        errors.push(`rules.${publisher}: in ${source}, ${shownRule(rule)} needs ${problems.join('; ')}`);
        continue;
      }
      const override = fields as unknown as RuleOverride;
      // Chosen for a win, a method Tally cannot instrument for the format would leave none of
      // its notices able to count.
      if (!canInstrument(override.format, override.method)) {
        errors.push(
          `rules.${publisher}: in ${source}, ${shownRule(rule)} gives ${override.format} a method Tally cannot ` +
            `instrument for it: use ${nativeMethod(override.format)}, burl` +
            `${override.format === 'banner' ? ' or omid' : ''}`,
        );
        continue;
      }
      overrides.push(override);
    }
    out.set(publisher, overrides);
  }
  return out;
}

/**
 * What a rule's fields lack, each naming the field and the values it takes (`a known method:
 * "pixel" is none of adm, …`), or nothing.
 */
function ruleProblems(fields: Record<string, unknown>): string[] {
  const named = (field: string, known: readonly string[]): string[] => {
    const value = fields[field];
    if (known.includes(value as never)) return [];
    const given =
      value === undefined
        ? `none is given (${known.join(', ')})`
        : `${shown(value)} is none of ${known.join(', ')}`;
    return [`a known ${field}: ${given}`];
  };
  const ttlSeconds = fields.ttlSeconds;
  const ttlOk =
    Number.isInteger(ttlSeconds) &&
    (ttlSeconds as number) >= 1 &&
    (ttlSeconds as number) <= MAX_RULE_TTL_SECONDS;
  return [
    ...named('format', FORMATS),
    ...named('channel', CHANNELS),
    ...named('method', METHODS),
    ...(ttlOk ? [] : [`a ttlSeconds that is an integer from 1 to ${MAX_RULE_TTL_SECONDS} (7 days)`]),
  ];
}
