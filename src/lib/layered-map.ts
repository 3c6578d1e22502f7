/** Marks a key deleted in an overlay. */
const GONE: unique symbol = Symbol('gone');

/** Overlays at most this many entries, or the square root of the base's size if larger, before folding. */
const MIN_OVERLAY_ENTRIES = 64;

/**
 * An immutable map whose versions share their bulk: a change copies only a small overlay of the
 * entries changed since the base was last rebuilt, and folds it into a new base once it grows
 * past about the square root of the base's size. A change to one entry of a map of n entries
 * thus costs O(√n) amortised instead of the O(n) of copying the map, and every older version
 * keeps answering what it answered.
 */
export class LayeredMap<K, V> {
  private constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly overlay: ReadonlyMap<K, V | typeof GONE>,
  ) {}

  /** A map of these entries. */
  static of<K, V>(entries: Iterable<readonly [K, V]>): LayeredMap<K, V> {
    return new LayeredMap<K, V>(new Map(entries), new Map());
  }

  get(key: K): V | undefined {
    if (!this.overlay.has(key)) return this.base.get(key);
    const changed = this.overlay.get(key);
    return changed === GONE ? undefined : changed;
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<V> {
    for (const [key, value] of this.base) if (!this.overlay.has(key)) yield value;
    for (const value of this.overlay.values()) if (value !== GONE) yield value;
  }

  /** A new version with these entries set, or deleted where the value is `undefined`. */
  with(changes: Iterable<readonly [K, V | undefined]>): LayeredMap<K, V> {
    const overlay = new Map(this.overlay);
    for (const [key, value] of changes) overlay.set(key, value === undefined ? GONE : value);
    if (overlay.size <= Math.max(MIN_OVERLAY_ENTRIES, Math.sqrt(this.base.size))) {
      return new LayeredMap<K, V>(this.base, overlay);
    }
    const base = new Map(this.base);
    for (const [key, value] of overlay) {
      if (value === GONE) base.delete(key);
      else base.set(key, value);
    }
    return new LayeredMap<K, V>(base, new Map());
  }
}
