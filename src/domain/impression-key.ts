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

/** An id as it is written in a dedupe key (see `impressionKey`). */
function keyPart(id: string): string {
  if (!id.includes('\\') && !id.includes('\u001f')) return id;
  return id.replaceAll('\\', '\\\\').replaceAll('\u001f', '\\s');
}
