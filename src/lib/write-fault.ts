import { errorCode } from './error-code.js';

/**
 * The faults of the ledger's writes that Tally tells apart, each with what the operator is to do
 * about it: `disk_full`, SQLite's SQLITE_FULL (a full disk under the data directory), the fault
 * theirs to mend, and mending it enough, Tally trying each new notice again.
 */
const WRITE_FAULT_ADVICE = {
  disk_full:
    "its disk is full: free space on the data directory's volume; Tally counts again by itself once a commit goes through",
} as const;

/** A fault of the ledger's writes that Tally tells apart (see {@link WRITE_FAULT_ADVICE}). */
export type WriteFault = keyof typeof WRITE_FAULT_ADVICE;

/** Every {@link WriteFault}, as `/metrics` labels them. */
export const WRITE_FAULTS = Object.keys(WRITE_FAULT_ADVICE) as WriteFault[];

/** The fault of a write that failed with error code `code`, or `undefined` for one not told apart. */
export function writeFaultOf(code: string | undefined): WriteFault | undefined {
  return code?.startsWith('SQLITE_FULL') === true ? 'disk_full' : undefined;
}

/**
 * What to do about a commit that failed with error code `code`, in one phrase for the log and
 * `/readyz`, or `undefined` for a fault with no advice of its own.
 */
export function writeFaultAdvice(code: string | undefined): string | undefined {
  const fault = writeFaultOf(code);
  return fault === undefined ? undefined : WRITE_FAULT_ADVICE[fault];
}

/**
 * The fields of the log line of a write of the ledger that failed with `error` (`commit_failed`,
 * `lease_failed`, `delivery_update_failed`): the error, its code (`''` for none) and, when its
 * fault has advice, a `note` saying what to do.
 */
export function writeFailureFields(error: unknown): { error: string; code: string; note?: string } {
  const code = errorCode(error);
  const advice = writeFaultAdvice(code);
  return { error: String(error), code: code ?? '', ...(advice === undefined ? {} : { note: advice }) };
}

/** A commit's failure, as the counting thread reports it, with its fault and what to do about it. */
export class AdvisedWriteError extends Error {
  /** See {@link writeFaultAdvice}. */
  readonly advice: string;

  constructor(
    message: string,
    /** See {@link writeFaultOf}. */
    readonly fault: WriteFault,
  ) {
    super(message);
    this.name = 'AdvisedWriteError';
    this.advice = WRITE_FAULT_ADVICE[fault];
  }
}
