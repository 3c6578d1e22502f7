import { readAddressFile } from '../address-file.js';
import type { IvtFilter } from '../domain/ivt-filter.js';
import { buildIvtFilter } from '../domain/ivt-filter.js';
import type { Settings } from './settings.js';

/**
 * The invalid-traffic filter the `ivt…` settings build: user agent patterns, blocked addresses
 * (listed, and read from `ivtBlockedIpsFile`) and trusted notifiers. Each problem is added to
 * `errors`, and the filter is then an empty one.
 */
export function readIvtFilter(settings: Settings, errors: string[]): IvtFilter {
  const blockedIpsFile = settings.text('ivtBlockedIpsFile', '');
  const blockedIps = [
    ...settings.list('ivtBlockedIps'),
    ...(blockedIpsFile === ''
      ? []
      : readAddressFile(
          blockedIpsFile,
          'ivtBlockedIpsFile',
          settings.given('ivtBlockedIpsFile', true),
          errors,
        )),
  ];
  const ivt = buildIvtFilter(
    settings.list('ivtUserAgents', { patterns: true }),
    blockedIps,
    settings.list('ivtTrustedNotifiers'),
  );
  if (!ivt.ok) {
    const settingOf = {
      userAgents: 'ivtUserAgents',
      blockedIps: 'ivtBlockedIps',
      trustedNotifiers: 'ivtTrustedNotifiers',
    };
    errors.push(
      ...ivt.errors.map(
        (error) =>
          `${settingOf[error.list]}: in ${settings.given(settingOf[error.list], true)}, ${error.message}`,
      ),
    );
  }
  return ivt.ok ? ivt.filter : buildIvtFilterOrThrow();
}

function buildIvtFilterOrThrow(): IvtFilter {
  const empty = buildIvtFilter([], []);
  if (!empty.ok) throw new Error('an empty IVT filter cannot fail');
  return empty.filter;
}
