import { isAbsolute, resolve } from 'node:path';

/**
 * A file's path as an error that cannot read it names it: as given, and for a relative one also
 * the path read, quoted (white space shows), as it is read from the directory the process starts
 * in (a service unit's may not be the one the operator thought of).
 */
export function readPathShown(path: string): string {
  return isAbsolute(path)
    ? path
    : `${path} (${JSON.stringify(resolve(path))}, read from the directory Tally starts in)`;
}
