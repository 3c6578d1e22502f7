import type { Config } from '../config.js';
import { WinThreads } from '../control/win-thread/win-thread.js';
import type { KeyRing } from '../domain/token.js';
import { threadKeys } from '../thread-keys.js';

/** The threads that register wins, not yet started, sealing with `keyRing` under the configured rules. */
export function winThreads(config: Config, keyRing: KeyRing): WinThreads {
  return new WinThreads(
    {
      ...threadKeys(keyRing, config.priceKeys),
      publicUrl: config.publicUrl,
      rules: [...config.rules],
      burlPrivateNetworks: config.burlPrivateNetworks,
    },
    { threads: config.winThreads },
  );
}
