import type { EventRecord, Ledger } from '../ports/ledger.js';
import type { Recorded, Submission } from '../ports/recorder.js';
import type { NoticeEnvironment } from './notice-event.js';
import { noticeEvent } from './notice-event.js';

/**
 * Decides the notices of a batch and records the batch in one ledger transaction: the counting
 * step that runs beside the HTTP thread (see `src/counting-thread/worker.ts`).
 */
export class Counter {
  constructor(
    private readonly ledger: Ledger,
    private readonly env: NoticeEnvironment,
  ) {}

  /** Records the batch atomically and says what each submission became, in input order. */
  record(batch: readonly Submission[]): Recorded[] {
    const events: EventRecord[] = [];
    const redirects: string[] = [];
    for (const submission of batch) {
      if ('notice' in submission) {
        const decided = noticeEvent(submission.notice, this.env);
        events.push(decided.event);
        redirects.push(decided.redirectIfCounted);
      } else {
        events.push(submission.event);
        redirects.push('');
      }
    }
    const outcomes = this.ledger.record(events);
    return outcomes.map((outcome, index) => ({
      outcome,
      redirectTo: outcome.outcome === 'counted' ? (redirects[index] ?? '') : '',
    }));
  }
}
