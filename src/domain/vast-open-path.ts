import { InnermostByName } from './innermost-by-name.js';
import { localName } from './vast-scan.js';

/**
 * The local names of the elements open, outermost first, and where each name stands among them,
 * so that closing one by name walks none of the others: an end tag naming no element open once
 * looked through all of them, in time quadratic in markup nesting a great many.
 */
export class OpenPath {
  readonly names: string[] = [];
  private readonly index = new InnermostByName();

  get length(): number {
    return this.names.length;
  }

  push(name: string): void {
    this.index.opened(name, this.names.length);
    this.names.push(name);
  }

  /** Closes the innermost open element of that name, and every element inside it; else nothing. */
  close(qualifiedName: string): void {
    const at = this.index.innermost(localName(qualifiedName), (index) => this.names[index]);
    if (at !== undefined) this.names.length = at;
  }
}
