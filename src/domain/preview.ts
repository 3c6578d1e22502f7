/** Value OpenRTB 2.6 renderers put in macros when rendering for ad-quality audits. */
const AUDIT_VALUE = 'AUDIT';

/**
 * A preview render: `preview=1` (its first value), or any query value a renderer filled with
 * `AUDIT`. Takes a query's parameters as `[name, value]` pairs, as `URLSearchParams` gives them.
 */
export function isPreviewQuery(query: Iterable<readonly [string, string]>): boolean {
  let previewSeen = false;
  for (const [name, value] of query) {
    if (value === AUDIT_VALUE) return true;
    if (name === 'preview' && !previewSeen) {
      if (value === '1') return true;
      previewSeen = true;
    }
  }
  return false;
}
