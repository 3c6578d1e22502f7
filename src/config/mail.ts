/** Whether `text` is an `smtp://` or `smtps://` URL naming a host (`smtp://` alone names none). */
export function isSmtpUrl(text: string): boolean {
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
export function isMailSender(text: string): boolean {
  const named = /^(?:"[^"\\\p{Cc}]*"|[^<>"\p{Cc},;()]*?)\s*<([^<>]*)>$/u.exec(text);
  return MAIL_ADDRESS.test(named === null ? text : (named[1] ?? ''));
}
