/** Structured JSON logs, one object a line on stdout. */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

/**
 * A logger writing JSON lines to `write` (stdout by default), each stamped with the time it was
 * logged: on a worker thread stdout is passed to the main thread, whose lines logged meanwhile may
 * come first, so the order of lines is not that of their times.
 */
export function jsonLogger(write: (line: string) => void = (line) => process.stdout.write(line)): Logger {
  const emit = (level: string, event: string, fields: Record<string, unknown> = {}) => {
    const line = { time: new Date().toISOString(), level, event };
    // A field named as one of them gives way to it, which says when, how bad and what happened.
    write(`${JSON.stringify(Object.assign({ ...line }, fields, line))}\n`);
  };
  return {
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, fields) => emit('error', event, fields),
  };
}
