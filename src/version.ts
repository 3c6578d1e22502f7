/**
 * Tally's version, as `package.json` gives it: in `/docs`, the burl relay's User-Agent and the
 * `listening` log line.
 */
export const TALLY_VERSION = '0.1.0';
