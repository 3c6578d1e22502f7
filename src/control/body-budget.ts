import type { IncomingMessage } from 'node:http';
import { ApiError } from './api-error.js';

/**
 * The bytes of request bodies being read at once, across calls, and at most how many: each call
 * holds its `Content-Length` from the start (a chunked one, the bytes it has sent so far) until it
 * ends, however it ends, so that many callers uploading at once cannot hold more than
 * `maxBytes` in memory before anything else bounds them.
 */
export class BodyBudget {
  private heldBytes = 0;

  constructor(readonly maxBytes: number) {}

  /** The bytes held by the bodies being read now. */
  get takenBytes(): number {
    return this.heldBytes;
  }

  /**
   * Reads `req`'s body with `read`, which must start reading it before its promise is returned (as
   * `readJsonText` does) or refuse it without reading any. A body declared larger than
   * `maxCallBytes` is left to `read` to refuse (413), not held. One whose `Content-Length` does
   * not fit in what is left is refused 503 `UNAVAILABLE` before any of it is read; a chunked one
   * that grows past it is refused so as it streams, its connection closed (`Connection: close`).
   * What a call read is held until `read` ends or its connection closes: a refused call's bytes
   * read behind its refusal are held too.
   */
  async read<T>(req: IncomingMessage, maxCallBytes: number, read: () => Promise<T>): Promise<T> {
    const declared = req.headers['content-length'];
    let heldBytes = declared === undefined ? 0 : Number(declared);
    if (heldBytes > maxCallBytes) return read();
    if (this.heldBytes + heldBytes > this.maxBytes) throw this.busy(false);
    this.heldBytes += heldBytes;
    let receivedBytes = 0;
    let isRefused = false;
    let refuse: (error: ApiError) => void = () => {};
    const refused = new Promise<never>((_resolve, reject) => (refuse = reject));
    const count = ({ length }: { length: number }): void => {
      receivedBytes += length;
      if (receivedBytes <= heldBytes) return;
      const moreBytes = receivedBytes - heldBytes;
      if (!isRefused && this.heldBytes + moreBytes > this.maxBytes) {
        isRefused = true;
        // Less is read from the connection, which closes once the refusal is sent; `read` may
        // still take what node:http parsed with this chunk, and resume the connection for more.
        req.socket.pause();
        refuse(this.busy(true));
      }
      this.heldBytes += moreBytes;
      heldBytes = receivedBytes;
    };
    const bufferedBytes = req.readableLength;
    const reading = read();
    // Only once `read` is reading: a listener before would set the body flowing past it. A body it
    // refused unread is not read here either.
    if (req.readableFlowing === false) {
      req.on('data', count);
      // What came before `read` began (with the request's head, say) and it took at once.
      count({ length: bufferedBytes - req.readableLength });
    }
    const socket = req.socket;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      req.off('data', count);
      socket.off('close', release);
      this.heldBytes -= heldBytes;
    };
    reading.then(release, release);
    // A refused call's reading never ends: node:http leaves a request whose answer was sent
    // unfinished when its connection closes.
    socket.once('close', release);
    return await Promise.race([reading, refused]);
  }

  private busy(closing: boolean): ApiError {
    return new ApiError(
      503,
      'UNAVAILABLE',
      `Tally is reading ${this.heldBytes} bytes of bodies of other calls, and this one does not fit in the ${this.maxBytes} it reads at once: retry the call in a second`,
      closing ? { 'Retry-After': '1', Connection: 'close' } : { 'Retry-After': '1' },
    );
  }
}
