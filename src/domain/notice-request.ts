/**
 * The facts of one notice request that the counting rules read, as plain data: the HTTP thread
 * reads them off the request and decides on them (`noticeEvent`).
 */
export interface NoticeRequest {
  /** The sealed token from `/n/<token>`, as sent. */
  token: string;
  /** The raw query string without `?` ('' when none). */
  query: string;
  method: string;
  /**
   * The request headers the rules read (`user-agent`, `x-device-ip`, `x-device-user-agent`,
   * `x-forwarded-for` and the prefetch signals), lower-case names; absent when not sent.
   */
  headers: Readonly<Record<string, string>>;
  /** The TCP peer's address. */
  remoteAddress: string;
  /** When the request arrived, epoch ms. */
  receivedMs: number;
}
