/**
 * The live dedupe claims, in memory: an open-addressing hash table from a 64-bit fingerprint of
 * the dedupe key to the id of the event that claimed it and the claim's expiry. The durable claim
 * is that event row (its `dedupe_key` and `claim_expires_ms`); this index is rebuilt from them
 * when the ledger opens. A random key (auction ids are UUIDs) costs a B-tree on disk one page
 * write per claim; here it costs a few array reads, and the events are appended in id order.
 *
 * A fingerprint match is confirmed against the event's stored key, so two keys that share a
 * fingerprint are never taken for one another. Expired entries are skipped by lookups, reused by
 * inserts, and dropped when the table is rebuilt at twice the live size.
 */
export class ClaimIndex {
  private capacity = 0;
  private hashHigh = new Int32Array(0);
  private hashLow = new Int32Array(0);
  /** 0 marks an empty slot (event ids start at 1). */
  private eventIds = new Float64Array(0);
  private expiresMs = new Float64Array(0);
  /** Slots that are not empty, expired ones included. */
  private used = 0;

  constructor(initialCapacity = 1024) {
    this.allocate(nextPowerOfTwo(Math.max(initialCapacity, 16)));
  }

  /**
   * The id of the event holding a live claim on `key` at `nowMs` (one that has not expired
   * before `nowMs`), or 0. `keyOf` reads an event's stored dedupe key, to confirm a match.
   */
  find(key: string, nowMs: number, keyOf: (eventId: number) => string | undefined): number {
    const high = fingerprintHigh(key);
    const low = fingerprintLow(key);
    for (let slot = high & (this.capacity - 1); ; slot = (slot + 1) & (this.capacity - 1)) {
      const eventId = this.eventIds[slot] ?? 0;
      if (eventId === 0) return 0;
      if (
        this.hashHigh[slot] === high &&
        this.hashLow[slot] === low &&
        (this.expiresMs[slot] ?? 0) >= nowMs &&
        keyOf(eventId) === key
      ) {
        return eventId;
      }
    }
  }

  /** Adds the claim of event `eventId` on `key`, live until `expiresMs` (inclusive). */
  add(key: string, eventId: number, expiresMs: number, nowMs: number): void {
    if ((this.used + 1) * 2 > this.capacity) this.rebuild(nowMs);
    const high = fingerprintHigh(key);
    let slot = high & (this.capacity - 1);
    while ((this.eventIds[slot] ?? 0) !== 0 && (this.expiresMs[slot] ?? 0) >= nowMs) {
      slot = (slot + 1) & (this.capacity - 1);
    }
    if ((this.eventIds[slot] ?? 0) === 0) this.used++;
    this.hashHigh[slot] = high;
    this.hashLow[slot] = fingerprintLow(key);
    this.eventIds[slot] = eventId;
    this.expiresMs[slot] = expiresMs;
  }

  /** Live claims at `nowMs` (a full scan: for tests and metrics). */
  liveCount(nowMs: number): number {
    let live = 0;
    for (let slot = 0; slot < this.capacity; slot++) {
      if ((this.eventIds[slot] ?? 0) !== 0 && (this.expiresMs[slot] ?? 0) >= nowMs) live++;
    }
    return live;
  }

  /** Re-inserts the live entries into a table with room for twice as many again. */
  private rebuild(nowMs: number): void {
    const old = {
      capacity: this.capacity,
      hashHigh: this.hashHigh,
      hashLow: this.hashLow,
      eventIds: this.eventIds,
      expiresMs: this.expiresMs,
    };
    const live = this.liveCount(nowMs);
    this.allocate(nextPowerOfTwo(Math.max(16, (live + 1) * 4)));
    for (let from = 0; from < old.capacity; from++) {
      const eventId = old.eventIds[from] ?? 0;
      const expiresMs = old.expiresMs[from] ?? 0;
      if (eventId === 0 || expiresMs < nowMs) continue;
      let slot = (old.hashHigh[from] ?? 0) & (this.capacity - 1);
      while ((this.eventIds[slot] ?? 0) !== 0) slot = (slot + 1) & (this.capacity - 1);
      this.hashHigh[slot] = old.hashHigh[from] ?? 0;
      this.hashLow[slot] = old.hashLow[from] ?? 0;
      this.eventIds[slot] = eventId;
      this.expiresMs[slot] = expiresMs;
      this.used++;
    }
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.hashHigh = new Int32Array(capacity);
    this.hashLow = new Int32Array(capacity);
    this.eventIds = new Float64Array(capacity);
    this.expiresMs = new Float64Array(capacity);
    this.used = 0;
  }
}

function nextPowerOfTwo(value: number): number {
  return 2 ** Math.ceil(Math.log2(value));
}

/** FNV-1a over the UTF-16 code units, with a final avalanche (32 bits). */
function fingerprintHigh(key: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < key.length; index++) {
    hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  }
  return avalanche(hash);
}

/** A second, independent 32 bits: a multiplicative hash with another seed and multiplier. */
function fingerprintLow(key: string): number {
  let hash = 0x9747b28c ^ key.length;
  for (let index = 0; index < key.length; index++) {
    hash = Math.imul(hash ^ key.charCodeAt(index), 0x5bd1e995);
    hash ^= hash >>> 15;
  }
  return avalanche(hash);
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
