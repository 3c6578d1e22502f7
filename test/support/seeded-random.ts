/**
 * A generator of numbers in [0, 1) from `seed`, the same sequence for the same seed (a linear
 * congruential generator): for tests whose data is random but must repeat from run to run.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 4_294_967_296;
  };
}
