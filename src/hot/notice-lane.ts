import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { clientErrorResponse } from '../lib/client-error.js';
import type { CounterSink } from '../lib/metrics.js';
import { LaneAnswers } from './lane-answers.js';
import type { LaneRequest } from './lane-request.js';
import { NOTICE_PREFIX, readLaneRequest, TRACKER_PATHS } from './lane-request.js';
import type { NoticeAnswer } from './notice-answer.js';
import { endsTarget, targetIncomplete, withRawTargetEncoded } from './raw-target.js';

/** Tuning of the notice lane. */
export interface NoticeLaneOptions {
  /** An idle connection is closed after this long once it has sent a request. */
  keepAliveTimeoutMs: number;
  /**
   * A request head must arrive whole within this long once it started (a slow-loris guard), and a
   * new connection must send its first within this long (or it holds a descriptor for nothing).
   */
  headersTimeoutMs: number;
  /** A longer request head goes to node:http, which refuses it. */
  maxHeadBytes: number;
  /** Notices and hits of one connection waiting for their answers before the lane stops reading it. */
  maxPipelined: number;
}

/**
 * Serves one notice or tracker hit the lane read: calls `answer` once it is committed (or
 * refused); never throws.
 */
export type LaneServe = (
  request: LaneRequest,
  remoteAddress: string,
  answer: (answer: NoticeAnswer) => void,
) => void;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * A front for node:http on the same port that serves exchange notices (`GET`/`HEAD /n/…`) and
 * tracker hits (`GET`/`HEAD /imptr?…` and `/clktr?…`) itself: node:http spends about as much CPU
 * on a request as Tally's counting does, so the lane reads their heads with a small strict reader
 * (`readLaneRequest`) and writes answers composed once a second. The first request it does not
 * serve itself (the API, another method, anything unusual or malformed) hands the connection to
 * node:http for good, with the bytes not yet parsed; answers already owed on it are written first,
 * in request order. The raw bytes of 0x80 and above that a client left unencoded in a request
 * target, which llhttp refuses, are read as their `%XX`, in the notices and hits the lane serves
 * and in the request it hands over (see `withRawTargetEncoded`); node:http still refuses them in a
 * request after that one.
 */
export class NoticeLane {
  private readonly connections = new Set<LaneConnection>();
  private readonly answers: LaneAnswers;
  private closing = false;

  private constructor(
    readonly serve: LaneServe,
    readonly handOver: (socket: Socket) => void,
    readonly options: NoticeLaneOptions,
    readonly counters: CounterSink,
  ) {
    this.answers = new LaneAnswers(Math.floor(options.keepAliveTimeoutMs / 1000));
  }

  /**
   * Puts the lane in front of `server`: connections it accepts come to the lane first. Call it
   * before adding any other `connection` listener. Its 408 answers are counted in `counters`, as
   * node:http's are (see `clientErrorResponse`).
   */
  static install(
    server: Server,
    serve: LaneServe,
    options: NoticeLaneOptions,
    counters: CounterSink,
  ): NoticeLane {
    const [httpListener, ...others] = server.listeners('connection') as ((socket: Socket) => void)[];
    if (httpListener === undefined || others.length > 0)
      throw new Error('install the notice lane on a fresh node:http server');
    server.removeAllListeners('connection');
    const lane = new NoticeLane(serve, (socket) => httpListener.call(server, socket), options, counters);
    server.on('connection', (socket: Socket) => {
      // The peer's address is read as the connection opens, and the socket keeps it for every
      // request on it, node:http's too: read only once a request came, it is gone when the client
      // reset the connection right after sending (a fire-and-forget bot), and its notices would
      // escape the IP block list. One reset before the server took it has none to read: it is
      // closed unread, as nothing on it could be screened and no one waits for an answer.
      if (socket.remoteAddress === undefined) socket.destroy();
      else lane.connections.add(new LaneConnection(socket, socket.remoteAddress, lane));
    });
    return lane;
  }

  /** Whether the server is shutting down: connections close after the answers they are owed. */
  get isClosing(): boolean {
    return this.closing;
  }

  /**
   * Stops reading requests; connections close once they have their answers (idle ones now). A
   * connection the lane closes from then on is destroyed once its last answer is flushed, as
   * node:http does, rather than left half-open until the client closes its side: a client
   * that never does would hold the server open for the keep-alive timeout.
   */
  close(): void {
    this.closing = true;
    for (const connection of this.connections) connection.closeWhenAnswered();
  }

  /**
   * Destroys every connection the lane still serves, answers owed or not (those notices and hits
   * are not acknowledged): the end of a shutdown's grace period. Answers the number destroyed.
   */
  closeAllConnections(): number {
    const connections = [...this.connections];
    for (const connection of connections) connection.destroy();
    return connections.length;
  }

  /** The bytes of an answer. */
  bytes(answer: NoticeAnswer, head: boolean, keepAlive: boolean): Buffer {
    return this.answers.bytes(answer, head, keepAlive, Date.now());
  }

  /** Forgets a connection that closed or went to node:http. */
  release(connection: LaneConnection): void {
    this.connections.delete(connection);
  }
}

/** A notice or hit read and not yet answered. */
interface Owed {
  head: boolean;
  keepAlive: boolean;
  /** Set once committed (or refused). */
  answer: NoticeAnswer | undefined;
}

/** One connection while the lane serves it. */
class LaneConnection {
  /**
   * The pieces of a request head not yet complete. They are joined only once the head is whole
   * (or too long): a client sending a head byte by byte costs linear work, not quadratic.
   */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The last bytes of `partial`, where the blank line that ends the head may begin. */
  private partialTail: Buffer = EMPTY;
  /**
   * Whether the incomplete head is one for node:http, kept only until its request target ends (see
   * `keepPartial`).
   */
  private leaving = false;
  /** Ends the connection when the head is still incomplete `headersTimeoutMs` after its first bytes. */
  private partialTimer: NodeJS.Timeout | undefined;
  /** Whether a request was read: the connection is then kept idle for the keep-alive timeout. */
  private servedOne = false;
  /** Answers owed, in request order. */
  private readonly owed: Owed[] = [];
  /** Bytes to give node:http once the owed answers are written. */
  private handOverBytes: Buffer | undefined;
  /** No more requests are read: the connection ends after the owed answers. */
  private ending = false;
  /** Reading waits for the answers written so far to drain. */
  private awaitingDrain = false;

  private readonly onData = (chunk: Buffer) => this.read(chunk);
  private readonly onEnd = () => this.closeWhenAnswered();
  private readonly onTimeout = () => {
    // A head begun is timed from its first bytes, and answered 408 (see `keepPartial`).
    if (this.owed.length === 0 && this.partialTimer === undefined) this.socket.destroy();
  };
  private readonly onClose = () => this.release();
  private readonly onDrain = () => {
    this.awaitingDrain = false;
    this.resumeReading();
  };

  constructor(
    private readonly socket: Socket,
    /** The TCP peer's address, read as the connection opened. */
    private readonly remoteAddress: string,
    private readonly lane: NoticeLane,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(lane.options.headersTimeoutMs);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('timeout', this.onTimeout);
    socket.on('close', this.onClose);
    socket.on('error', ignoreError);
    if (lane.isClosing) this.closeWhenAnswered();
  }

  /**
   * Ends the connection after the answers it is owed, reading no further request; one already
   * bound for node:http (a request the lane does not serve, read after them) goes there instead,
   * even once the client has ended its side (see `handOver`).
   */
  closeWhenAnswered(): void {
    this.ending = true;
    this.socket.pause();
    this.clearPartial();
    if (this.owed.length === 0 && this.handOverBytes === undefined) this.end();
  }

  /** Destroys the connection now (see `NoticeLane.closeAllConnections`). */
  destroy(): void {
    this.socket.destroy();
    this.release();
  }

  /** Ends the connection; while the server shuts down, destroys it once what was written is flushed. */
  private end(): void {
    if (this.lane.isClosing) this.socket.end(() => this.socket.destroy());
    else this.socket.end();
  }

  private read(chunk: Buffer): void {
    if (this.ending || this.handOverBytes !== undefined) return;
    let data = chunk;
    if (this.partialBytes > 0) {
      const seam = Buffer.concat([this.partialTail, chunk.subarray(0, HEAD_END.length - 1)]);
      if (!seam.includes(HEAD_END) && !chunk.includes(HEAD_END)) return this.keepPartial(chunk);
      data = Buffer.concat([...this.partial, chunk]);
      this.clearPartial();
    }
    let offset = skipLineBreaks(data, 0);
    for (let end = data.indexOf(HEAD_END, offset); end !== -1; end = data.indexOf(HEAD_END, offset)) {
      const request =
        end - offset > this.lane.options.maxHeadBytes
          ? undefined
          : readLaneRequest(data.toString('latin1', offset, end));
      if (request === undefined) return this.handOver(data.subarray(offset));
      offset = skipLineBreaks(data, end + HEAD_END.length);
      this.answer(request);
      if (!request.keepAlive) return this.closeWhenAnswered();
      if (this.owed.length >= this.lane.options.maxPipelined && offset < data.length)
        return this.putBack(data.subarray(offset));
    }
    if (offset < data.length) this.keepPartial(data.subarray(offset));
    // Line breaks alone on a new connection (llhttp skips them) are no request: timed as a head
    // begun, they are answered 408 as node:http answers them, rather than keep the connection open
    // for good, each one putting off the timeout of a connection that sends nothing.
    else if (!this.servedOne) this.timePartial();
    if (this.owed.length >= this.lane.options.maxPipelined) this.pauseReading();
    else if (this.socket.writableNeedDrain) {
      // A client that pipelines without reading its answers: what is written waits in memory
      // until it reads, so nothing more is read from it until then.
      this.pauseReading();
      this.resumeReading();
    }
  }

  /**
   * Stops reading, and gives `rest` (requests pipelined in the same packet as those that filled
   * `maxPipelined`) back to the socket, read again first once `resumeReading`: one packet holds
   * hundreds of small notices, which would otherwise all be owed at once. Given back, the rest also
   * comes before the client's half-close, which then ends the connection after its answers.
   */
  private putBack(rest: Buffer): void {
    this.pauseReading();
    this.socket.unshift(rest);
  }

  /**
   * Stops reading until `resumeReading`. A head begun meanwhile is not timed: the client cannot
   * send the rest of it while the lane does not read.
   */
  private pauseReading(): void {
    this.socket.pause();
    this.stopPartialTimer();
  }

  /**
   * Keeps a piece of an incomplete head, or hands the connection over when the head is unusual (once
   * its request target is whole).
   */
  private keepPartial(piece: Buffer): void {
    const before = this.partialTail[this.partialTail.length - 1];
    this.partial.push(Buffer.from(piece));
    this.partialBytes += piece.length;
    const tail = Buffer.concat([this.partialTail, piece]);
    this.partialTail = tail.subarray(Math.max(0, tail.length - (HEAD_END.length - 1)));
    if (this.partialBytes > this.lane.options.maxHeadBytes) return this.handOver(Buffer.concat(this.partial));
    if (this.leaving) {
      // The space after a method, or the end of the target: one of them is the last piece awaited.
      if (endsTarget(piece)) {
        const head = Buffer.concat(this.partial);
        if (!targetIncomplete(head)) return this.handOver(head);
      }
    } else if (
      hasBareLineFeed(piece, before) ||
      (this.partialBytes - piece.length < LANE_STARTS_CHECKED_BYTES &&
        !mayStartLaneRequest(
          Buffer.concat(this.partial, Math.min(this.partialBytes, LANE_STARTS_CHECKED_BYTES)),
        ))
    ) {
      // Handed over before its target ends, the rest of the target would reach node:http with its
      // raw bytes unencoded, and be refused: a request split across TCP packets inside its target
      // must be read as the same request sent whole.
      const head = Buffer.concat(this.partial);
      if (!targetIncomplete(head)) return this.handOver(head);
      this.leaving = true;
    }
    this.timePartial();
  }

  /** Starts the head timeout of a head begun, unless it runs already. */
  private timePartial(): void {
    this.partialTimer ??= setTimeout(() => this.timeOutPartial(), this.lane.options.headersTimeoutMs);
  }

  private answer(request: LaneRequest): void {
    if (!this.servedOne) {
      this.servedOne = true;
      this.socket.setTimeout(this.lane.options.keepAliveTimeoutMs);
      // The line breaks before it may have started the head timeout (see `read`).
      this.stopPartialTimer();
    }
    const owed: Owed = { head: request.method === 'HEAD', keepAlive: request.keepAlive, answer: undefined };
    this.owed.push(owed);
    this.lane.serve(request, this.remoteAddress, (answer) => this.settle(owed, answer));
  }

  private settle(owed: Owed, answer: NoticeAnswer): void {
    owed.answer = answer;
    // Answers go out in request order: a later notice committed first waits for the earlier.
    for (let first = this.owed[0]; first?.answer !== undefined; first = this.owed[0]) {
      this.owed.shift();
      const last = this.owed.length === 0;
      // The rest goes to node:http even once the client has ended its side (a half-close): what it
      // sent before is still answered (see `handOver`).
      const handingOver = this.handOverBytes !== undefined;
      const keepAlive = first.keepAlive && !(this.ending && last && !handingOver);
      if (!this.socket.destroyed) this.socket.write(this.lane.bytes(first.answer, first.head, keepAlive));
      if (!keepAlive) {
        this.end();
        return;
      }
    }
    if (this.owed.length > 0) return;
    if (this.handOverBytes !== undefined) this.handOver(this.handOverBytes);
    else if (!this.ending && this.socket.isPaused()) this.resumeReading();
  }

  /**
   * Reads on once the client has taken the answers written so far (it may pipeline without
   * reading), unless the connection is ending, is going to node:http or owes all the answers it
   * may.
   */
  private resumeReading(): void {
    if (this.ending || this.handOverBytes !== undefined) return;
    if (this.owed.length >= this.lane.options.maxPipelined) return;
    if (!this.socket.writableNeedDrain) {
      this.socket.resume();
      if (this.partialBytes > 0) this.timePartial();
    } else if (!this.awaitingDrain) {
      this.awaitingDrain = true;
      this.socket.once('drain', this.onDrain);
    }
  }

  /**
   * Gives the connection to node:http with `bytes` (the unparsed rest, its first request target's
   * raw bytes percent-encoded) as the first it reads, once every answer owed is written. Reading is
   * paused meanwhile, so node:http reads the rest before anything that arrives later.
   */
  private handOver(bytes: Buffer): void {
    this.socket.pause();
    this.clearPartial();
    if (this.owed.length > 0) {
      this.handOverBytes = bytes;
      return;
    }
    this.release();
    // A connection gone while its answers were committed: there is no one left to answer, and
    // node:http would keep a record of it forever, waiting for a close that already came.
    if (this.socket.destroyed) return;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('timeout', this.onTimeout);
    this.socket.off('close', this.onClose);
    this.socket.off('error', ignoreError);
    this.socket.off('drain', this.onDrain);
    this.socket.setTimeout(0);
    const rest = withRawTargetEncoded(bytes);
    if (this.socket.readableEnded) {
      // The client ended its side while the answers owed were committed: the socket takes no bytes
      // back and will not end again, so node:http is handed the rest, then the end, as the socket
      // would have given them: it answers what it reads (400 for a malformed request, 405 for a
      // CONNECT) after the lane's answers, then ends the connection.
      this.lane.handOver(this.socket);
      if (rest.length > 0) this.socket.emit('data', rest);
      if (!this.socket.destroyed) this.socket.emit('end');
      return;
    }
    if (rest.length > 0) this.socket.unshift(rest);
    this.lane.handOver(this.socket);
    this.socket.resume();
  }

  private timeOutPartial(): void {
    this.partialTimer = undefined;
    if (this.owed.length > 0) return this.closeWhenAnswered();
    // As node:http answers a head too slow, through the server's `clientError` listener. What
    // follows is read and dropped: the client was told its request was not served, so the rest
    // of it (or a request after it) must not be counted, with an answer that could not be written.
    this.ending = true;
    this.clearPartial();
    // Closed once written, as node:http closes after its own 408: a client that keeps sending
    // must not keep the connection open.
    const { maxHeadBytes } = this.lane.options;
    this.socket.end(clientErrorResponse('ERR_HTTP_REQUEST_TIMEOUT', maxHeadBytes, this.lane.counters), () =>
      this.socket.destroy(),
    );
  }

  private clearPartial(): void {
    this.leaving = false;
    this.partial = [];
    this.partialBytes = 0;
    this.partialTail = EMPTY;
    this.stopPartialTimer();
  }

  private stopPartialTimer(): void {
    if (this.partialTimer !== undefined) clearTimeout(this.partialTimer);
    this.partialTimer = undefined;
  }

  private release(): void {
    this.clearPartial();
    this.lane.release(this);
  }
}

/**
 * The offset of the first byte at or after `offset` that is neither CR nor LF: llhttp skips any
 * line breaks before a request (some clients end a request with an extra CRLF), so the lane
 * does too, rather than wait for them to become a head and answer 408.
 */
function skipLineBreaks(data: Buffer, offset: number): number {
  let at = offset;
  while (at < data.length && (data[at] === CARRIAGE_RETURN || data[at] === LINE_FEED)) at++;
  return at;
}

/** The starts of the heads the lane serves itself: notices and tracker hits, fetched or probed. */
const LANE_STARTS = ['GET', 'HEAD'].flatMap((method) =>
  [NOTICE_PREFIX, TRACKER_PATHS.impression, TRACKER_PATHS.click].map((path) =>
    Buffer.from(`${method} ${path}`, 'latin1'),
  ),
);
/** An incomplete head's start is read from its first bytes, this many at most, once it has them. */
const LANE_STARTS_CHECKED_BYTES = 64;

/**
 * Whether the bytes of an incomplete head, after the line breaks llhttp skips, can still begin a
 * request the lane serves: one that cannot (another method or path, a TLS hello, bytes that are
 * no HTTP) goes to node:http at once, which serves it or refuses it at once, rather than wait for
 * the head timeout.
 */
function mayStartLaneRequest(head: Buffer): boolean {
  let from = 0;
  while (from < head.length && (head[from] === CARRIAGE_RETURN || head[from] === LINE_FEED)) from++;
  const begun = head.subarray(from);
  return LANE_STARTS.some((start) => start.subarray(0, begun.length).equals(begun.subarray(0, start.length)));
}

/**
 * A line feed without its carriage return (`before`: the byte before `bytes`, if any): a head
 * the lane leaves to node:http.
 */
function hasBareLineFeed(bytes: Buffer, before: number | undefined): boolean {
  for (let at = bytes.indexOf(LINE_FEED); at !== -1; at = bytes.indexOf(LINE_FEED, at + 1)) {
    if ((at === 0 ? before : bytes[at - 1]) !== CARRIAGE_RETURN) return true;
  }
  return false;
}

function ignoreError(): void {
  // A connection reset by the client needs no answer; 'close' follows.
}
