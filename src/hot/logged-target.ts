import { withoutCredentials } from '../domain/url-credentials.js';

/**
 * A request target (a notice's or tracker hit's) as a log line shows it: its path, and the names
 * of its query parameters each with the value `***` (a name without a value, which may be a value
 * itself, `***` alone); `redir=***` ends it, as what follows `redir=` is the landing URL's own
 * query (see `parseTrackerHit`); an absolute-form target's user name and password `***` too (see
 * {@link withoutCredentials}). A query may carry credentials, tokens or personal data, which no
 * log line holds. `/imptr?id=5&redir=https://u:p@adv.example/?e=a@b.example` is
 * `/imptr?id=***&redir=***`.
 */
export function loggedTarget(target: string): string {
  const queryAt = target.indexOf('?');
  if (queryAt === -1) return withoutCredentials(target);
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
  return `${withoutCredentials(target.slice(0, queryAt))}?${shown.join('&')}`;
}

/** The tracker hit's landing URL parameter, the last it reads: all after it is the URL's own. */
const REDIRECT_PARAMETER = 'redir';
