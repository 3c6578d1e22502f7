/**
 * The structural rules of an OpenAPI 3.1 document that a generator or validator reading Tally's
 * `/docs` relies on, as the specification (https://spec.openapis.org/oas/v3.1.0) states them: the
 * objects' fixed fields, every path template's parameters declared and required, a description on
 * each response, a schema or content on each parameter and header, status codes of three digits,
 * local references that resolve, security requirements naming a declared scheme, and schemas
 * using JSON Schema keywords (with types, enums, defaults and examples that agree). Not a full
 * validator: enough to keep the document one that tools read.
 */

type Json = Record<string, unknown>;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ROOT_FIELDS = ['openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks', 'components'];
const PATH_ITEM_FIELDS = [...METHODS, '$ref', 'summary', 'description', 'servers', 'parameters'];
const OPERATION_FIELDS = [
  'tags',
  'summary',
  'description',
  'externalDocs',
  'operationId',
  'parameters',
  'requestBody',
  'responses',
  'callbacks',
  'deprecated',
  'security',
  'servers',
];
const PARAMETER_FIELDS = [
  'name',
  'in',
  'description',
  'required',
  'deprecated',
  'allowEmptyValue',
  'style',
  'explode',
  'allowReserved',
  'schema',
  'example',
  'examples',
  'content',
];
const RESPONSE_FIELDS = ['description', 'headers', 'content', 'links'];
const HEADER_FIELDS = ['description', 'required', 'deprecated', 'schema', 'example', 'examples', 'content'];
const MEDIA_TYPE_FIELDS = ['schema', 'example', 'examples', 'encoding'];
/** The JSON Schema keywords a schema of the document may use. */
const SCHEMA_KEYWORDS = [
  '$ref',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minimum',
  'maximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
  'title',
  'description',
  'default',
  'example',
  'examples',
  'readOnly',
  'writeOnly',
  'deprecated',
];
const TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array', 'null'];

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The JSON Schema type of a value (`integer` for a whole number). */
function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The problems of the OpenAPI 3.1 document `document`, each naming where it is; none when it is sound. */
export function openApiProblems(document: Json): string[] {
  const problems: string[] = [];
  const unknownFields = (object: Json, allowed: readonly string[], at: string): void => {
    for (const field of Object.keys(object))
      if (!allowed.includes(field) && !field.startsWith('x-')) problems.push(`${at}: unknown field ${field}`);
  };

  if (typeof document.openapi !== 'string' || !/^3\.1\.\d+$/.test(document.openapi))
    problems.push('openapi: not 3.1.x');
  unknownFields(document, [...ROOT_FIELDS, 'security', 'tags', 'externalDocs'], '#');
  const info = isObject(document.info) ? document.info : {};
  if (typeof info.title !== 'string' || typeof info.version !== 'string')
    problems.push('info: title and version are required strings');

  // Every local reference resolves.
  const walk = (value: unknown, at: string): void => {
    if (Array.isArray(value)) value.forEach((item, index) => walk(item, `${at}/${index}`));
    else if (isObject(value)) {
      if (typeof value.$ref === 'string') {
        let target: unknown = document;
        for (const part of value.$ref.replace(/^#\//, '').split('/'))
          target = isObject(target) ? target[part] : undefined;
        if (!value.$ref.startsWith('#/') || target === undefined)
          problems.push(`${at}: $ref ${value.$ref} resolves to nothing`);
      }
      for (const [key, child] of Object.entries(value)) walk(child, `${at}/${key}`);
    }
  };
  walk(document, '#');

  const components = isObject(document.components) ? document.components : {};
  const schemes = Object.keys(isObject(components.securitySchemes) ? components.securitySchemes : {});
  const security = (requirements: unknown, at: string): void => {
    if (!Array.isArray(requirements)) return void problems.push(`${at}: security is not an array`);
    for (const requirement of requirements)
      for (const scheme of Object.keys(isObject(requirement) ? requirement : {}))
        if (!schemes.includes(scheme)) problems.push(`${at}: security names no scheme ${scheme}`);
  };
  if (document.security !== undefined) security(document.security, '#');

  const schema = (value: unknown, at: string): void => {
    if (typeof value === 'boolean') return;
    if (!isObject(value)) return void problems.push(`${at}: a schema is not an object`);
    unknownFields(value, SCHEMA_KEYWORDS, at);
    const types = value.type === undefined ? [] : ([] as unknown[]).concat(value.type);
    for (const type of types) if (!TYPES.includes(String(type))) problems.push(`${at}: type ${String(type)}`);
    const fits = (instance: unknown): boolean =>
      types.length === 0 ||
      types.includes(typeOf(instance)) ||
      (typeOf(instance) === 'integer' && types.includes('number'));
    if (Array.isArray(value.enum))
      for (const option of value.enum)
        if (!fits(option)) problems.push(`${at}: enum value ${JSON.stringify(option)} outside its type`);
    for (const field of ['default', 'example'] as const) {
      const instance = value[field];
      if (instance === undefined) continue;
      if (!fits(instance)) problems.push(`${at}: ${field} outside its type`);
      if (Array.isArray(value.enum) && !value.enum.includes(instance))
        problems.push(`${at}: ${field} not among its enum`);
      if (typeof instance === 'string' && typeof value.pattern === 'string')
        if (!new RegExp(value.pattern, 'u').test(instance))
          problems.push(`${at}: ${field} does not match its pattern`);
    }
    if (typeof value.pattern === 'string') {
      try {
        new RegExp(value.pattern, 'u');
      } catch (error) {
        problems.push(`${at}: pattern is no ECMA-262 regular expression (${String(error)})`);
      }
    }
    if (
      typeof value.minimum === 'number' &&
      typeof value.maximum === 'number' &&
      value.minimum > value.maximum
    )
      problems.push(`${at}: minimum above maximum`);
    const properties = isObject(value.properties) ? value.properties : {};
    if (Array.isArray(value.required) && value.additionalProperties === false)
      for (const name of value.required)
        if (!Object.hasOwn(properties, String(name)))
          problems.push(`${at}: required ${String(name)} is no property`);
    for (const [name, property] of Object.entries(properties)) schema(property, `${at}.${name}`);
    if (value.items !== undefined) schema(value.items, `${at}[]`);
    if (isObject(value.additionalProperties)) schema(value.additionalProperties, `${at}.*`);
    if (value.propertyNames !== undefined) schema(value.propertyNames, `${at} names`);
    for (const combinator of ['oneOf', 'anyOf', 'allOf'] as const)
      if (Array.isArray(value[combinator]))
        (value[combinator] as unknown[]).forEach((option, index) =>
          schema(option, `${at}.${combinator}[${index}]`),
        );
  };
  for (const [name, value] of Object.entries(isObject(components.schemas) ? components.schemas : {}))
    schema(value, `#/components/schemas/${name}`);

  const content = (media: unknown, at: string): void => {
    for (const [type, object] of Object.entries(isObject(media) ? media : {})) {
      if (!/^[\w.+-]+\/[\w.+*-]+$/.test(type)) problems.push(`${at}: media type ${type}`);
      if (!isObject(object)) continue;
      unknownFields(object, MEDIA_TYPE_FIELDS, `${at} ${type}`);
      if (object.schema !== undefined) schema(object.schema, `${at} ${type}`);
    }
  };

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries(isObject(document.paths) ? document.paths : {})) {
    if (!path.startsWith('/')) problems.push(`${path}: a path begins with /`);
    if (!isObject(item)) continue;
    unknownFields(item, PATH_ITEM_FIELDS, path);
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation)) continue;
      const at = `${method.toUpperCase()} ${path}`;
      unknownFields(operation, OPERATION_FIELDS, at);
      if (typeof operation.operationId === 'string') {
        if (operationIds.has(operation.operationId)) problems.push(`${at}: operationId used twice`);
        operationIds.add(operation.operationId);
      }
      if (operation.security !== undefined) security(operation.security, at);
      const own = Array.isArray(operation.parameters) ? (operation.parameters as Json[]) : [];
      const shared = Array.isArray(item.parameters) ? (item.parameters as Json[]) : [];
      const seen = new Set<string>();
      for (const parameter of own) {
        const key = `${String(parameter.in)} ${String(parameter.name)}`;
        if (seen.has(key)) problems.push(`${at}: parameter ${key} declared twice`);
        seen.add(key);
      }
      const parameters = [
        ...shared.filter((parameter) => !seen.has(`${String(parameter.in)} ${String(parameter.name)}`)),
        ...own,
      ];
      for (const parameter of parameters) {
        const where = `${at} parameter ${String(parameter.name)}`;
        unknownFields(parameter, PARAMETER_FIELDS, where);
        if (typeof parameter.name !== 'string') problems.push(`${where}: no name`);
        if (!['query', 'header', 'path', 'cookie'].includes(String(parameter.in)))
          problems.push(`${where}: in ${String(parameter.in)}`);
        if (parameter.in === 'path' && parameter.required !== true)
          problems.push(`${where}: a path parameter is required`);
        if (parameter.in === 'path' && !templated.includes(String(parameter.name)))
          problems.push(`${where}: not in the path template`);
        if ((parameter.schema === undefined) === (parameter.content === undefined))
          problems.push(`${where}: needs a schema or a content, not both`);
        if (parameter.schema !== undefined) schema(parameter.schema, where);
      }
      for (const name of templated)
        if (!parameters.some((parameter) => parameter.in === 'path' && parameter.name === name))
          problems.push(`${at}: the path parameter ${String(name)} is not declared`);
      if (operation.requestBody !== undefined) {
        const body = isObject(operation.requestBody) ? operation.requestBody : {};
        if (!isObject(body.content)) problems.push(`${at}: a requestBody needs content`);
        content(body.content, `${at} requestBody`);
      }
      const responses = isObject(operation.responses) ? operation.responses : {};
      if (Object.keys(responses).length === 0) problems.push(`${at}: no responses`);
      for (const [status, response] of Object.entries(responses)) {
        const where = `${at} ${status}`;
        if (!/^([1-5](\d\d|XX)|default)$/.test(status)) problems.push(`${where}: not a status code`);
        if (!isObject(response)) continue;
        unknownFields(response, RESPONSE_FIELDS, where);
        if (typeof response.description !== 'string') problems.push(`${where}: no description`);
        if (status === '204' && response.content !== undefined)
          problems.push(`${where}: a 204 has no content`);
        for (const [name, header] of Object.entries(isObject(response.headers) ? response.headers : {})) {
          if (name.toLowerCase() === 'content-type')
            problems.push(`${where}: Content-Type is no header object`);
          if (!isObject(header)) continue;
          unknownFields(header, HEADER_FIELDS, `${where} header ${name}`);
          if ((header.schema === undefined) === (header.content === undefined))
            problems.push(`${where} header ${name}: needs a schema or a content, not both`);
          if (header.schema !== undefined) schema(header.schema, `${where} header ${name}`);
        }
        content(response.content, where);
      }
    }
  }
  return problems;
}
