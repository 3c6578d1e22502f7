import assert from 'node:assert/strict';
import { ApiError } from '../../src/control/api-error.js';

/** The message of the 400 `VALIDATION_FAILED` that `attempt` throws; fails the test if it throws none. */
export function validationFailure(attempt: () => unknown, what: string): string {
  try {
    attempt();
  } catch (error) {
    assert.ok(error instanceof ApiError, `${what} is refused with an ApiError; got ${String(error)}`);
    assert.equal(error.status, 400);
    assert.equal(error.code, 'VALIDATION_FAILED');
    return error.message;
  }
  return assert.fail(`${what} was accepted`);
}
