import { readFileSync } from 'node:fs';
import { NOT_A_SUBNET, subnetOf } from './domain/ivt-filter.js';
import { readPathShown } from './lib/read-path.js';

/** The most bad lines of an address file reported one by one; the rest are counted. */
const MAX_REPORTED_LINES = 10;

/**
 * The entries of an address list file, as IP lists are published: one address or CIDR a line,
 * blank lines and what follows a `#` ignored. Each line that is none, and a file that cannot be
 * read, is added to `errors` under `setting`'s name (the first {@link MAX_REPORTED_LINES} by line
 * number, then how many more); `source` names where the path was given (`TALLY_…`), for a file
 * that cannot be read.
 */
export function readAddressFile(path: string, setting: string, source: string, errors: string[]): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    errors.push(
      `${setting}: cannot read ${readPathShown(path)}, named by ${source} (${String(error)}); give the path of a file of one address or CIDR a line`,
    );
    return [];
  }
  const entries: string[] = [];
  const bad: string[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const entry = line.replace(/#.*/, '').trim();
    if (entry === '') return;
    if (subnetOf(entry) !== undefined) entries.push(entry);
    else bad.push(`${setting}: line ${index + 1} of ${path}: ${JSON.stringify(entry)} ${NOT_A_SUBNET}`);
  });
  errors.push(...bad.slice(0, MAX_REPORTED_LINES));
  if (bad.length > MAX_REPORTED_LINES) {
    errors.push(
      `${setting}: ${bad.length - MAX_REPORTED_LINES} more lines of ${path} are no address or CIDR`,
    );
  }
  return entries;
}
