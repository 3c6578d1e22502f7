/**
 * The user information of a URL (`scheme://user:password@`), up to the last `@` before its path,
 * wherever one is in a text.
 */
const USER_INFO = /([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/?#\s]*@/g;

/**
 * `text` (a burl, a delivery's last error naming URLs) with the user name and password of each URL
 * in it written `***`: a burl may carry a DSP's credentials, which no last error, log line or
 * listing of the outbox shows. `https://user:pass@dsp.example/b` is `https://***@dsp.example/b`.
 */
export function withoutCredentials(text: string): string {
  return text.replace(USER_INFO, '$1***@');
}
