// Run as a process of its own with a small heap (`--max-old-space-size`, which worker threads take
// too): asks a report thread on the ledger given as its argument (see `seatsLedger`) for its
// events of the hour of `T0` by seat, allowed every row, and prints how the report ended, as JSON.
import { ReportRefusedError, ReportThread } from '../../src/control/report-thread/report-thread.js';
import { hourStartMs } from '../../src/lib/time.js';
import { T0 } from './events.js';

const [dbPath = 'tally.db', maxRows = '0'] = process.argv.slice(2);
// The thread does not keep the process alive (it is unref'd): this does, until the report ended.
const alive = setInterval(() => {}, 1000);
const thread = new ReportThread(dbPath, 'tally-reports');
const hourMs = hourStartMs(T0);
let ended: unknown;
try {
  const body = await thread.report({
    query: { accountId: 1, fromMs: hourMs, toMs: hourMs + 3_600_000, groupBy: ['seat'], filters: {} },
    output: 'json',
    maxRows: Number(maxRows),
    hiddenMetrics: [],
    warnings: [],
  });
  ended = { bytes: body.byteLength };
} catch (error) {
  ended =
    error instanceof ReportRefusedError
      ? { code: error.code, message: error.message }
      : { error: String(error) };
}
await thread.close();
clearInterval(alive);
process.stdout.write(JSON.stringify(ended));
