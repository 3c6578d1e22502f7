import { withoutCredentials } from '../domain/url-credentials.js';

/**
 * A request target (a notice's or tracker hit's) as a log line shows it: its path, and the names
 * of its query parameters each with the value `***`; an absolute-form target's user name and
 * password `***` too (see {@link withoutCredentials}). A query may carry credentials, tokens or
 * personal data (a `redir` with its own user and query), which no log line holds.
 * `/imptr?id=5&redir=https://u:p@adv.example/` is `/imptr?id=***&redir=***`.
 */
export function loggedTarget(target: string): string {
  const queryAt = target.indexOf('?');
  if (queryAt === -1) return withoutCredentials(target);
  const names = target
    .slice(queryAt + 1)
    .split('&')
    .map((parameter) => {
      const equalsAt = parameter.indexOf('=');
      return equalsAt === -1 ? parameter : `${parameter.slice(0, equalsAt)}=***`;
    });
  return `${withoutCredentials(target.slice(0, queryAt))}?${names.join('&')}`;
}
