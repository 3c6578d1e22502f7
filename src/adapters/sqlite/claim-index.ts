/** A dedupe key with its 64-bit fingerprint, computed once however often the key is looked up. */
export interface ClaimKey {
  key: string;
  high: number;
  low: number;
}

/**
 * The key and its fingerprint: two independent 32-bit hashes in one pass over the UTF-16 code
 * units (FNV-1a, and a multiplicative hash with another seed and multiplier), each with a final
 * avalanche.
 */
export function claimKey(key: string): ClaimKey {
  let high = 0x811c9dc5;
  let low = 0x9747b28c ^ key.length;
  for (let index = 0; index < key.length; index++) {
    const unit = key.charCodeAt(index);
    high = Math.imul(high ^ unit, 0x01000193);
    low = Math.imul(low ^ unit, 0x5bd1e995);
    low ^= low >>> 15;
  }
  return { key, high: avalanche(high), low: avalanche(low) };
}

/**
 * The live dedupe claims, in memory: an open-addressing hash table from a 64-bit fingerprint of
 * the dedupe key to the id of the event that claimed it and the claim's expiry. The durable claim
 * is that event row (its `dedupe_key` and `claim_expires_ms`); this index is rebuilt from them
 * when the ledger opens. A random key (auction ids are UUIDs) costs a B-tree on disk one page
 * write per claim; here it costs a few array reads, and the events are appended in id order.
 *
 * A fingerprint match is confirmed against the event's stored key, so two keys that share a
 * fingerprint are never taken for one another. Expired entries are skipped by lookups, reused by
 * inserts, and dropped when the table is replaced by one sized for the live claims.
 *
 * Replacing the table never stalls the counting thread: once the table is 40 % full its live
 * entries are counted a few slots at a time, with each `add`; then a table sized for them takes
 * the new claims while the old one's live entries move over, again a few slots per `add`, and
 * lookups read both until the move is done.
 */
export class ClaimIndex {
  private table: ClaimTable;
  private replacement: Replacement | undefined;

  constructor(initialCapacity = 1024) {
    this.table = new ClaimTable(nextPowerOfTwo(Math.max(initialCapacity, MIN_CAPACITY)));
  }

  /**
   * The id of the event holding a live claim on `key` at `nowMs` (one that has not expired
   * before `nowMs`), or 0. `keyOf` reads an event's stored dedupe key, to confirm a match.
   */
  find(key: ClaimKey, nowMs: number, keyOf: (eventId: number) => string | undefined): number {
    const found = this.table.find(key, nowMs, keyOf);
    if (found !== 0 || this.replacement?.phase !== 'moving') return found;
    return this.replacement.from.find(key, nowMs, keyOf);
  }

  /** Adds the claim of event `eventId` on `key`, live until `expiresMs` (inclusive). */
  add(key: ClaimKey, eventId: number, expiresMs: number, nowMs: number): void {
    this.step(nowMs);
    if (this.replacement === undefined && (this.table.used + 1) / this.table.capacity > START_REPLACING_AT) {
      this.replacement = { phase: 'counting', nextSlot: 0, live: 0, addsSince: 0 };
    }
    // A table filling faster than it is replaced (never with the sizes chosen here) is replaced
    // at once rather than let its probe chains grow long.
    while ((this.table.used + 1) / this.table.capacity > MAX_LOAD) {
      this.replacement ??= { phase: 'counting', nextSlot: 0, live: 0, addsSince: 0 };
      this.step(nowMs, Number.POSITIVE_INFINITY);
    }
    if (this.replacement?.phase === 'counting') this.replacement.addsSince++;
    this.table.insert(key.high, key.low, eventId, expiresMs, nowMs);
  }

  /** Live claims at `nowMs` (a full scan: for tests and metrics). */
  liveCount(nowMs: number): number {
    const moving = this.replacement?.phase === 'moving' ? this.replacement : undefined;
    let live = this.table.liveBetween(0, this.table.capacity, nowMs);
    if (moving !== undefined) live += moving.from.liveBetween(moving.nextSlot, moving.from.capacity, nowMs);
    return live;
  }

  /** The table's size in slots, the one being moved out of included (for tests and metrics). */
  slots(): number {
    return this.table.capacity + (this.replacement?.phase === 'moving' ? this.replacement.from.capacity : 0);
  }

  /** Counts or moves up to `budget` slots of the replacement under way, if any. */
  private step(nowMs: number, budget = STEP_SLOTS): void {
    const replacement = this.replacement;
    if (replacement === undefined) return;
    if (replacement.phase === 'counting') {
      const end = Math.min(this.table.capacity, replacement.nextSlot + budget);
      replacement.live += this.table.liveBetween(replacement.nextSlot, end, nowMs);
      replacement.nextSlot = end;
      if (end < this.table.capacity) return;
      // Claims added while counting may or may not have been counted: room for all of them.
      const expectedLive = replacement.live + replacement.addsSince;
      const from = this.table;
      this.table = new ClaimTable(nextPowerOfTwo(Math.max(MIN_CAPACITY, (expectedLive + 1) * GROWTH)));
      // Moved fast enough to be done before the new table is 40 % full with new claims.
      const addsBeforeFull = Math.max(1, Math.floor(this.table.capacity * START_REPLACING_AT) - expectedLive);
      this.replacement = {
        phase: 'moving',
        from,
        nextSlot: 0,
        slotsPerAdd: Math.max(STEP_SLOTS, Math.ceil(from.capacity / addsBeforeFull)),
      };
      return;
    }
    const from = replacement.from;
    const end = Math.min(from.capacity, replacement.nextSlot + Math.max(budget, replacement.slotsPerAdd));
    for (let slot = replacement.nextSlot; slot < end; slot++) {
      if (from.isLive(slot, nowMs)) this.table.copyFrom(from, slot, nowMs);
    }
    replacement.nextSlot = end;
    if (end === from.capacity) this.replacement = undefined;
  }
}

/** Past this share of used slots, the table starts being replaced. */
const START_REPLACING_AT = 0.4;
/** Linear probing stays quick below this; a table never goes past it. */
const MAX_LOAD = 0.5;
/** A new table has this many slots per live claim. */
const GROWTH = 4;
/** Slots counted (or, at least, moved) per `add` while a table is being replaced. */
const STEP_SLOTS = 16;
const MIN_CAPACITY = 16;

type Replacement =
  | { phase: 'counting'; nextSlot: number; live: number; addsSince: number }
  | { phase: 'moving'; from: ClaimTable; nextSlot: number; slotsPerAdd: number };

/** One open-addressing table with linear probing; event id 0 marks an empty slot. */
class ClaimTable {
  readonly hashHigh: Int32Array;
  readonly hashLow: Int32Array;
  /** 0 marks an empty slot (event ids start at 1). */
  readonly eventIds: Float64Array;
  readonly expiresMs: Float64Array;
  /** Slots that are not empty, expired ones included. */
  used = 0;
  private readonly mask: number;

  constructor(readonly capacity: number) {
    this.mask = capacity - 1;
    this.hashHigh = new Int32Array(capacity);
    this.hashLow = new Int32Array(capacity);
    this.eventIds = new Float64Array(capacity);
    this.expiresMs = new Float64Array(capacity);
  }

  find(key: ClaimKey, nowMs: number, keyOf: (eventId: number) => string | undefined): number {
    for (let slot = key.high & this.mask; ; slot = (slot + 1) & this.mask) {
      const eventId = this.eventIds[slot] ?? 0;
      if (eventId === 0) return 0;
      if (
        this.hashHigh[slot] === key.high &&
        this.hashLow[slot] === key.low &&
        (this.expiresMs[slot] ?? 0) >= nowMs &&
        keyOf(eventId) === key.key
      ) {
        return eventId;
      }
    }
  }

  /** Takes the first empty or expired slot along the probe chain. */
  insert(high: number, low: number, eventId: number, expiresMs: number, nowMs: number): void {
    let slot = high & this.mask;
    while ((this.eventIds[slot] ?? 0) !== 0 && (this.expiresMs[slot] ?? 0) >= nowMs) {
      slot = (slot + 1) & this.mask;
    }
    if ((this.eventIds[slot] ?? 0) === 0) this.used++;
    this.hashHigh[slot] = high;
    this.hashLow[slot] = low;
    this.eventIds[slot] = eventId;
    this.expiresMs[slot] = expiresMs;
  }

  copyFrom(other: ClaimTable, slot: number, nowMs: number): void {
    this.insert(
      other.hashHigh[slot] ?? 0,
      other.hashLow[slot] ?? 0,
      other.eventIds[slot] ?? 0,
      other.expiresMs[slot] ?? 0,
      nowMs,
    );
  }

  isLive(slot: number, nowMs: number): boolean {
    return (this.eventIds[slot] ?? 0) !== 0 && (this.expiresMs[slot] ?? 0) >= nowMs;
  }

  /** Live entries in slots `from` (inclusive) to `to` (exclusive). */
  liveBetween(from: number, to: number, nowMs: number): number {
    let live = 0;
    for (let slot = from; slot < to; slot++) if (this.isLive(slot, nowMs)) live++;
    return live;
  }
}

function nextPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(value));
}

/** Murmur3's finaliser: spreads every input bit over the output. */
function avalanche(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash;
}
