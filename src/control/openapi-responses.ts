/**
 * The `X-Request-Id` header of every answer in the error envelope, and of every other answer of
 * the API and the public routes (see `withRequestIds`): the id an error's `requestId` repeats.
 */
export const REQUEST_ID_HEADER = {
  'X-Request-Id': {
    required: true,
    description:
      "the request's id, as logged: the caller's own X-Request-Id when it is 1 to 128 letters, digits, _, . or -, else a new one; quote it when reporting a problem",
    schema: { type: 'string', pattern: '^[\\w.-]{1,128}$' },
  },
};

/** The `Retry-After` of a 503 to send again: in seconds. */
export const RETRY_AFTER_HEADER = {
  'Retry-After': {
    required: true,
    description: 'how many seconds to wait before sending the request again',
    schema: { type: 'string', pattern: '^[0-9]+$', example: '1' },
  },
};

/**
 * An answer in the error envelope, `#/components/schemas/Error`, with its `X-Request-Id` and any
 * other `headers` it carries.
 */
export const errorResponse = (description: string, headers: Record<string, unknown> = {}) => ({
  description,
  headers: { ...REQUEST_ID_HEADER, ...headers },
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/** A 503 in the error envelope, to send again after its `Retry-After`. */
export const retryResponse = (description: string) => errorResponse(description, RETRY_AFTER_HEADER);

/** Why any request may be refused 400 before its route reads it. */
const MALFORMED_REQUEST =
  'MALFORMED_REQUEST: not HTTP/1.1 Tally reads (the request line, a missing or repeated Host, the body framing), or a target that is no URL path';

/**
 * The 400 of an operation: `why` it refuses its own input (a `VALIDATION_FAILED`…), if it does,
 * and the `MALFORMED_REQUEST` any request may be answered.
 */
export const badRequest = (why?: string) =>
  errorResponse(why === undefined ? MALFORMED_REQUEST : `${why}; ${MALFORMED_REQUEST}`);

/**
 * The answers any request may get whatever its path: from node:http's parser (408, 431) and its
 * `Expect` check (417), before a route is chosen. The notice and tracker endpoints answer these
 * in the envelope too.
 */
export const CONNECTION_ERRORS = {
  '408': errorResponse('REQUEST_TIMEOUT: the request head did not arrive in time'),
  '417': errorResponse(
    'EXPECTATION_FAILED: an Expect header other than 100-continue, or naming another expectation beside it; send the request without it',
  ),
  '431': errorResponse('HEADERS_TOO_LARGE: the request line and headers are too long'),
};

/**
 * The answers of any route of the API and the public routes (not the notice and tracker
 * endpoints), besides its own: a method the path does not take, an `Accept` accepting nothing it
 * answers (`refuseUnacceptable`), a fault in Tally, a database that
 * cannot take a write just now (`sendError`), a server shutting down, or one still starting
 * (`answerWhileStarting`).
 */
export const ROUTE_ERRORS = {
  '405': errorResponse('METHOD_NOT_ALLOWED: the path takes the methods in the Allow header, not this one', {
    Allow: {
      required: true,
      description: "the path's methods, comma-separated (HEAD with GET)",
      schema: { type: 'string', example: 'GET, HEAD' },
    },
  }),
  '406': errorResponse(
    'NOT_ACCEPTABLE: the Accept header accepts neither JSON nor any type the operation answers in (its 200 content); without Accept, or with */*, it answers. The envelope is JSON all the same',
  ),
  ...CONNECTION_ERRORS,
  '500': errorResponse('INTERNAL: a fault in Tally; quote the requestId when reporting it'),
  '503': retryResponse(
    'UNAVAILABLE: Tally cannot use its database just now (busy, full, read-only or failing), or is shutting down; STARTING: Tally is starting (migrating or opening its ledger, which may take minutes after an upgrade), and the request was not read; retry (Retry-After says when)',
  ),
};

/**
 * The media types a JSON body may be sent as: `application/json`, and any type with RFC 6839's
 * `+json` suffix, which says its body is JSON (`readJsonText`).
 */
export const JSON_BODY_TYPES =
  'Content-Type: application/json, or any application/*+json type (RFC 6839 structured syntax suffix, e.g. application/merge-patch+json), read as JSON alike';

/** The answers of any operation of the API that reads a JSON body, besides its own. */
export const BODY_ERRORS = {
  '413': errorResponse('BODY_TOO_LARGE'),
  '415': errorResponse(
    `UNSUPPORTED_MEDIA_TYPE: send ${JSON_BODY_TYPES} (one Content-Type header), uncompressed or with Content-Encoding: gzip, in UTF-8 with charset=utf-8 or none (a charset of UTF-16 or UTF-32 is refused, and any other once the body holds a byte beyond ASCII)`,
  ),
};

/** The `WWW-Authenticate` of a 401: the key to send, as `Authorization: Bearer <key>`. */
export const BEARER_CHALLENGE = {
  'WWW-Authenticate': {
    required: true,
    description: 'Bearer, with the realm of the key asked for (and error="invalid_token" for a key refused)',
    schema: { type: 'string', example: 'Bearer realm="tally"' },
  },
};

/** The answers of every authenticated operation besides its own. */
export const AUTHENTICATED_ERRORS = {
  '401': errorResponse('UNAUTHENTICATED: missing, unknown or revoked API key', BEARER_CHALLENGE),
  '403': errorResponse('FORBIDDEN: the key lacks the role, or the resource is outside its scope'),
  ...ROUTE_ERRORS,
};

/** The 400 of an operation reading its query: an unknown, repeated or invalid parameter. */
export const QUERY_REFUSED = badRequest(
  'VALIDATION_FAILED: an unknown, repeated or invalid query parameter, or a malformed %-escape in the query',
);
