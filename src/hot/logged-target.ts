import { withoutCredentials } from '../domain/url-credentials.js';

/**
 * A request target (a notice's or tracker hit's) as a log line shows it: its path's first segment
 * (any others, a notice's token, `***`), and the names of its query parameters each with the value
 * `***` (a name without a value, which may be a value itself, `***` alone); `redir=***` ends it,
 * as what follows `redir=` is the landing URL's own query (see `parseTrackerHit`); an
 * absolute-form target's user name and password `***` too (see {@link withoutCredentials}). A
 * query may carry credentials, tokens or personal data, which no log line holds.
 * `/imptr?id=5&redir=https://u:p@adv.example/?e=a@b.example` is `/imptr?id=***&redir=***`.
 */
export function loggedTarget(target: string): string {
  const queryAt = target.indexOf('?');
  if (queryAt === -1) return loggedPath(target);
  const shown: string[] = [];
  for (const parameter of target.slice(queryAt + 1).split('&')) {
    const equalsAt = parameter.indexOf('=');
    if (equalsAt === -1) {
      shown.push(parameter === '' ? '' : '***');
      continue;
    }
    const name = parameter.slice(0, equalsAt);
    shown.push(`${name}=***`);
    if (name === REDIRECT_PARAMETER) break;
  }
  return `${loggedPath(target.slice(0, queryAt))}?${shown.join('&')}`;
}

/** A path's first segment (in absolute form, after the scheme and authority) and what follows. */
const FIRST_SEGMENT = /^((?:[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*)?\/?[^/]*)(\/.*)?$/s;

/**
 * A request target's path as a log line shows it: its first segment, which names the endpoint
 * (`/n`, `/imptr`), and `/***` for any that follow, a notice's token among them: a log line must
 * not hold one, which whoever read it could fire. `/n/<token>` is `/n/***`.
 */
function loggedPath(path: string): string {
  const [, first = path, rest] = FIRST_SEGMENT.exec(withoutCredentials(path)) ?? [];
  return rest === undefined ? first : `${first}/***`;
}

/** The tracker hit's landing URL parameter, the last it reads: all after it is the URL's own. */
const REDIRECT_PARAMETER = 'redir';
