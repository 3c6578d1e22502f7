/**
 * The one of `names` a misspelling of `name` most likely meant: the nearest by edit distance
 * (letters added, dropped, changed or two swapped; case ignored), if it is within a quarter of
 * its length and `maxEdits` (3 unless told). `undefined` when none is that near.
 */
export function closestName(name: string, names: Iterable<string>, maxEdits = 3): string | undefined {
  const typed = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of names) {
    const distance = editDistance(typed, candidate.toLowerCase());
    const allowed = Math.min(maxEdits, Math.floor(candidate.length / 4));
    if (distance <= allowed && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** The optimal string alignment distance between `a` and `b`: Levenshtein's, with swaps of neighbours. */
function editDistance(a: string, b: string): number {
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_unused, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(
        (previous[j] ?? 0) + 1,
        (current[j - 1] ?? 0) + 1,
        (previous[j - 1] ?? 0) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, (beforePrevious[j - 2] ?? 0) + 1);
      }
      current.push(distance);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}
