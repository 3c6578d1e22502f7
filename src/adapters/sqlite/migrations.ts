/**
 * Forward-only schema migrations of the SQLite database, applied in order; the database's
 * `user_version` is the number applied. Never edit a released migration: add one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: the billing ledger.
  `
  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    served_hour_ms INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    impression_type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    channel TEXT NOT NULL,
    method TEXT NOT NULL,
    seat TEXT NOT NULL,
    publisher TEXT NOT NULL,
    auction_id TEXT NOT NULL,
    imp_id TEXT NOT NULL,
    bid_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    advertiser_id INTEGER NOT NULL,
    line_item_id INTEGER NOT NULL,
    tracker_id INTEGER NOT NULL,
    placement_id INTEGER NOT NULL,
    payment_rule_id INTEGER NOT NULL,
    cachebuster_missing INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    device_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    dedupe_key TEXT
  );
  CREATE INDEX events_received ON events (received_ms);

  CREATE TABLE claims (
    dedupe_key TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE billing_records (
    event_id INTEGER PRIMARY KEY,
    dedupe_key TEXT,
    account_id INTEGER NOT NULL,
    counted_ms INTEGER NOT NULL,
    served_hour_ms INTEGER NOT NULL,
    impression_type TEXT NOT NULL,
    seat TEXT NOT NULL,
    publisher TEXT NOT NULL,
    auction_id TEXT NOT NULL,
    imp_id TEXT NOT NULL,
    bid_id TEXT NOT NULL,
    tracker_id INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    currency TEXT NOT NULL
  );
  CREATE INDEX billing_records_served ON billing_records (served_hour_ms);

  CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    dedupe_key TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    device_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL,
    lease_until_ms INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    delivered_ms INTEGER
  );
  CREATE INDEX deliveries_due ON deliveries (status, due_ms);

  CREATE TABLE rollup_hourly (
    hour_ms INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    impression_type TEXT NOT NULL,
    format TEXT NOT NULL,
    channel TEXT NOT NULL,
    method TEXT NOT NULL,
    seat TEXT NOT NULL,
    publisher TEXT NOT NULL,
    advertiser_id INTEGER NOT NULL,
    line_item_id INTEGER NOT NULL,
    tracker_id INTEGER NOT NULL,
    placement_id INTEGER NOT NULL,
    payment_rule_id INTEGER NOT NULL,
    cachebuster_missing INTEGER NOT NULL,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing)
  ) WITHOUT ROWID;
  `,
  // 2: accounts and their API keys.
  `
  CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL
  );
  CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope_type TEXT NOT NULL,
    scope_id INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
  );
  CREATE INDEX api_keys_account ON api_keys (account_id);
  `,
];
