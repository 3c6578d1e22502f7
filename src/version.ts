/** Tally's version, as `package.json` gives it: in `/docs` and in the burl relay's User-Agent. */
export const TALLY_VERSION = '0.1.0';
