import type { TrackerKind } from '../../ports/catalog.js';
import { ApiError } from '../api-error.js';

/**
 * The 404 for tracker `trackerId`, of kind `kind`, asked for at the other kind's path as a `noun`
 * (`click tracker`): the two kinds share one id sequence, so the id is right and the path wrong.
 * It says where the tracker is: its resource, or (`at` `export`) where it is exported.
 */
export function trackerOfOtherKind(
  noun: string,
  trackerId: number,
  kind: TrackerKind,
  at: 'resource' | 'export',
): ApiError {
  const where =
    at === 'export'
      ? `exported at /v1/${kind}-trackers/${trackerId}/export`
      : `at /v1/${kind}-trackers/${trackerId}`;
  return new ApiError(
    404,
    'NOT_FOUND',
    `${noun} ${trackerId} not found: ${trackerId} is ${kind === 'impression' ? 'an' : 'a'} ${kind} tracker, ${where}`,
  );
}
