import type { CatalogSnapshot } from '../catalog-snapshot.js';
import type { Config } from '../config.js';
import { priceKeyName } from '../domain/price-crypto.js';
import type { KeyRing } from '../domain/token.js';
import { EVERY_REDIRECT_REFUSED } from '../domain/tracker-hit.js';
import type { GroupCommitter } from '../hot/group-commit.js';
import type { NoticeDeps } from '../hot/notices.js';
import type { TrackerDeps } from '../hot/trackers.js';
import type { Logger } from '../lib/log.js';
import type { Metrics } from '../lib/metrics.js';
import { throttledErrorLog } from '../lib/throttled-log.js';

/** What notices are decided with and recorded through, whether node:http or the notice lane read them. */
export function noticeDepsOf(
  config: Config,
  keyRing: KeyRing,
  catalogSnapshot: CatalogSnapshot,
  committer: GroupCommitter,
  metrics: Metrics,
  log: Logger,
): NoticeDeps {
  const logUnreadAllowlist = throttledErrorLog(log, 'redirect_allowlist_unread', 1000);
  return {
    committer,
    metrics,
    env: {
      keyRing,
      ivtFilter: config.ivtFilter,
      priceKeysFor: (account, seat) => config.priceKeys.get(priceKeyName(account, seat)),
      redirectAllowlist: (account) => {
        try {
          return catalogSnapshot.current().redirectAllowlist(account);
        } catch (error) {
          // The notice is still answered; the DSP's burl goes to the outbox, called from there.
          logUnreadAllowlist({ error: String(error) });
          return EVERY_REDIRECT_REFUSED;
        }
      },
    },
    nowMs: Date.now,
  };
}

/** What tracker hits are decided with and recorded through, whether node:http or the notice lane read them. */
export function trackerDepsOf(
  config: Config,
  catalogSnapshot: CatalogSnapshot,
  committer: GroupCommitter,
  metrics: Metrics,
): TrackerDeps {
  return {
    catalog: () => catalogSnapshot.current(),
    ivtFilter: () => config.ivtFilter,
    committer,
    metrics,
    nowMs: Date.now,
  };
}
