import type { NoticeClaims } from './token.js';

/**
 * One count per impression, whichever method: account, auction, imp, bid and seat, joined by
 * U+001F. In the ids (the exchange's strings) `\` is written `\\` and U+001F `\s`, so that no
 * two impressions share a key whatever their ids hold; ids without either are written as they
 * are, as before these were escaped (migration 9 rewrote the keys of those with either).
 */
export function impressionKey(claims: NoticeClaims): string {
  return `x\u001f${claims.accountId}\u001f${keyPart(claims.auctionId)}\u001f${keyPart(claims.impId)}\u001f${keyPart(claims.bidId)}\u001f${keyPart(claims.seat)}`;
}

/** The ids of an impression, as its key ({@link impressionKey}) holds them. */
interface ImpressionIds {
  accountId: number;
  auctionId: string;
  impId: string;
  bidId: string;
  seat: string;
}

/** The ids an {@link impressionKey} was made of, or `undefined` for a key of another shape. */
export function readImpressionKey(key: string): ImpressionIds | undefined {
  const [prefix, accountId, auctionId, impId, bidId, seat, ...rest] = key.split('\u001f');
  if (prefix !== 'x' || seat === undefined || rest.length > 0) return undefined;
  return {
    accountId: Number(accountId),
    auctionId: unescapePart(auctionId ?? ''),
    impId: unescapePart(impId ?? ''),
    bidId: unescapePart(bidId ?? ''),
    seat: unescapePart(seat),
  };
}

/**
 * The start every key of an auction's impressions in an account shares: the keys between it and
 * {@link auctionKeyEnd} (exclusive) are that auction's, in SQLite's byte order as in UTF-16's.
 */
export function auctionKeyStart(accountId: number, auctionId: string): string {
  return `x\u001f${accountId}\u001f${keyPart(auctionId)}\u001f`;
}

/** Just past the last key {@link auctionKeyStart} begins: its last U+001F raised to a space. */
export function auctionKeyEnd(accountId: number, auctionId: string): string {
  return `${auctionKeyStart(accountId, auctionId).slice(0, -1)} `;
}

/** An id as a key writes it, read back. */
function unescapePart(part: string): string {
  return part.replace(/\\(.)/g, (_, next: string) => (next === 's' ? '\u001f' : next));
}

/** An id as it is written in a dedupe key (see `impressionKey`). */
function keyPart(id: string): string {
  if (!id.includes('\\') && !id.includes('\u001f')) return id;
  return id.replaceAll('\\', '\\\\').replaceAll('\u001f', '\\s');
}
