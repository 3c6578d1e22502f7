import type { IncomingMessage } from 'node:http';
import type { ApiError } from './api-error.js';
import { busyRefusal } from './api-error.js';

/**
 * The bytes of request bodies being read at once, across calls, and at most how many: each call
 * holds the bytes it has sent so far until it ends, however it ends, so that many callers
 * uploading at once cannot hold more than `maxBytes` in memory before anything else bounds them.
 * A declared `Content-Length` is not held before its bytes come: callers that declare large bodies
 * and stall hold nothing, and keep no other call out.
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
   * not fit in what the other calls leave is refused 503 `UNAVAILABLE` before any of it is read;
   * one that grows past what is left as it streams (chunked, or while others grew) is refused so,
   * its connection closed (`Connection: close`).
   * What a call read is held until `read` ends or its connection closes: a refused call's bytes
   * read behind its refusal are held too.
   */
  async read<T>(req: IncomingMessage, maxCallBytes: number, read: () => Promise<T>): Promise<T> {
    const declared = req.headers['content-length'];
    const declaredBytes = declared === undefined ? 0 : Number(declared);
    if (declaredBytes > maxCallBytes) return read();
    if (this.heldBytes + declaredBytes > this.maxBytes) throw this.busy(false);
    /** The bytes of this call's body read so far, all held. */
    let heldBytes = 0;
    let isRefused = false;
    let refuse: (error: ApiError) => void = () => {};
    const refused = new Promise<never>((_resolve, reject) => (refuse = reject));
    const count = ({ length }: { length: number }): void => {
      if (!isRefused && this.heldBytes + length > this.maxBytes) {
        isRefused = true;
        // Less is read from the connection, which closes once the refusal is sent; `read` may
        // still take what node:http parsed with this chunk, and resume the connection for more.
        req.socket.pause();
        refuse(this.busy(true));
      }
      this.heldBytes += length;
      heldBytes += length;
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
    return busyRefusal(
      `Tally is reading ${this.heldBytes} bytes of bodies of other calls, and this one does not fit in the ${this.maxBytes} it reads at once: retry the call in a second`,
      closing ? { Connection: 'close' } : {},
    );
  }
}
