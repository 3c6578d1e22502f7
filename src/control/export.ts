import { createTransport } from 'nodemailer';
import type { ExportOptions, ExportParam, ExportType, PlaceholderSyntax } from '../domain/tag-export.js';
import {
  AD_SERVER_MACROS,
  EXPORT_PARAMS,
  EXPORT_TYPES,
  PLACEHOLDER_SYNTAXES,
  trackerTag,
} from '../domain/tag-export.js';
import type { TrackerKind } from '../domain/tracker-hit.js';
import type { CatalogStore, CatalogView, Tracker } from '../ports/catalog.js';
import { requireRole } from './auth.js';
import { sees } from './catalog/access.js';
import { notFound, parsePathId } from './catalog/paging.js';
import { isId } from './ids.js';
import { trackerOfOtherKind } from './catalog/tracker-kind.js';
import type { Route } from './router.js';
import { ApiError } from './api-error.js';
import { readJson } from './json-body.js';
import { sendJson } from './send.js';
import { refuseUnknownOrRepeated } from './query.js';
import { nullProblem } from './catalog/validation.js';
import { shown, shownSent } from '../lib/shown.js';
import type { ExportWarning } from './export-warnings.js';
import { exportWarnings, warningKind } from './export-warnings.js';

/** Most characters of an unknown field's name a message repeats. */
const MAX_FIELD_NAME_CHARS = 64;
/** The fields an export body may have. */
const EXPORT_FIELDS: readonly string[] = [
  'type',
  'secure',
  'params',
  'placeholders',
  'delivery',
  'email',
  'trackerIds',
];
/** Most trackers in one export: the path's and `trackerIds` together. */
export const MAX_TRACKERS_PER_EXPORT = 500;
const QUERY_PARAMETERS = new Set(['download']);
const MAX_BODY_BYTES = 64 * 1024;
const EMAIL_PATTERN = /^[^\s@<>",;]+@[^\s@<>",;]+\.[^\s@<>",;]+$/;

/** Where exported tags are mailed from; `undefined` when no SMTP server is configured. */
interface MailSettings {
  smtpUrl: string | undefined;
  from: string;
}

/** One exported tag. */
interface ExportedTag {
  trackerId: number;
  tag: string;
}

/**
 * `POST /v1/impression-trackers/{id}/export` (and `/v1/click-trackers/{id}/export`): tags for
 * one tracker, or several with `trackerIds`; delivered `now` (JSON, or a text file with
 * `?download=1`) or by `email` through the configured SMTP server. Every answer carries the
 * export's `warnings` (see `exportWarnings`; pricing ones read from `snapshot`, the catalog as hits
 * are priced by it): the JSON as `warnings`, a file and a mail as comment lines under the tracker
 * they are about.
 */
export function exportRoutes(
  catalog: CatalogStore,
  snapshot: () => CatalogView,
  publicUrl: string,
  mail: MailSettings,
): Route[] {
  return (['impression', 'click'] as const).map((kind) => ({
    method: 'POST' as const,
    path: `/v1/${kind}-trackers/:id/export`,
    readsQuery: true,
    answers: ['text/plain'],
    async handler(ctx) {
      requireRole(ctx.principal, 'editor');
      const download = downloadAsked(ctx.url.searchParams);
      const body = asRecord(await readJson(ctx.req, MAX_BODY_BYTES));
      ctx.requireLiveKey();
      const noun = `${kind} tracker`;
      const request = parseExportRequest(body, parsePathId(ctx.params.id, noun));
      const trackers = request.trackerIds.map((trackerId) => {
        const tracker = catalog.trackers.get(ctx.principal.accountId, trackerId);
        if (tracker === undefined || !sees(ctx.principal, tracker)) throw notFound(noun, trackerId);
        if (tracker.kind !== kind) throw trackerOfOtherKind(noun, trackerId, tracker.kind, 'export');
        return tracker;
      });
      requireLandingPages(trackers, request.options.params);
      const tags = trackers.map((tracker) => ({
        trackerId: tracker.id,
        tag: trackerTag(kind, tracker.id, publicUrl, request.options),
      }));
      const warnings = exportWarnings(
        catalog,
        snapshot(),
        ctx.principal,
        trackers,
        request.options,
        publicUrl,
      );
      if (request.delivery === 'email') {
        await mailTags(mail, request.email ?? '', kind, tags, warnings);
        sendJson(ctx.res, 202, { delivery: 'email', email: request.email, tags, warnings }, ctx.requestId);
        return;
      }
      if (download) {
        ctx.res.writeHead(200, {
          'Content-Type': 'text/plain; charset=utf-8',
          'Content-Disposition': `attachment; filename="tally-${kind}-trackers.txt"`,
          'Cache-Control': 'no-store',
          'X-Request-Id': ctx.requestId,
        });
        ctx.res.end(tagFile(kind, tags, warnings));
        return;
      }
      sendJson(ctx.res, 200, { tags, warnings }, ctx.requestId);
    },
  }));
}

interface ExportRequest {
  trackerIds: number[];
  options: ExportOptions;
  delivery: 'now' | 'email';
  email: string | undefined;
}

/** Most unknown fields a refusal names; the rest are counted. */
const MAX_UNKNOWN_FIELDS_LISTED = 10;

function parseExportRequest(body: Record<string, unknown>, id: number): ExportRequest {
  const problems: string[] = [];
  // A misspelt choice (`param`, `placeholder`) would otherwise fall back to its default and
  // export a tag without the parameters or macros asked for, which ad ops then traffic.
  const unknown = Object.keys(body).filter((name) => !EXPORT_FIELDS.includes(name));
  for (const name of unknown.slice(0, MAX_UNKNOWN_FIELDS_LISTED)) {
    const field = name.length <= MAX_FIELD_NAME_CHARS ? name : `${name.slice(0, MAX_FIELD_NAME_CHARS)}…`;
    problems.push(`${field}: unknown field; the fields are ${EXPORT_FIELDS.join(', ')}`);
  }
  if (unknown.length > MAX_UNKNOWN_FIELDS_LISTED) {
    problems.push(`and ${unknown.length - MAX_UNKNOWN_FIELDS_LISTED} more unknown fields`);
  }
  // No field of an export has an empty value, nor a schema admitting null: null, read as absent,
  // would export the default (a pixel, say) where the caller sent something else.
  for (const name of EXPORT_FIELDS.filter((field) => body[field] === null))
    problems.push(`${name}: ${nullProblem(name, 'a value', 'create', false)}`);
  const extra = body.trackerIds ?? [];
  const trackerIdsProblem = notEntriesOf('trackerIds', extra, isId);
  if (trackerIdsProblem !== undefined) {
    problems.push(`trackerIds must be an array of tracker ids (whole numbers from 1): ${trackerIdsProblem}`);
  }
  const trackerIds = [...new Set([id, ...(Array.isArray(extra) ? (extra as number[]) : [])])];
  if (trackerIds.length > MAX_TRACKERS_PER_EXPORT)
    problems.push(`export at most ${MAX_TRACKERS_PER_EXPORT} trackers at once`);
  const type = body.type ?? 'pixel';
  if (!EXPORT_TYPES.includes(type as ExportType)) {
    problems.push('type must be "pixel", "javascript" or "vast" (a VAST <Impression> element)');
  }
  const secure = body.secure ?? true;
  if (typeof secure !== 'boolean') problems.push('secure must be true (https) or false');
  const params = body.params ?? [];
  const paramsProblem = notEntriesOf('params', params, (param) =>
    EXPORT_PARAMS.includes(param as ExportParam),
  );
  if (paramsProblem !== undefined) {
    problems.push(`params must be a list of ${EXPORT_PARAMS.join(', ')}: ${paramsProblem}`);
  }
  // A VAST tracker is filled by the player that fires it, with VAST's own macros.
  const placeholders = body.placeholders ?? (type === 'vast' ? 'vast' : 'xandr');
  if (!PLACEHOLDER_SYNTAXES.includes(placeholders as PlaceholderSyntax)) {
    problems.push(`placeholders must be one of ${PLACEHOLDER_SYNTAXES.join(', ')}`);
  }
  if (
    Array.isArray(params) &&
    params.includes('preview') &&
    PLACEHOLDER_SYNTAXES.includes(placeholders as PlaceholderSyntax) &&
    AD_SERVER_MACROS[placeholders as PlaceholderSyntax].preview === undefined
  ) {
    problems.push(
      `params: preview needs the ad server's preview macro, and ${placeholders as PlaceholderSyntax} has none: use placeholders "xandr_macros" (Xandr's \${IS_PREVIEW}) where Xandr serves the creative, or leave preview out`,
    );
  }
  const delivery = body.delivery ?? 'now';
  if (delivery !== 'now' && delivery !== 'email') problems.push('delivery must be "now" or "email"');
  const email = body.email;
  if (delivery === 'email' && (typeof email !== 'string' || !EMAIL_PATTERN.test(email))) {
    problems.push('email must be the address to send the tags to, e.g. adops@example.com');
  }
  // An address without delivery email would be ignored, and the tags never mailed to it.
  if (delivery !== 'email' && email !== undefined && email !== null) {
    problems.push(
      'email is only for delivery "email": add "delivery": "email" to mail the tags, or leave email out',
    );
  }
  if (problems.length > 0) throw new ApiError(400, 'VALIDATION_FAILED', problems.join('; '));
  return {
    trackerIds,
    options: {
      type: type as ExportOptions['type'],
      secure: secure as boolean,
      params: params as ExportParam[],
      placeholders: placeholders as PlaceholderSyntax,
    },
    delivery: delivery as ExportRequest['delivery'],
    email: typeof email === 'string' ? email : undefined,
  };
}

/** Most tracker ids a refusal names; the rest are counted. */
const MAX_TRACKER_IDS_LISTED = 10;

/**
 * Throws 400 when a click tracker without a `clickUrl` would be exported without `redir`: every
 * click on its tag would be recorded and then sent nowhere (400 "no landing page"). Xandr asks
 * for `redir` whenever the tracker has no click URL.
 */
function requireLandingPages(trackers: readonly Tracker[], params: readonly ExportParam[]): void {
  if (params.includes('redir')) return;
  const nowhere = trackers.filter((tracker) => tracker.kind === 'click' && tracker.clickUrl === null);
  const first = nowhere[0];
  if (first === undefined) return;
  const listed = nowhere.slice(0, MAX_TRACKER_IDS_LISTED).map((tracker) => tracker.id);
  const more = nowhere.length > listed.length ? ` and ${nowhere.length - listed.length} more` : '';
  const which =
    nowhere.length === 1
      ? `click tracker ${first.id} has no clickUrl`
      : `click trackers ${listed.join(', ')}${more} have no clickUrl`;
  throw new ApiError(
    400,
    'VALIDATION_FAILED',
    `params: ${which}, so a click on the tag would have no landing page: add "redir" to params (the ad server fills in the landing page), or set the tracker's clickUrl first (PATCH /v1/click-trackers/${first.id} {"clickUrl": "https://…"})`,
  );
}

async function mailTags(
  mail: MailSettings,
  to: string,
  kind: TrackerKind,
  tags: ExportedTag[],
  warnings: readonly ExportWarning[],
): Promise<void> {
  if (mail.smtpUrl === undefined) {
    // 4xx: retrying will not help, choosing delivery "now" will.
    throw new ApiError(
      422,
      'MAIL_NOT_CONFIGURED',
      'this Tally has no SMTP server for email delivery: use delivery "now", or ask the operator to set TALLY_SMTP_URL',
    );
  }
  const file = tagFile(kind, tags, warnings);
  const kinds = new Set(warnings.map(warningKind));
  const why = [
    ...(kinds.has('not_counted')
      ? ['the hits of some of these tags will not be counted as the trackers stand']
      : []),
    // An export's params are every tag's: either all of them carry a cachebuster or none does.
    ...(kinds.has('flagged')
      ? [
          'these tags carry no cachebuster, so each of their hits is counted as a new one, repeats included, and flagged cachebusterMissing',
        ]
      : []),
    ...(kinds.has('pricing')
      ? ['the hits of some of these tags will be booked at a media cost of 0 as their terms stand']
      : []),
  ];
  const warned =
    why.length === 0 ? '' : `Warning: ${why.join(', and ')}; see the lines starting "# warning" below.\n\n`;
  try {
    await createTransport(mail.smtpUrl).sendMail({
      from: mail.from,
      to,
      subject: `Tally ${kind} tracker tags (${tags.length})${warnings.length === 0 ? '' : ', with warnings'}`,
      text: `${warned}Your exported Tally ${kind} tracker tags are attached (one per line).\n\n${file}`,
      attachments: [{ filename: `tally-${kind}-trackers.txt`, content: file }],
    });
  } catch (error) {
    // The SMTP server's own reply helps the caller (an unknown mailbox); how it could not be
    // reached would name the operator's network, which only the log gets.
    const reply = (error as { responseCode?: unknown; response?: unknown }).response;
    const refused =
      (error as { responseCode?: unknown }).responseCode !== undefined && typeof reply === 'string';
    throw new ApiError(
      502,
      'MAIL_FAILED',
      refused
        ? `the SMTP server refused the message: ${reply}`
        : 'the SMTP server could not be reached or failed (logged as request_failed); retry later, or use delivery "now"',
      {},
      { cause: error },
    );
  }
}

/** The tags as a text file: each under a line naming its tracker, and that tracker's warnings. */
function tagFile(kind: TrackerKind, tags: ExportedTag[], warnings: readonly ExportWarning[]): string {
  return tags
    .map((tag) => {
      const own = warnings
        .filter((warning) => warning.trackerId === tag.trackerId)
        .map((warning) => `# warning ${warning.code}: ${warning.message}\n`)
        .join('');
      return `# ${kind} tracker ${tag.trackerId}\n${own}${tag.tag}\n`;
    })
    .join('\n');
}

/**
 * What the list field `name` holds that it does not take: the value itself when it is no array,
 * else its first entry that `takes` refuses (which a long list, shown cut short, may not reach);
 * `undefined` when it takes every entry.
 */
function notEntriesOf(name: string, value: unknown, takes: (entry: unknown) => boolean): string | undefined {
  if (!Array.isArray(value)) return `it is ${shownSent(value)}`;
  const at = value.findIndex((entry) => !takes(entry));
  return at === -1 ? undefined : `${name}[${at}] is ${shown(value[at])}`;
}

function asRecord(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `the body must be a JSON object with the fields ${EXPORT_FIELDS.join(', ')}`,
    );
  }
  return value as Record<string, unknown>;
}

/** Whether `?download=1` asks for a file; a misspelt parameter or value is refused, not read as JSON. */
function downloadAsked(params: URLSearchParams): boolean {
  refuseUnknownOrRepeated(params, QUERY_PARAMETERS, 'use download=1 for a file');
  const download = params.get('download');
  if (download !== null && download !== '0' && download !== '1')
    throw new ApiError(400, 'VALIDATION_FAILED', 'download must be 1 (a file) or 0 (JSON)');
  return download === '1';
}
