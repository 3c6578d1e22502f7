import type { Config } from '../config.js';
import { answerWhileStarting } from '../control/starting-answer.js';
import { errorCode } from '../lib/error-code.js';
import { holdPort } from '../lib/held-port.js';
import type { HeldPort } from '../lib/held-port.js';

/**
 * Binds the port the configuration names and holds it, answering requests as Tally starting
 * (see `answerWhileStarting`) until the server takes it over; throws a {@link ListenError}.
 */
export async function holdConfiguredPort(
  config: Pick<Config, 'port' | 'host' | 'maxConnections'>,
): Promise<HeldPort> {
  try {
    return await holdPort(config.port, config.host, answerWhileStarting, config.maxConnections);
  } catch (error) {
    throw new ListenError(config, error);
  }
}

/** The server could not listen where the configuration says; its message says what to change. */
export class ListenError extends Error {
  constructor(config: Pick<Config, 'port' | 'host'>, cause: unknown) {
    super(listenFailure(config, errorCode(cause), String(cause)), { cause });
    this.name = 'ListenError';
  }
}

function listenFailure(
  config: Pick<Config, 'port' | 'host'>,
  code: string | undefined,
  detail: string,
): string {
  switch (code) {
    case 'EADDRINUSE':
      return `port ${config.port} is already in use: set TALLY_PORT to a free port`;
    case 'EACCES':
      return `port ${config.port} needs privileges this process does not have: set TALLY_PORT to 1024 or above`;
    case 'EADDRNOTAVAIL':
      return `${config.host} is not an address of this machine: set TALLY_HOST to one of its addresses, or 0.0.0.0`;
    default:
      return `cannot listen on ${config.host} port ${config.port} (${detail}): check TALLY_HOST and TALLY_PORT`;
  }
}
