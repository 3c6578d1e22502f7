import assert from 'node:assert/strict';

/** A JSON Schema, as the OpenAPI document writes one. */
export type Schema = Record<string, unknown>;

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** Whether `YYYY-MM-DD` is a day its month has: `Date.parse` takes 2026-02-30 as March 2nd. */
function isCalendarDay(day: string): boolean {
  const ms = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 10) === day;
}

/** The string formats the document names, each as strictly as RFC 3339, RFC 3986 and HTML read them. */
const FORMATS: Readonly<Record<string, (value: string) => boolean>> = {
  'date-time': (value) =>
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
    !Number.isNaN(Date.parse(value)) &&
    isCalendarDay(value.slice(0, 10)),
  date: (value) => /^\d{4}-\d{2}-\d{2}$/.test(value) && isCalendarDay(value),
  uri: (value) => URL.canParse(value),
  email: (value) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value),
};

/**
 * The problems of `value` against `given`, its local `$ref`s read from `schemas` (the document's
 * `components.schemas`): the part of JSON Schema the OpenAPI document uses (type, enum, const,
 * required, properties, additionalProperties, propertyNames, items, maxItems, minimum, maximum, multipleOf,
 * minLength, maxLength, pattern, format, oneOf). Enough to keep the document honest, no more.
 */
export function schemaProblems(
  value: unknown,
  given: Schema,
  schemas: Readonly<Record<string, Schema>>,
  at = '$',
): string[] {
  const ref = given.$ref;
  const schema =
    typeof ref === 'string'
      ? (schemas[ref.replace('#/components/schemas/', '')] ?? assert.fail(`no ${ref}`))
      : given;
  const found: string[] = [];
  const type = typeOf(value);
  if (schema.type !== undefined) {
    const types = ([] as unknown[]).concat(schema.type);
    if (!types.includes(type) && !(type === 'integer' && types.includes('number')))
      found.push(`${at}: ${type}, not ${types.join('|')}`);
  }
  if (Array.isArray(schema.enum) && !schema.enum.includes(value))
    found.push(`${at}: ${JSON.stringify(value)} not in enum`);
  if ('const' in schema && schema.const !== value) found.push(`${at}: not ${JSON.stringify(schema.const)}`);
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum)
    found.push(`${at}: below ${schema.minimum}`);
  if (typeof schema.maximum === 'number' && typeof value === 'number' && value > schema.maximum)
    found.push(`${at}: above ${schema.maximum}`);
  if (typeof schema.multipleOf === 'number' && typeof value === 'number') {
    // Within a thousandth of a multiple, allowing for binary fractions (0.3 / 0.000001).
    const multiples = value / schema.multipleOf;
    if (Math.abs(multiples - Math.round(multiples)) > 1e-3)
      found.push(`${at}: not a multiple of ${schema.multipleOf}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength)
      found.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength)
      found.push(`${at}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value))
      found.push(`${at}: does not match ${schema.pattern}`);
    const format = typeof schema.format === 'string' ? FORMATS[schema.format] : undefined;
    if (format !== undefined && !format(value)) found.push(`${at}: not a ${String(schema.format)}`);
  }
  if (Array.isArray(schema.oneOf)) {
    const matching = (schema.oneOf as Schema[]).filter(
      (option) => schemaProblems(value, option, schemas, at).length === 0,
    );
    if (matching.length !== 1) found.push(`${at}: matches ${matching.length} of oneOf`);
  }
  if (type === 'array') {
    const items = value as unknown[];
    if (typeof schema.maxItems === 'number' && items.length > schema.maxItems)
      found.push(`${at}: more than ${schema.maxItems} items`);
    const itemSchema = schema.items as Schema | undefined;
    if (itemSchema !== undefined)
      items.forEach((item, index) =>
        found.push(...schemaProblems(item, itemSchema, schemas, `${at}[${index}]`)),
      );
  }
  if (type === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? [])
      if (!(name in object)) found.push(`${at}.${name}: required`);
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [name, item] of Object.entries(object)) {
      if (schema.propertyNames !== undefined)
        found.push(...schemaProblems(name, schema.propertyNames as Schema, schemas, `${at} key ${name}`));
      const itemSchema = properties[name] ?? schema.additionalProperties;
      if (itemSchema === false) found.push(`${at}.${name}: not a documented field`);
      else if (typeof itemSchema === 'object' && itemSchema !== null)
        found.push(...schemaProblems(item, itemSchema as Schema, schemas, `${at}.${name}`));
    }
  }
  return found;
}
