import type { IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { ApiError } from './api-error.js';

/**
 * The content coding of a request body (`Content-Encoding`) as Tally reads it: `gzip` (or its
 * alias `x-gzip`, RFC 9110 §8.4.1.3, in any case), which an exchange sending a thousand wins a call
 * may well use, or none (absent, empty or `identity`); any other coding, or two, is refused 415,
 * naming the codings Tally reads.
 */
export function bodyCoding(req: IncomingMessage): 'gzip' | undefined {
  const coding = req.headers['content-encoding']?.trim() ?? '';
  const name = coding.toLowerCase();
  if (name === '' || name === 'identity') return undefined;
  if (name === 'gzip' || name === 'x-gzip') return 'gzip';
  throw new ApiError(
    415,
    'UNSUPPORTED_MEDIA_TYPE',
    `a body with Content-Encoding ${coding} cannot be read: send it compressed with Content-Encoding: gzip, or uncompressed without Content-Encoding`,
  );
}

const gunzipAsync = promisify(gunzip);

/**
 * `compressed`, a gzip body, uncompressed, at most `maxBytes`: over it, 413 `BODY_TOO_LARGE` (the
 * limit holds for the JSON read, whatever it was compressed to: a few KiB of gzip can hold GiBs of
 * zeros); a body that is not gzip, or cut short, 400 `INVALID_JSON`.
 */
export async function gunzipBody(compressed: Buffer, maxBytes: number, tooLargeFix: string): Promise<Buffer> {
  try {
    return await gunzipAsync(compressed, { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ApiError(
        413,
        'BODY_TOO_LARGE',
        `the body is larger than ${maxBytes} bytes once uncompressed, the limit for this request: ${tooLargeFix}`,
      );
    }
    throw new ApiError(
      400,
      'INVALID_JSON',
      `the body is not whole gzip data (${(error as Error).message}): send it compressed whole with gzip, or uncompressed without Content-Encoding`,
    );
  }
}
