import type { Settings } from './settings.js';

/** How tag exports are mailed: `smtpUrl` undefined when mail is not set up. */
export interface MailSettings {
  smtpUrl: string | undefined;
  mailFrom: string;
}

/** Reads `smtpUrl` and `mailFrom`, adding to `errors` a URL or a sender the SMTP client cannot use. */
export function readMailSettings(settings: Settings, errors: string[]): MailSettings {
  const smtpUrl = settings.text('smtpUrl', '', true) || undefined;
  if (smtpUrl !== undefined && !isSmtpUrl(smtpUrl))
    errors.push(
      `smtpUrl: ${settings.given('smtpUrl', true)} must look like smtp://user:pass@host:587, or smtps://user:pass@host:465 for TLS from the start`,
    );
  const mailFrom = settings.text('mailFrom', 'tally@localhost');
  if (!isMailSender(mailFrom))
    errors.push(
      `mailFrom: ${settings.given('mailFrom')} must be the address tag exports are mailed from, e.g. tally@example.com or Tally <tally@example.com>`,
    );
  return { smtpUrl, mailFrom };
}

/** Whether `text` is an `smtp://` or `smtps://` URL naming a host (`smtp://` alone names none). */
function isSmtpUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== '';
}

/** A mail address: no white space, control characters, quotes, brackets, separators or second `@`. */
const MAIL_ADDRESS = /^[^\s\p{Cc}@<>",;()\\]+@[^\s\p{Cc}@<>",;()\\]+$/u;

/**
 * Whether `text` is a sender the SMTP client sends from: an address, bare or in `<…>` after a
 * name (quoted, or without the `,` `;` `(` that would split it or read as a comment). Anything
 * else goes out with an empty envelope sender, a bounce's, and no `From:` header.
 */
function isMailSender(text: string): boolean {
  const named = /^(?:"[^"\\\p{Cc}]*"|[^<>"\p{Cc},;()]*?)\s*<([^<>]*)>$/u.exec(text);
  return MAIL_ADDRESS.test(named === null ? text : (named[1] ?? ''));
}
