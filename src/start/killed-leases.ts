import type { SqliteLedger } from '../adapters/sqlite/ledger.js';
import type { Logger } from '../lib/log.js';

/**
 * Ends the leases a Tally killed with its burl calls in flight left (see
 * `endLeasesOfKilledProcess`), logging how many: their calls are made again now. Only while
 * tally.lock is held.
 */
export function endLeasesOfKilledProcess(ledger: SqliteLedger, log: Logger): void {
  const leasesEnded = ledger.endLeasesOfKilledProcess();
  if (leasesEnded > 0) {
    log.info('burl_leases_ended', {
      deliveries: leasesEnded,
      note: 'burl calls in flight when Tally last stopped without a clean shutdown; sent again now',
    });
  }
}
