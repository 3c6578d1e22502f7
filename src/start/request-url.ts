/** The authority request targets are read under: Tally serves one site, whatever `Host` says. */
const TARGET_BASE = 'http://tally.invalid';

/**
 * The request target as a URL, or `undefined` when it cannot be parsed (an absolute-form target
 * such as `http://[x]/`). A target in origin form (`/…`) is read as a path even when it begins
 * with `//`: read as a reference, `//evil.example/v1/x` would name the host `evil.example` and
 * the path `/v1/x`, serving a path that was not sent.
 */
export function parseRequestUrl(target: string): URL | undefined {
  try {
    return target.startsWith('/') ? new URL(`${TARGET_BASE}${target}`) : new URL(target, TARGET_BASE);
  } catch {
    return undefined;
  }
}
