import type { Ledger } from '../../src/ports/ledger.js';

/**
 * `ledger` as its users see it, the `Ledger` port, with the methods of `overrides` in place of its
 * own (a write that fails: a fault injected at the port); every other method is `ledger`'s, and
 * `ledger` itself is left as it was.
 */
export function ledgerWith(ledger: Ledger, overrides: Partial<Ledger>): Ledger {
  return new Proxy(ledger, {
    get(target, property) {
      if (Object.hasOwn(overrides, property)) return Reflect.get(overrides, property) as unknown;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
