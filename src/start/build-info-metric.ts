import type { Metrics } from '../lib/metrics.js';
import { TALLY_VERSION } from '../version.js';

/** Shows the version of Tally serving on `/metrics`, as the label of a gauge always 1. */
export function showBuildInfo(metrics: Metrics): void {
  metrics.gauge('tally_build_info', 'The version of Tally serving, as a label; always 1', () => 1, {
    version: TALLY_VERSION,
  });
}
