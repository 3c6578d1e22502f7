/** Where a running Tally is between starting and stopping, as its answers read it. */
export interface ServingState {
  /** Set once the start is done, cleared once `close()` began. */
  ready: boolean;
  /** Set once `close()` began: every answer from then on ends its connection. */
  shuttingDown: boolean;
}
