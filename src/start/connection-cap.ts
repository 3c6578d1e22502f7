import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Metrics } from '../lib/metrics.js';

/** Connections closed at once, unanswered, because `TALLY_MAX_CONNECTIONS` were open. */
export const DROPPED_CONNECTIONS_METRIC = {
  name: 'tally_connections_dropped_total',
  help: 'Connections closed as they were accepted, unanswered, because TALLY_MAX_CONNECTIONS were open',
} as const;

/**
 * Caps the connections `server` holds open at once at `maxConnections`
 * (`TALLY_MAX_CONNECTIONS`): past it node:http closes a new connection as it accepts it, before
 * any listener (the notice lane's included) sees it, and emits `drop`, counted in
 * {@link DROPPED_CONNECTIONS_METRIC}. Shows the connections open as `tally_connections_open`,
 * counted as they open and close (rather than `server.getConnections`, which answers through a
 * callback). Call after the notice lane is installed, which must be the first `connection`
 * listener.
 */
export function capConnections(server: Server, maxConnections: number, metrics: Metrics): void {
  server.maxConnections = maxConnections;
  metrics.inc(DROPPED_CONNECTIONS_METRIC.name, DROPPED_CONNECTIONS_METRIC.help, {}, 0);
  server.on('drop', () => metrics.inc(DROPPED_CONNECTIONS_METRIC.name, DROPPED_CONNECTIONS_METRIC.help));
  let open = 0;
  const closed = (): void => {
    open--;
  };
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', closed);
  });
  metrics.gauge(
    'tally_connections_open',
    'Connections open, served by the notice lane or node:http; at TALLY_MAX_CONNECTIONS a new one is closed unanswered (tally_connections_dropped_total)',
    () => open,
  );
}
