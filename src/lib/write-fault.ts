/**
 * What the operator is told to do when the ledger refuses a commit for want of space (SQLite's
 * SQLITE_FULL: a full disk under the data directory): the fault is theirs to mend, and mending
 * it is enough, Tally trying each new notice again.
 */
const FULL_DISK_ADVICE =
  "its disk is full: free space on the data directory's volume; Tally counts again by itself once a commit goes through";

/**
 * What to do about a commit that failed with error code `code`, in one phrase for the log and
 * `/readyz`, or `undefined` for a fault with no advice of its own.
 */
export function writeFaultAdvice(code: string | undefined): string | undefined {
  return code?.startsWith('SQLITE_FULL') === true ? FULL_DISK_ADVICE : undefined;
}

/** A commit's failure, as the counting thread reports it, with what to do about it. */
export class AdvisedWriteError extends Error {
  constructor(
    message: string,
    /** See {@link writeFaultAdvice}. */
    readonly advice: string,
  ) {
    super(message);
    this.name = 'AdvisedWriteError';
  }
}
