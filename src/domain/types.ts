/** Ad format of a win, as counted. Audio follows the video rules. */
export type Format = 'banner' | 'video' | 'audio' | 'native';

/** Where the impression is shown: a website, a mobile app, or streaming TV (CTV/STB). */
export type Channel = 'web' | 'app' | 'ctv';

/**
 * The billing notification that counts for an impression ("counting method"):
 * - `adm`: Tally's pixel inside the banner markup (begin to render);
 * - `omid`: Tally's OMID verification script, on the one-pixel event;
 * - `burl`: the billing URL fired by the publisher's SDK or server;
 * - `vast`: the VAST `<Impression>` fired by the player;
 * - `native`: the native `imptrackers` / `eventtrackers` (event 1).
 */
export type Method = 'adm' | 'omid' | 'burl' | 'vast' | 'native';

/**
 * What one notice URL reports. The counting methods, plus notices that never bill:
 * `loaded` (the ad markup was downloaded, for discrepancy analysis) and `vast_error`
 * (a player error carrying `[ERRORCODE]`).
 */
export type NoticeKind = Method | 'loaded' | 'vast_error';

/** Every {@link Format}. */
export const FORMATS: readonly Format[] = ['banner', 'video', 'audio', 'native'];
/** Every {@link Channel}. */
export const CHANNELS: readonly Channel[] = ['web', 'app', 'ctv'];
/** Every counting {@link Method}. */
export const METHODS: readonly Method[] = ['adm', 'omid', 'burl', 'vast', 'native'];
/** Every {@link NoticeKind}: the counting methods, then `loaded` and `vast_error`. */
export const NOTICE_KINDS: readonly NoticeKind[] = [...METHODS, 'loaded', 'vast_error'];
