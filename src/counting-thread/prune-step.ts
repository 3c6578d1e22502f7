/**
 * Rows one pruning step of the counting thread may delete: up to this many raw event ids and as
 * many delivered or redirected deliveries, in one transaction that holds the ledger's write lock
 * (and every batch of notices behind it) a few ms. A delivery costs about 5 µs with its six
 * indexes, its random dedupe key's among them: 5000 of them held the lock about 25 ms a step.
 */
export const PRUNE_ROWS_PER_STEP = 1000;
