import type { Logger } from './lib/log.js';
import { OPERATOR_ACCOUNT_ID } from './ports/accounts.js';
import type {
  CatalogData,
  CatalogSource,
  CatalogView,
  LineItemView,
  PaymentRule,
  PaymentRuleView,
  TrackerKind,
  TrackerView,
} from './ports/catalog.js';

const DAY_MS = 86_400_000;
const DISABLED_ALLOWLIST = Object.freeze({ enabled: false, domains: Object.freeze([]) });
const NO_RULES: readonly PaymentRuleView[] = Object.freeze([]);

/** How the snapshot follows the catalog. */
export interface CatalogSnapshotOptions {
  /** How often to read the catalog version (one single-row read), e.g. 250. */
  pollIntervalMs: number;
}

/**
 * The catalog in memory, for the hot path: `current()` answers a frozen `CatalogView` at one
 * catalog version, with map lookups only.
 *
 * Contract:
 * - Writes made through the same `CatalogSource` instance are visible to the next
 *   `current()` call (the snapshot is marked stale at commit and rebuilt at the latest on
 *   that call; usually at once, off the request that wrote).
 * - Writes from anywhere else (another process on the same database, the CLI) are visible
 *   within `pollIntervalMs` plus one rebuild: the snapshot reads the catalog version every
 *   `pollIntervalMs` and rebuilds when it moved.
 * - A failed rebuild keeps the previous view (logged) and is retried at the next poll.
 * - A view never changes once returned; hold it for the length of one request.
 */
export class CatalogSnapshot {
  private view: CatalogView | undefined;
  private stale = false;
  private rebuildQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly source: CatalogSource,
    private readonly options: CatalogSnapshotOptions,
    private readonly log?: Logger,
  ) {}

  /** Builds the first view and starts following changes. */
  start(): void {
    if (this.timer !== undefined) return;
    this.rebuild();
    this.unsubscribe = this.source.subscribe(() => {
      this.stale = true;
      if (this.rebuildQueued) return;
      this.rebuildQueued = true;
      setImmediate(() => {
        this.rebuildQueued = false;
        if (this.stale) this.tryRebuild();
      });
    });
    this.timer = setInterval(() => this.poll(), this.options.pollIntervalMs);
    this.timer.unref();
  }

  /** Stops following changes; `current()` keeps answering the last view. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** The latest view. Builds it first when the snapshot was never built or is stale. */
  current(): CatalogView {
    if (this.view === undefined || this.stale) return this.rebuild();
    return this.view;
  }

  private poll(): void {
    try {
      if (this.view === undefined || this.source.version() !== this.view.version) this.rebuild();
    } catch (error) {
      this.log?.error('catalog_snapshot_failed', { error: String(error) });
    }
  }

  private tryRebuild(): void {
    try {
      this.rebuild();
    } catch (error) {
      this.log?.error('catalog_snapshot_failed', { error: String(error) });
    }
  }

  private rebuild(): CatalogView {
    this.stale = false;
    const view = buildView(this.source.load());
    this.view = view;
    return view;
  }
}

/** Builds the frozen lookup structures of one catalog version. */
export function buildView(data: CatalogData): CatalogView {
  const lineItems = new Map<number, LineItemView>();
  for (const item of data.lineItems) {
    lineItems.set(
      item.id,
      Object.freeze({
        id: item.id,
        advertiserId: item.advertiserId,
        revenueType: item.revenueType,
        revenueValueMicros: item.revenueValueMicros,
        state: item.state,
      }),
    );
  }

  const rules = new Map<number, PaymentRuleView>();
  const rulesByPublisher = new Map<number, PaymentRuleView[]>();
  for (const rule of data.paymentRules) {
    const view = ruleView(rule);
    rules.set(rule.id, view);
    const list = rulesByPublisher.get(rule.publisherId) ?? [];
    list.push(view);
    rulesByPublisher.set(rule.publisherId, list);
  }
  const ordered = new Map<number, readonly PaymentRuleView[]>();
  for (const [publisherId, list] of rulesByPublisher) {
    const conditional = list
      .filter((rule) => !rule.isBase && rule.state === 'active')
      .sort((a, b) => b.priority - a.priority || a.id - b.id);
    ordered.set(publisherId, Object.freeze([...conditional, ...list.filter((rule) => rule.isBase)]));
  }

  const byId = new Map<number, TrackerView>();
  const byCode = new Map<string, TrackerView[]>();
  for (const tracker of data.trackers) {
    const lineItem = lineItems.get(tracker.lineItemId);
    if (lineItem === undefined) continue;
    const view: TrackerView = Object.freeze({
      id: tracker.id,
      kind: tracker.kind,
      accountId: tracker.accountId,
      code: tracker.code,
      state: tracker.state,
      advertiserId: tracker.advertiserId,
      lineItem,
      publisherId: tracker.publisherId,
      placementId: tracker.placementId,
      paymentRule: tracker.paymentRuleId === null ? null : (rules.get(tracker.paymentRuleId) ?? null),
      publisherPaymentRules: ordered.get(tracker.publisherId) ?? NO_RULES,
      clickUrl: tracker.clickUrl,
    });
    byId.set(view.id, view);
    if (view.code !== null) {
      const key = codeKey(view.kind, view.code);
      byCode.set(key, [...(byCode.get(key) ?? []), view]);
    }
  }

  const allowlists = new Map<number, ReturnType<CatalogView['redirectAllowlist']>>();
  for (const [accountId, allowlist] of data.redirectAllowlists) {
    allowlists.set(
      accountId,
      Object.freeze({ enabled: allowlist.enabled, domains: Object.freeze([...allowlist.domains]) }),
    );
  }

  return Object.freeze({
    version: data.version,
    findTracker(kind: TrackerKind, by: { id: number } | { code: string; accountId?: number }) {
      if ('id' in by) {
        const tracker = byId.get(by.id);
        return tracker?.kind === kind ? tracker : undefined;
      }
      const candidates = byCode.get(codeKey(kind, by.code)) ?? [];
      const accountId = by.accountId ?? OPERATOR_ACCOUNT_ID;
      return candidates.find((tracker) => tracker.accountId === accountId);
    },
    redirectAllowlist: (accountId: number) => allowlists.get(accountId) ?? DISABLED_ALLOWLIST,
    paymentRules: (publisherId: number) => ordered.get(publisherId) ?? NO_RULES,
  });
}

function ruleView(rule: PaymentRule): PaymentRuleView {
  return Object.freeze({
    id: rule.id,
    publisherId: rule.publisherId,
    name: rule.name,
    pricingType: rule.pricingType,
    revshareMicros: rule.revshareMicros ?? 0,
    costCpmMicros: rule.costCpmMicros ?? 0,
    applyCostOnDefault: rule.applyCostOnDefault,
    maxRevshareMicros: rule.maxRevshareMicros ?? 0,
    targetEcpmMicros: rule.targetEcpmMicros ?? 0,
    priority: rule.priority,
    isBase: rule.isBase,
    state: rule.state,
    startMs: rule.startDate === null ? null : Date.parse(`${rule.startDate}T00:00:00Z`),
    endMs: rule.endDate === null ? null : Date.parse(`${rule.endDate}T00:00:00Z`) + DAY_MS,
    placementIds: Object.freeze([...rule.placementIds]),
  });
}

function codeKey(kind: TrackerKind, code: string): string {
  return `${kind}\n${code}`;
}
