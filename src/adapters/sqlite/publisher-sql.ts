/**
 * A ledger row's publisher as either kind of id, in SQL. Its `publisher` column holds an exchange
 * row's OpenRTB publisher id (the win's `publisher.id`, '' for none) and a tracker row's catalog
 * publisher id; each kind of row's other id is looked up in the catalog as it stands when read.
 * Reports (over `rollup_hourly`) and billing records (over `event_dims`) read both through these,
 * so that both put a row under the same publisher. `table` names the row's table or alias, which
 * holds `account_id`, `impression_type` and `publisher`.
 */

/**
 * The catalog publisher of a row: a tracker row's; the one whose `externalId` is an exchange row's
 * OpenRTB publisher id (0 when none is).
 */
export function catalogPublisherIdSql(table: string): string {
  return `(CASE WHEN ${table}.impression_type = 'exchange' THEN COALESCE((SELECT p.id FROM publishers p
    WHERE p.account_id = ${table}.account_id AND p.external_id = ${table}.publisher
      AND ${table}.publisher <> ''), 0)
    ELSE CAST(${table}.publisher AS INTEGER) END)`;
}

/**
 * The OpenRTB publisher id of a row: an exchange row's; the `externalId` of a tracker row's catalog
 * publisher ('' when it has none).
 */
export function openRtbPublisherSql(table: string): string {
  return `(CASE WHEN ${table}.impression_type = 'exchange' THEN ${table}.publisher
    ELSE COALESCE((SELECT p.external_id FROM publishers p
      WHERE p.account_id = ${table}.account_id AND p.id = CAST(${table}.publisher AS INTEGER)), '') END)`;
}
