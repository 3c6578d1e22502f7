/** What a test's win changes of the web banner win it is by default. */
export interface WinSpec {
  imp?: object;
  context?: object;
  bid?: object;
  publisherBurl?: boolean;
  test?: boolean;
  auctionTimeMs?: number;
  clearingPrice?: number;
  bidResponseId?: string;
  seat?: string;
}

/** What every win of one test file has, unless its spec says otherwise. */
export interface WinDefaults {
  auctionId: string;
  bidId: string;
  seat: string;
  /** The site's publisher id, where the spec gives no `context`. */
  publisherId: string;
  /** The bid's price, a CPM in currency units. */
  price: number;
  /** The DSP's burl, macros and all. */
  burl: string;
}

/**
 * A `POST /v1/wins` entry: a web banner won by `defaults.seat` at `defaults.price`, with the
 * changes `spec` makes; its optional fields are sent only when `spec` gives them.
 */
export function winBody(spec: WinSpec, defaults: WinDefaults): object {
  return {
    request: {
      id: defaults.auctionId,
      imp: [{ id: '1', ...(spec.imp ?? { banner: { w: 300, h: 250 } }) }],
      ...(spec.context ?? { site: { publisher: { id: defaults.publisherId } } }),
    },
    seat: spec.seat ?? defaults.seat,
    bid: {
      id: defaults.bidId,
      impid: '1',
      price: defaults.price,
      adm: '<div>ad</div>',
      burl: defaults.burl,
      ...spec.bid,
    },
    ...(spec.publisherBurl === undefined ? {} : { publisherBurl: spec.publisherBurl }),
    ...(spec.test === undefined ? {} : { test: spec.test }),
    ...(spec.auctionTimeMs === undefined ? {} : { auctionTimeMs: spec.auctionTimeMs }),
    ...(spec.clearingPrice === undefined ? {} : { clearingPrice: spec.clearingPrice }),
    ...(spec.bidResponseId === undefined ? {} : { bidResponseId: spec.bidResponseId }),
  };
}

/**
 * `count` `POST /v1/wins` entries without a DSP burl: web banners of publisher `pub` won by seat
 * `seat` at 100, the win of index `i` auction `auction-<i>` and bid `bid-<i>`, cleared at
 * `clearingPrice` and auctioned at `auctionTimeMs(i)`.
 */
export function numberedBannerWins(
  count: number,
  clearingPrice: number,
  auctionTimeMs: (index: number) => number,
): object[] {
  return Array.from({ length: count }, (_, index) => ({
    request: {
      id: `auction-${index}`,
      imp: [{ id: '1', banner: { w: 300, h: 250 } }],
      site: { publisher: { id: 'pub' } },
    },
    seat: 'seat',
    bid: { id: `bid-${index}`, impid: '1', price: 100, adm: '<div>ad</div>' },
    clearingPrice,
    auctionTimeMs: auctionTimeMs(index),
  }));
}
