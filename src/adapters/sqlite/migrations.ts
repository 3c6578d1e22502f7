import { DELIVERY_HOST_SQL } from '../../domain/delivery-host.js';

/**
 * Forward-only schema migrations of the SQLite database, applied in order; the database's
 * `user_version` is the number applied. Never edit a released migration: add one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
  // 1: the billing ledger. Counted events are the billing records: retention never prunes them.
  // Events are appended in the order they are received, so their ids follow received_ms:
  // pruning finds its cutoff by id, and the hot insert maintains no time index.
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

  CREATE TABLE claims (
    dedupe_key TEXT PRIMARY KEY,
    expires_ms INTEGER NOT NULL
  ) WITHOUT ROWID;

  CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
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
  CREATE INDEX deliveries_account ON deliveries (account_id, id);

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
  // 3: the ad-ops catalog. Ids never repeat (AUTOINCREMENT): report rows and scoped keys keep
  // pointing at what they meant. Composite foreign keys make every reference stay inside its
  // account and its parent (a tracker's line item belongs to its advertiser, its placement and
  // payment rule to its publisher). `catalog_version` is bumped by every catalog write.
  `
  CREATE TABLE catalog_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
  );
  INSERT INTO catalog_version (id, version) VALUES (1, 0);

  CREATE TABLE advertisers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (account_id, id)
  );

  CREATE TABLE line_items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    advertiser_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    revenue_type TEXT NOT NULL,
    revenue_value_micros INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (advertiser_id, id),
    FOREIGN KEY (account_id, advertiser_id) REFERENCES advertisers (account_id, id)
  );
  CREATE INDEX line_items_account ON line_items (account_id, id);

  CREATE TABLE publishers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    external_id TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (account_id, id)
  );
  CREATE UNIQUE INDEX publishers_external_id ON publishers (account_id, external_id) WHERE external_id IS NOT NULL;

  CREATE TABLE placements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    publisher_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (publisher_id, id),
    FOREIGN KEY (account_id, publisher_id) REFERENCES publishers (account_id, id)
  );
  CREATE INDEX placements_account ON placements (account_id, id);

  CREATE TABLE payment_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    publisher_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    pricing_type TEXT NOT NULL,
    revshare_micros INTEGER,
    cost_cpm_micros INTEGER,
    apply_cost_on_default INTEGER NOT NULL,
    max_revshare_micros INTEGER,
    target_ecpm_micros INTEGER,
    priority INTEGER NOT NULL,
    is_base INTEGER NOT NULL,
    state TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (publisher_id, id),
    FOREIGN KEY (account_id, publisher_id) REFERENCES publishers (account_id, id)
  );
  CREATE INDEX payment_rules_account ON payment_rules (account_id, id);
  CREATE UNIQUE INDEX payment_rules_base ON payment_rules (publisher_id) WHERE is_base = 1;

  CREATE TABLE payment_rule_placements (
    payment_rule_id INTEGER NOT NULL,
    placement_id INTEGER NOT NULL,
    publisher_id INTEGER NOT NULL,
    PRIMARY KEY (payment_rule_id, placement_id),
    FOREIGN KEY (publisher_id, payment_rule_id) REFERENCES payment_rules (publisher_id, id) ON DELETE CASCADE,
    FOREIGN KEY (publisher_id, placement_id) REFERENCES placements (publisher_id, id)
  ) WITHOUT ROWID;
  CREATE INDEX payment_rule_placements_placement ON payment_rule_placements (placement_id);

  CREATE TABLE trackers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('impression', 'click')),
    advertiser_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    code TEXT,
    line_item_id INTEGER NOT NULL,
    publisher_id INTEGER NOT NULL,
    placement_id INTEGER,
    payment_rule_id INTEGER,
    state TEXT NOT NULL,
    click_url TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    FOREIGN KEY (account_id, advertiser_id) REFERENCES advertisers (account_id, id),
    FOREIGN KEY (advertiser_id, line_item_id) REFERENCES line_items (advertiser_id, id),
    FOREIGN KEY (account_id, publisher_id) REFERENCES publishers (account_id, id),
    FOREIGN KEY (publisher_id, placement_id) REFERENCES placements (publisher_id, id),
    FOREIGN KEY (publisher_id, payment_rule_id) REFERENCES payment_rules (publisher_id, id)
  );
  CREATE INDEX trackers_account ON trackers (account_id, id);
  CREATE INDEX trackers_advertiser ON trackers (advertiser_id);
  CREATE INDEX trackers_line_item ON trackers (line_item_id);
  CREATE INDEX trackers_publisher ON trackers (publisher_id);
  CREATE INDEX trackers_placement ON trackers (placement_id) WHERE placement_id IS NOT NULL;
  CREATE INDEX trackers_payment_rule ON trackers (payment_rule_id) WHERE payment_rule_id IS NOT NULL;
  CREATE UNIQUE INDEX trackers_code ON trackers (account_id, kind, code) WHERE code IS NOT NULL;

  CREATE TABLE redirect_allowlists (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id),
    enabled INTEGER NOT NULL,
    domains TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
  );
  `,
  // 4: dedupe claims live in memory (see claim-index.ts), rebuilt when the ledger opens from the
  // counted events that hold them: each event keeps its claim's expiry, indexed so that the live
  // ones are found without a scan. Claims already made move onto their events.
  `
  ALTER TABLE events ADD COLUMN claim_expires_ms INTEGER NOT NULL DEFAULT 0;
  UPDATE events SET claim_expires_ms = COALESCE(
      (SELECT expires_ms FROM claims WHERE claims.dedupe_key = events.dedupe_key), 0)
    WHERE outcome = 'counted' AND dedupe_key IS NOT NULL;
  CREATE INDEX events_claims ON events (claim_expires_ms) WHERE claim_expires_ms > 0;
  DROP TABLE claims;
  `,
  // 5: pruning resumes where it stopped. Counted events are kept for good, so each pass deletes
  // the raw events of a window of ids (from the last pass's end to the retention cutoff) instead
  // of scanning every billing record ever kept.
  `
  CREATE TABLE prune_progress (events_below_id INTEGER NOT NULL);
  INSERT INTO prune_progress (events_below_id) VALUES (0);
  `,
  // 6: an account's deliveries of one status, newest first, found through an index (listing the
  // few dead ones no longer walks every delivery the account has).
  `
  CREATE INDEX deliveries_account_status ON deliveries (account_id, status, id);
  `,
  // 7: an account's rollups over a range of hours, found through an index: the table's key starts
  // with the hour, so a report of one account otherwise reads every account's rows of those hours.
  `
  CREATE INDEX rollup_hourly_account ON rollup_hourly (account_id, hour_ms);
  `,
  // 8: an event row holds only what differs from one impression to the next; what many share
  // (account, outcome, format, seat, publisher, tracker…) is stored once in event_dims and named
  // by id. The hot insert binds 13 values instead of 30 (about 2 µs less a notice). dims_id has no
  // foreign key, which would cost every insert a lookup: the ledger names only dims rows that
  // committed. The view "events" has the columns and rows the table had, for every reader.
  `
  CREATE TABLE event_dims (
    id INTEGER PRIMARY KEY,
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    UNIQUE (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher, advertiser_id,
      line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule)
  );
  CREATE TABLE event_rows (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    served_hour_ms INTEGER NOT NULL,
    dims_id INTEGER NOT NULL,
    auction_id TEXT NOT NULL,
    imp_id TEXT NOT NULL,
    bid_id TEXT NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    device_ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    dedupe_key TEXT,
    claim_expires_ms INTEGER NOT NULL DEFAULT 0
  );
  INSERT INTO event_dims (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
      advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule)
    SELECT DISTINCT account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
      advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule
    FROM events;
  INSERT INTO event_rows (id, received_ms, served_hour_ms, dims_id, auction_id, imp_id, bid_id, price_micros, media_cost_micros,
    revenue_micros, device_ip, user_agent, dedupe_key, claim_expires_ms)
    SELECT e.id, e.received_ms, e.served_hour_ms, d.id, e.auction_id, e.imp_id, e.bid_id, e.price_micros,
      e.media_cost_micros, e.revenue_micros, e.device_ip, e.user_agent, e.dedupe_key, e.claim_expires_ms
    FROM events e JOIN event_dims d USING (account_id, outcome, reason, impression_type, format, channel, method, seat,
      publisher, advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
      currency, ivt_rule);
  DROP TABLE events;
  CREATE INDEX event_rows_claims ON event_rows (claim_expires_ms) WHERE claim_expires_ms > 0;
  CREATE VIEW events AS
    SELECT r.id, r.received_ms, r.served_hour_ms, d.account_id, d.impression_type, d.outcome, d.reason, d.ivt_rule,
      d.kind, d.format, d.channel, d.method, d.seat, d.publisher, r.auction_id, r.imp_id, r.bid_id, d.currency,
      d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id, d.cachebuster_missing,
      r.price_micros, r.media_cost_micros, r.revenue_micros, r.device_ip, r.user_agent, r.dedupe_key,
      r.claim_expires_ms
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id;
  `,
  // 9: impression dedupe keys escape the exchange's ids (a backslash is written as two, U+001F as
  // a backslash and "s"): joined as they were, ids holding U+001F could give two impressions one
  // key, and the second would have been a false duplicate. Keys whose ids hold neither are
  // unchanged; the others are rewritten from the ids (on the counted event's delivery too), so
  // that claims made before the upgrade still match the notices that follow it.
  `
  CREATE TEMP TABLE rekeyed AS
    SELECT r.id, r.dedupe_key AS old_key, r.claim_expires_ms,
      'x' || char(31) || d.account_id || char(31) || ${escaped('r.auction_id')} || char(31) || ${escaped('r.imp_id')} ||
      char(31) || ${escaped('r.bid_id')} || char(31) || ${escaped('d.seat')} AS new_key
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id
    WHERE substr(r.dedupe_key, 1, 2) = 'x' || char(31)
      AND (instr(r.auction_id || r.imp_id || r.bid_id || d.seat, '\\') > 0
        OR instr(r.auction_id || r.imp_id || r.bid_id || d.seat, char(31)) > 0);
  -- In two steps: a new key may be a key another delivery still holds until it is rewritten.
  UPDATE deliveries SET dedupe_key = 'rekeyed:' || k.new_key FROM rekeyed k
    WHERE k.claim_expires_ms > 0 AND deliveries.dedupe_key = k.old_key;
  UPDATE deliveries SET dedupe_key = substr(dedupe_key, 9) WHERE dedupe_key GLOB 'rekeyed:*';
  UPDATE event_rows SET dedupe_key = k.new_key FROM rekeyed k WHERE event_rows.id = k.id;
  DROP TABLE rekeyed;
  `,
  // 10: the hourly rollups keep the currency of the amounts they add up, so that a report never
  // adds EUR to USD (groupBy=currency splits them). Rows that did not count carry no money and
  // no currency (''). The counted rows are rebuilt from the counted events, which are billing
  // records and never pruned, each in its own currency; the others are kept as they are.
  `
  CREATE TABLE rollup_hourly_by_currency (
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
    currency TEXT NOT NULL,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, currency)
  ) WITHOUT ROWID;
  INSERT INTO rollup_hourly_by_currency
    SELECT hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
    advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, '', events, price_micros, media_cost_micros, revenue_micros
    FROM rollup_hourly WHERE outcome <> 'counted';
  INSERT INTO rollup_hourly_by_currency
    SELECT r.served_hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel, d.method,
      d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id,
      d.cachebuster_missing, d.currency, COUNT(*), SUM(r.price_micros), SUM(r.media_cost_micros), SUM(r.revenue_micros)
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id
    WHERE d.outcome = 'counted'
    GROUP BY r.served_hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel, d.method,
      d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id,
      d.cachebuster_missing, d.currency;
  DROP TABLE rollup_hourly;
  ALTER TABLE rollup_hourly_by_currency RENAME TO rollup_hourly;
  CREATE INDEX rollup_hourly_account ON rollup_hourly (account_id, hour_ms);
  `,
  // 11: the key list showed 12 characters of an operator's TALLY_ADMIN_KEY as its prefix (as much
  // as 75 % of a 16-character key); it now shows 4, as a key stored from now on does.
  `
  UPDATE api_keys SET prefix = substr(prefix, 1, 4) WHERE name = 'TALLY_ADMIN_KEY';
  `,
  // 12: whether the data directory's token key file was ever made or read for this ledger: one
  // found missing afterwards was lost (a tally.db restored without it), and is not made anew.
  `
  CREATE TABLE token_key_file (remembered_ms INTEGER NOT NULL);
  `,
  // 13: each delivery keeps the host it calls, so that the relay leases each host's deliveries
  // through an index, up to its limit of calls in flight to one host, and a DSP that never answers
  // cannot hold every call. Delivered ones are never called again, and keep none.
  `
  ALTER TABLE deliveries ADD COLUMN host TEXT NOT NULL DEFAULT '';
  UPDATE deliveries SET host = ${DELIVERY_HOST_SQL} WHERE status != 'delivered';
  CREATE INDEX deliveries_host_due ON deliveries (host, due_ms) WHERE status = 'pending';
  `,
  // 14: the hourly rollups keep which notice each event was (its kind: adm, vast, burl, loaded,
  // vast_error…), so that a report tells the notice that counted from the others the same win's
  // markup fired, where the counting method is the same for all. The counted rows are rebuilt from
  // the counted events, billing records never pruned; the others keep an empty kind, as the raw
  // events of some of them are pruned.
  `
  CREATE TABLE rollup_hourly_by_kind (
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
                 currency)
  ) WITHOUT ROWID;
  INSERT INTO rollup_hourly_by_kind
    SELECT hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
    advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, '', currency,
    events, price_micros, media_cost_micros, revenue_micros
    FROM rollup_hourly WHERE outcome <> 'counted';
  INSERT INTO rollup_hourly_by_kind
    SELECT r.served_hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel, d.method,
      d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id,
      d.cachebuster_missing, d.kind, d.currency, COUNT(*), SUM(r.price_micros), SUM(r.media_cost_micros),
      SUM(r.revenue_micros)
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id
    WHERE d.outcome = 'counted'
    GROUP BY r.served_hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel, d.method,
      d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id,
      d.cachebuster_missing, d.kind, d.currency;
  DROP TABLE rollup_hourly;
  ALTER TABLE rollup_hourly_by_kind RENAME TO rollup_hourly;
  CREATE INDEX rollup_hourly_account ON rollup_hourly (account_id, hour_ms);
  `,
  // 15: the key that signed tokens at the last start (its id, a fingerprint of it, since when), so
  // that a start whose keys lack it (TALLY_TOKEN_KEYS dropped in a redeploy, or set where the key
  // file served) says that the tokens in flight it sealed no longer open.
  `
  CREATE TABLE signing_key (key_id INTEGER NOT NULL, fingerprint TEXT NOT NULL, since_ms INTEGER NOT NULL);
  `,
  // 16: the hourly rollups keep which invalid-traffic rule an event matched (head_request,
  // bot_user_agent, blocked_ip…), so that a report says why traffic was invalid. The invalid
  // traffic whose raw events are still kept (for the retention) is moved to its rules' rows; the
  // rest, pruned or recorded before migration 14 kept notice kinds, keeps an empty rule.
  `
  CREATE TABLE rollup_hourly_by_rule (
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
                 currency, ivt_rule)
  ) WITHOUT ROWID;
  INSERT INTO rollup_hourly_by_rule
    SELECT hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
    advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, '',
    events, price_micros, media_cost_micros, revenue_micros
    FROM rollup_hourly;
  CREATE TEMP TABLE kept_rules AS
    SELECT r.served_hour_ms AS hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel,
      d.method, d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id,
      d.payment_rule_id, d.cachebuster_missing, d.kind, d.ivt_rule, COUNT(*) AS events
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id
    WHERE d.reason = 'invalid_traffic' AND d.ivt_rule <> ''
    GROUP BY r.served_hour_ms, d.account_id, d.outcome, d.reason, d.impression_type, d.format, d.channel,
      d.method, d.seat, d.publisher, d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id,
      d.payment_rule_id, d.cachebuster_missing, d.kind, d.ivt_rule;
  INSERT INTO rollup_hourly_by_rule
    SELECT k.hour_ms, k.account_id, k.outcome, k.reason, k.impression_type, k.format, k.channel, k.method, k.seat,
      k.publisher, k.advertiser_id, k.line_item_id, k.tracker_id, k.placement_id, k.payment_rule_id,
      k.cachebuster_missing, k.kind, '', k.ivt_rule, k.events, 0, 0, 0
    FROM kept_rules k
    -- Only where the row the events are taken from holds them all: a row written before the
    -- notice kind was kept (migration 14) holds events whose raw rows name a kind.
    WHERE (SELECT SUM(all_rules.events) FROM kept_rules all_rules
        WHERE (all_rules.hour_ms, all_rules.account_id, all_rules.outcome, all_rules.reason,
          all_rules.impression_type, all_rules.format, all_rules.channel, all_rules.method, all_rules.seat,
          all_rules.publisher, all_rules.advertiser_id, all_rules.line_item_id, all_rules.tracker_id,
          all_rules.placement_id, all_rules.payment_rule_id, all_rules.cachebuster_missing, all_rules.kind)
        = (k.hour_ms, k.account_id, k.outcome, k.reason, k.impression_type, k.format, k.channel, k.method, k.seat,
          k.publisher, k.advertiser_id, k.line_item_id, k.tracker_id, k.placement_id, k.payment_rule_id,
          k.cachebuster_missing, k.kind))
      <= (SELECT t.events FROM rollup_hourly_by_rule t
        WHERE t.ivt_rule = '' AND t.currency = '' AND (t.hour_ms, t.account_id, t.outcome, t.reason,
          t.impression_type, t.format, t.channel, t.method, t.seat, t.publisher, t.advertiser_id, t.line_item_id,
          t.tracker_id, t.placement_id, t.payment_rule_id, t.cachebuster_missing, t.kind)
        = (k.hour_ms, k.account_id, k.outcome, k.reason, k.impression_type, k.format, k.channel, k.method, k.seat,
          k.publisher, k.advertiser_id, k.line_item_id, k.tracker_id, k.placement_id, k.payment_rule_id,
          k.cachebuster_missing, k.kind));
  DROP TABLE kept_rules;
  UPDATE rollup_hourly_by_rule AS o SET events = events - (SELECT COALESCE(SUM(n.events), 0)
      FROM rollup_hourly_by_rule n
      WHERE n.ivt_rule <> '' AND n.currency = '' AND (n.hour_ms, n.account_id, n.outcome, n.reason,
        n.impression_type, n.format, n.channel, n.method, n.seat, n.publisher, n.advertiser_id, n.line_item_id,
        n.tracker_id, n.placement_id, n.payment_rule_id, n.cachebuster_missing, n.kind)
      = (o.hour_ms, o.account_id, o.outcome, o.reason, o.impression_type, o.format, o.channel, o.method, o.seat,
        o.publisher, o.advertiser_id, o.line_item_id, o.tracker_id, o.placement_id, o.payment_rule_id,
        o.cachebuster_missing, o.kind))
    WHERE o.ivt_rule = '' AND o.currency = '' AND o.reason = 'invalid_traffic';
  DELETE FROM rollup_hourly_by_rule WHERE ivt_rule = '' AND reason = 'invalid_traffic' AND events = 0;
  DROP TABLE rollup_hourly;
  ALTER TABLE rollup_hourly_by_rule RENAME TO rollup_hourly;
  CREATE INDEX rollup_hourly_account ON rollup_hourly (account_id, hour_ms);
  `,
  // 17: the longest TTL the servers of this ledger were started with, which bounds how long after
  // its auction any win registered since may count: a list of the impressions served in a window
  // reads the rows counted up to that long after it, however the rules were shortened since.
  `
  CREATE TABLE ttl_ceiling (seconds INTEGER NOT NULL);
  INSERT INTO ttl_ceiling (seconds) VALUES (0);
  `,
  // 18: each delivery keeps the seat (SeatBid.seat) of the impression it bills, indexed with its
  // account and status, so that a seat's deliveries are listed through an index, as an auction's
  // are through the dedupe keys', rather than read out of every key of the account. A delivery
  // already kept takes the seat from its key, the last of its ids (see impressionKey), unescaped;
  // one keyed otherwise keeps ''.
  `
  ALTER TABLE deliveries ADD COLUMN seat TEXT NOT NULL DEFAULT '';
  UPDATE deliveries SET seat = ${unescaped(`substr(dedupe_key, length(rtrim(dedupe_key, replace(dedupe_key, char(31), ''))) + 1)`)}
    WHERE substr(dedupe_key, 1, 2) = 'x' || char(31)
      AND length(dedupe_key) - length(replace(dedupe_key, char(31), '')) = 5;
  CREATE INDEX deliveries_account_seat ON deliveries (account_id, seat, status, id);
  `,
  // 19: who fires a tracker's hits, the notifier they are screened as: 'browser' (a tag on a web
  // page) or 'app' (a video player, an app's SDK, a CTV device, an SSAI server). Trackers stored
  // before it are fired by browsers, as they were all screened until then.
  `
  ALTER TABLE trackers ADD COLUMN fired_by TEXT NOT NULL DEFAULT 'browser' CHECK (fired_by IN ('browser', 'app'));
  `,
  // 20: a VAST error notice keeps the error code its player reported (`e`, 100 to 999; 0 for none),
  // among its event's dims and in the hourly rollups, so that a report groups and filters by it
  // (vastError) without reading raw events. What was recorded before keeps no code: none was kept.
  // event_dims is rebuilt, its rows keeping their ids (which the events name), for the code to join
  // its unique key; the events view shows no code as NULL.
  `
  DROP VIEW events;
  CREATE TABLE event_dims_by_code (
    id INTEGER PRIMARY KEY,
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    vast_error INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account_id, outcome, reason, impression_type, format, channel, method, seat, publisher, advertiser_id,
      line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule,
      vast_error)
  );
  INSERT INTO event_dims_by_code
    SELECT id, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher, advertiser_id,
      line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency, ivt_rule, 0
    FROM event_dims;
  DROP TABLE event_dims;
  ALTER TABLE event_dims_by_code RENAME TO event_dims;
  CREATE VIEW events AS
    SELECT r.id, r.received_ms, r.served_hour_ms, d.account_id, d.impression_type, d.outcome, d.reason, d.ivt_rule,
      d.kind, d.format, d.channel, d.method, d.seat, d.publisher, r.auction_id, r.imp_id, r.bid_id, d.currency,
      d.advertiser_id, d.line_item_id, d.tracker_id, d.placement_id, d.payment_rule_id, d.cachebuster_missing,
      r.price_micros, r.media_cost_micros, r.revenue_micros, r.device_ip, r.user_agent, r.dedupe_key,
      r.claim_expires_ms, NULLIF(d.vast_error, 0) AS vast_error
    FROM event_rows r JOIN event_dims d ON d.id = r.dims_id;
  CREATE TABLE rollup_hourly_by_code (
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    vast_error INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
                 currency, ivt_rule, vast_error)
  ) WITHOUT ROWID;
  INSERT INTO rollup_hourly_by_code
    SELECT hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
      advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency,
      ivt_rule, 0, events, price_micros, media_cost_micros, revenue_micros
    FROM rollup_hourly;
  DROP TABLE rollup_hourly;
  ALTER TABLE rollup_hourly_by_code RENAME TO rollup_hourly;
  CREATE INDEX rollup_hourly_account ON rollup_hourly (account_id, hour_ms);
  `,
  // 21: each delivery keeps when its first failed call began, which the relay's first minute of
  // retries every TALLY_BURL_RETRY_SECONDS is timed from (it counted attempts before). A delivery
  // already retrying is taken to have failed first when it was queued.
  `
  ALTER TABLE deliveries ADD COLUMN first_failed_ms INTEGER;
  UPDATE deliveries SET first_failed_ms = created_ms WHERE status = 'pending' AND attempts > 0;
  `,
  // 22: the hourly rollups keyed by account, then hour: a report reads its account's rows of its
  // window as one range of the table, rather than finding them through the (account, hour) index
  // and looking each up in the table, and a rollup upsert writes one B-tree rather than two.
  `
  CREATE TABLE rollup_hourly_by_account (
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
    kind TEXT NOT NULL,
    currency TEXT NOT NULL,
    ivt_rule TEXT NOT NULL,
    vast_error INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL,
    price_micros INTEGER NOT NULL,
    media_cost_micros INTEGER NOT NULL,
    revenue_micros INTEGER NOT NULL,
    PRIMARY KEY (account_id, hour_ms, outcome, reason, impression_type, format, channel, method, seat, publisher,
                 advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind,
                 currency, ivt_rule, vast_error)
  ) WITHOUT ROWID;
  INSERT INTO rollup_hourly_by_account
    SELECT hour_ms, account_id, outcome, reason, impression_type, format, channel, method, seat, publisher,
      advertiser_id, line_item_id, tracker_id, placement_id, payment_rule_id, cachebuster_missing, kind, currency,
      ivt_rule, vast_error, events, price_micros, media_cost_micros, revenue_micros
    FROM rollup_hourly;
  DROP TABLE rollup_hourly;
  ALTER TABLE rollup_hourly_by_account RENAME TO rollup_hourly;
  `,
];

/** SQL writing the id `column` as `impressionKey` writes it in a dedupe key. */
function escaped(column: string): string {
  return `replace(replace(${column}, '\\', '\\\\'), char(31), '\\s')`;
}

/**
 * SQL reading back an id `escaped` wrote. Its `\\` become `\b` (a pair it never holds), so that
 * every backslash then begins a pair of its own: `\s` is U+001F, then `\b` is a backslash.
 */
function unescaped(part: string): string {
  return `replace(replace(replace(${part}, '\\\\', '\\b'), '\\s', char(31)), '\\b', '\\')`;
}
