import type { ReportCatalog } from '../../src/control/report-id-warnings.js';

/**
 * The catalog of report tests whose ledger has rows and no catalog: it knows every id a filter
 * names (no report is warned of one) and no publisher's OpenRTB id.
 */
export const EVERY_ID_KNOWN: ReportCatalog = { publisherExternalId: () => null, knows: () => true };
