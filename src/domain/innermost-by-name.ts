/**
 * Where each name stands among the elements open in markup (a stack the caller keeps, innermost
 * last), so that finding the innermost element of a name walks none of the others: an end tag
 * naming no element open once looked through all of them, in time quadratic in markup nesting a
 * great many. Elements closed since are dropped from the index as they are met.
 */
export class InnermostByName {
  /** Where each name was opened, in the order opened. */
  private readonly openedAt = new Map<string, number[]>();

  /** Notes that an element named `name` opened at `index` of the stack. */
  opened(name: string, index: number): void {
    const indices = this.openedAt.get(name);
    if (indices === undefined) this.openedAt.set(name, [index]);
    else indices.push(index);
  }

  /**
   * The index of the innermost open element named `name`, if any; `nameAt` gives the name of the
   * element open at an index of the stack (`undefined` past its end). An index noted for an element
   * closed since holds another name or none, or the same name only where that name was opened there
   * again, later, and noted after it: the last noted that still matches is the innermost.
   */
  innermost(name: string, nameAt: (index: number) => string | undefined): number | undefined {
    const indices = this.openedAt.get(name);
    for (let at = indices?.at(-1); indices !== undefined && at !== undefined; at = indices.at(-1)) {
      if (nameAt(at) === name) return at;
      indices.pop();
    }
    return undefined;
  }
}
