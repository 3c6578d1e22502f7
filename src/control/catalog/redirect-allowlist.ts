import { domainToASCII } from 'node:url';
import { retryWhileBusy } from '../../lib/busy-retry.js';
import type { CatalogStore, RedirectAllowlist } from '../../ports/catalog.js';
import { requireAccountWide } from '../auth.js';
import type { Route } from '../router.js';
import { readJson } from '../json-body.js';
import { sendJson } from '../send.js';
import { CATALOG_MAX_BODY_BYTES } from './crud.js';
import { refusedClickUrls } from './tracker-warnings.js';
import { FieldReader } from './validation.js';

/** The most host names an allow-list holds. */
export const MAX_DOMAINS = 1000;
const NON_ASCII = /\P{ASCII}/u;
/** A host name: dot-separated labels of letters, digits and hyphens. */
const HOST_NAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * `GET` and `PUT /v1/account/redirect-allowlist` (account-wide admins): `{enabled, domains}`, and
 * the answers' `warnings`: the active click trackers whose `clickUrl` it refuses
 * (`refusedClickUrls`). With `enabled`, hits redirect only to these host names and their
 * subdomains. A `PUT` of an answer, its `warnings` included, is taken (they are ignored).
 */
export function redirectAllowlistRoutes(store: CatalogStore): Route[] {
  const path = '/v1/account/redirect-allowlist';
  return [
    {
      method: 'GET',
      path,
      handler(ctx) {
        requireAccountWide(ctx.principal, 'admin');
        sendJson(
          ctx.res,
          200,
          answerOf(ctx.principal.accountId, store.redirectAllowlist(ctx.principal.accountId)),
          ctx.requestId,
        );
      },
    },
    {
      method: 'PUT',
      path,
      async handler(ctx) {
        requireAccountWide(ctx.principal, 'admin');
        const allowlist = parseAllowlist(await readJson(ctx.req, CATALOG_MAX_BODY_BYTES));
        const stored = await retryWhileBusy(() => {
          ctx.requireLiveKey();
          return store.setRedirectAllowlist(ctx.principal.accountId, allowlist, Date.now());
        });
        sendJson(ctx.res, 200, answerOf(ctx.principal.accountId, stored), ctx.requestId);
      },
    },
  ];

  /** The allow-list of `accountId` as answered: with the warnings about its click trackers. */
  function answerOf(accountId: number, allowlist: RedirectAllowlist): Record<string, unknown> {
    return { ...allowlist, warnings: refusedClickUrls(store.trackers, accountId, allowlist) };
  }
}

function parseAllowlist(body: unknown): RedirectAllowlist {
  const fields = new FieldReader(body, 'create', ['enabled', 'domains'], ['warnings']);
  // Read as absent, null would switch the allow-list off.
  const enabled = fields.bool('enabled', false, { required: true });
  const domainsHint = `an array of at most ${MAX_DOMAINS} host names, e.g. ["example.com"]`;
  // Null, refused, would read as no domains.
  const raw = fields.refusedNull('domains', domainsHint)
    ? []
    : ((body as { domains?: unknown }).domains ?? []);
  const domains: string[] = [];
  if (!Array.isArray(raw) || raw.length > MAX_DOMAINS) {
    fields.problem('domains', `send ${domainsHint}`);
  } else {
    for (const entry of raw) {
      const host = typeof entry === 'string' ? entry.trim().toLowerCase().replace(/\.$/, '') : '';
      const punycode = NON_ASCII.test(host) ? domainToASCII(host) : '';
      if (HOST_NAME.test(punycode)) {
        fields.problem(
          'domains',
          `${JSON.stringify(entry)} is not in ASCII; send an international domain name in punycode: ${JSON.stringify(punycode)}`,
        );
      } else if (!HOST_NAME.test(host)) {
        fields.problem(
          'domains',
          `${JSON.stringify(entry)} is not a host name; send names like "example.com" (no scheme, path or wildcard: a name covers its subdomains)`,
        );
      } else if (!domains.includes(host)) {
        domains.push(host);
      }
    }
  }
  fields.finish('redirect allow-list');
  return { enabled, domains };
}
