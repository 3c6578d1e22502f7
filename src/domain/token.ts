import { createCipheriv, randomBytes } from 'node:crypto';
import { GcmKey } from 'tally-aes-gcm';
import type { Channel, Format, Method, NoticeKind } from './types.js';
import { CHANNELS, FORMATS, METHODS, NOTICE_KINDS } from './types.js';
import { IV_BYTES, IvSequence } from './iv-sequence.js';

/** Everything the counter needs about one win, sealed into a notice URL. */
export interface NoticeClaims {
  /** What this notice URL reports. */
  kind: NoticeKind;
  /** The Tally account that registered the win. */
  accountId: number;
  auctionId: string;
  impId: string;
  bidId: string;
  seat: string;
  /** `bid.adid`, or `''`. */
  adId: string;
  /** `BidResponse.bidid` as the exchange gave it, for `${AUCTION_BID_ID}`; `''` when it did not. */
  bidResponseId: string;
  /** Clearing price in integer micros, a safe integer (0..2^53 - 1). */
  priceMicros: number;
  /**
   * The bid's own price (`bid.price`) in integer micros, for `${AUCTION_MBR}` (clearing price
   * over bid price) in the DSP's burl Tally relays; 0 when unknown.
   */
  bidMicros: number;
  /** ISO 4217, e.g. `'USD'`. */
  currency: string;
  format: Format;
  channel: Channel;
  /** The impression's counting method. */
  method: Method;
  /** TTL chosen at win time, integer seconds, 0..2^53 - 1. */
  ttlSeconds: number;
  /** Auction time, epoch milliseconds, 0..2^53 - 1. */
  auctionTimeMs: number;
  publisherId: string;
  test: boolean;
  /** The DSP's `burl` when Tally must relay it, else `''`. */
  dspBurl: string;
}

/** The highest key id: a token names its key in one byte. */
export const MAX_KEY_ID = 255;

/**
 * The AES-256-GCM keys tokens are sealed with: 32-byte keys by key id (0..255). Tokens are
 * sealed with `signingKeyId` and opened with whichever key id they name, so a new signing key
 * can be added while tokens sealed with the old one are still in flight.
 */
export interface KeyRing {
  signingKeyId: number;
  keys: ReadonlyMap<number, Buffer>;
}

/** An opened token: its claims and the key id it was sealed with, or why it did not open. */
export type OpenResult =
  | { ok: true; claims: NoticeClaims; keyId: number }
  | { ok: false; error: 'malformed' | 'unknown_key' | 'unauthentic' };

/*
 * Token bytes (then base64url without padding):
 *   version (1) | key id (1) | IV (12) | ciphertext | GCM tag (16); version and key id are the AAD.
 * Plaintext:
 *   kind | method << 4  (1)   format | channel << 4  (1)   flags (1, bit 0 = test)
 *   varints: priceMicros, ttlSeconds, auctionTimeMs, accountId
 *   strings (varint byte length + UTF-8): auctionId, impId, bidId, seat, adId, currency, publisherId, dspBurl
 *   with flag bit 1: varint bidMicros, never 0 (without the flag it is 0)
 *   with flag bit 2: string bidResponseId, never empty (without the flag it is '')
 * Tokens sealed before these two were carried are spelled as tokens without them, and open.
 * Varints are unsigned LEB128, at most 8 bytes (safe integers: up to 2^53 - 1, so that no claim
 * is a number that arithmetic or formatting refuses), computed with arithmetic, never
 * 32-bit operators, and must be minimal.
 */
const VERSION = 1;
/** The bytes of a token key (AES-256). */
export const KEY_BYTES = 32;
const TAG_BYTES = 16;
const HEADER_BYTES = 2 + IV_BYTES;
const FLAG_TEST = 1;
const FLAG_BID_PRICE = 2;
const FLAG_BID_RESPONSE_ID = 4;
const MAX_VARINT = Number.MAX_SAFE_INTEGER;
const MAX_VARINT_BYTES = 8;
/** The value of the eighth varint byte's first bit (2^49): the eighth byte is at most 15 (2^53 - 1). */
const LAST_VARINT_SCALE = 2 ** 49;
/** Three enum/flag bytes, four one-byte varints and eight empty strings. */
const MIN_PLAINTEXT_BYTES = 3 + 4 + 8;

/** A fresh random 32-byte AES-256 key for a {@link KeyRing}. */
export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * Seals the claims into a URL-safe token (base64url, no padding) with the ring's signing key.
 * Throws a `RangeError` on a programming error: no valid signing key, an unknown enum value, or
 * an integer field that is not an integer in 0..2^53 - 1.
 */
export function sealToken(claims: NoticeClaims, ring: KeyRing): string {
  const keyId = ring.signingKeyId;
  const key = ring.keys.get(keyId);
  if (!Number.isInteger(keyId) || keyId < 0 || keyId > MAX_KEY_ID || key?.length !== KEY_BYTES) {
    throw new RangeError(`signing key ${keyId} is not a 32-byte key with an id in 0..255`);
  }
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = VERSION;
  header[1] = keyId;
  ivs.next().copy(header, 2);
  const cipher = createCipheriv('aes-256-gcm', key, header.subarray(2), { authTagLength: TAG_BYTES });
  cipher.setAAD(header.subarray(0, 2));
  const ciphertext = Buffer.concat([cipher.update(encodeClaims(claims)), cipher.final()]);
  return Buffer.concat([header, ciphertext, cipher.getAuthTag()]).toString('base64url');
}

/** The IVs this thread seals tokens with. */
const ivs = new IvSequence();

/**
 * Where tokens are decrypted: `decodeClaims` copies what it keeps out of it, so one buffer
 * serves every token that fits.
 */
const plaintextScratch = Buffer.alloc(4096);

/**
 * Opens a token sealed by {@link sealToken}. Never throws, whatever the string: a token that is
 * not canonical base64url, has the wrong version or does not decode is `malformed`; one naming a
 * key id the ring lacks is `unknown_key`; one failing the GCM tag check is `unauthentic`.
 */
export function openToken(token: string, ring: KeyRing): OpenResult {
  // Node's decoder skips stray characters and ignores padding: only the canonical spelling is
  // accepted, so one sealed win has exactly one token string.
  if (!isCanonicalBase64url(token)) return MALFORMED;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < HEADER_BYTES + MIN_PLAINTEXT_BYTES + TAG_BYTES) return MALFORMED;
  if (bytes[0] !== VERSION) return MALFORMED;
  const keyId = bytes[1] ?? 0;
  const key = ring.keys.get(keyId);
  if (key?.length !== KEY_BYTES) return UNKNOWN_KEY;
  const sealed = bytes.length - HEADER_BYTES - TAG_BYTES;
  const body = sealed <= plaintextScratch.length ? plaintextScratch : Buffer.alloc(sealed);
  if (gcmKey(key).open(bytes, 2, body) < 0) return UNAUTHENTIC;
  const claims = decodeClaims(body.subarray(0, sealed));
  return claims === undefined ? MALFORMED : { ok: true, claims, keyId };
}

/** Keys set up once: each open then costs only its decryption (a tenth of `createDecipheriv`'s). */
const gcmKeys = new WeakMap<Buffer, GcmKey>();

function gcmKey(key: Buffer): GcmKey {
  let prepared = gcmKeys.get(key);
  if (prepared === undefined) {
    prepared = new GcmKey(key);
    gcmKeys.set(key, prepared);
  }
  return prepared;
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL_TEXT = /^[A-Za-z0-9_-]+$/;

/**
 * True for the one spelling Node's encoder gives some bytes: the base64url alphabet only, no
 * padding, a length that is not 1 mod 4, and zero bits left over in the last character.
 */
function isCanonicalBase64url(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 1 || !BASE64URL_TEXT.test(text)) return false;
  if (rest === 0) return true;
  const last = BASE64URL_ALPHABET.indexOf(text.charAt(text.length - 1));
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

const MALFORMED: OpenResult = { ok: false, error: 'malformed' };
const UNKNOWN_KEY: OpenResult = { ok: false, error: 'unknown_key' };
const UNAUTHENTIC: OpenResult = { ok: false, error: 'unauthentic' };

function encodeClaims(claims: NoticeClaims): Buffer {
  const integers = [claims.priceMicros, claims.ttlSeconds, claims.auctionTimeMs, claims.accountId];
  const strings = [
    claims.auctionId,
    claims.impId,
    claims.bidId,
    claims.seat,
    claims.adId,
    claims.currency,
    claims.publisherId,
    claims.dspBurl,
  ];
  const stringBytes = strings.map((text) => Buffer.byteLength(text, 'utf8'));
  let size = 3;
  for (const value of integers) size += varintBytes(checkedVarint(value));
  for (const length of stringBytes) size += varintBytes(length) + length;
  const bidMicros = checkedVarint(claims.bidMicros);
  if (bidMicros > 0) size += varintBytes(bidMicros);
  const bidResponseIdBytes = Buffer.byteLength(claims.bidResponseId, 'utf8');
  if (bidResponseIdBytes > 0) size += varintBytes(bidResponseIdBytes) + bidResponseIdBytes;

  const out = Buffer.alloc(size);
  out[0] = enumIndex(NOTICE_KINDS, claims.kind) | (enumIndex(METHODS, claims.method) << 4);
  out[1] = enumIndex(FORMATS, claims.format) | (enumIndex(CHANNELS, claims.channel) << 4);
  out[2] =
    (claims.test ? FLAG_TEST : 0) |
    (bidMicros > 0 ? FLAG_BID_PRICE : 0) |
    (bidResponseIdBytes > 0 ? FLAG_BID_RESPONSE_ID : 0);
  let offset = 3;
  for (const value of integers) offset = writeVarint(out, offset, value);
  strings.forEach((text, index) => {
    offset = writeVarint(out, offset, stringBytes[index] ?? 0);
    offset += out.write(text, offset, 'utf8');
  });
  if (bidMicros > 0) offset = writeVarint(out, offset, bidMicros);
  if (bidResponseIdBytes > 0) {
    offset = writeVarint(out, offset, bidResponseIdBytes);
    out.write(claims.bidResponseId, offset, 'utf8');
  }
  return out;
}

function decodeClaims(body: Buffer): NoticeClaims | undefined {
  if (body.length < MIN_PLAINTEXT_BYTES) return undefined;
  const kinds = body[0] ?? 0;
  const media = body[1] ?? 0;
  const flags = body[2] ?? 0;
  const kind = NOTICE_KINDS[kinds & 0x0f];
  const method = METHODS[kinds >> 4];
  const format = FORMATS[media & 0x0f];
  const channel = CHANNELS[media >> 4];
  if (kind === undefined || method === undefined || format === undefined || channel === undefined)
    return undefined;
  if ((flags & ~(FLAG_TEST | FLAG_BID_PRICE | FLAG_BID_RESPONSE_ID)) !== 0) return undefined;

  const reader: Reader = { body, offset: 3, latin1: body.toString('latin1') };
  const priceMicros = readVarint(reader);
  const ttlSeconds = readVarint(reader);
  const auctionTimeMs = readVarint(reader);
  const accountId = readVarint(reader);
  const auctionId = readString(reader);
  const impId = readString(reader);
  const bidId = readString(reader);
  const seat = readString(reader);
  const adId = readString(reader);
  const currency = readString(reader);
  const publisherId = readString(reader);
  const dspBurl = readString(reader);
  // Present only with their flags, and then never 0 or empty: one sealed win has one spelling.
  const bidMicros = (flags & FLAG_BID_PRICE) === 0 ? 0 : readVarint(reader) || undefined;
  const bidResponseId = (flags & FLAG_BID_RESPONSE_ID) === 0 ? '' : readString(reader) || undefined;
  if (
    priceMicros === undefined ||
    ttlSeconds === undefined ||
    auctionTimeMs === undefined ||
    accountId === undefined ||
    auctionId === undefined ||
    impId === undefined ||
    bidId === undefined ||
    seat === undefined ||
    adId === undefined ||
    currency === undefined ||
    publisherId === undefined ||
    dspBurl === undefined ||
    bidMicros === undefined ||
    bidResponseId === undefined ||
    reader.offset !== body.length
  ) {
    return undefined;
  }
  return {
    kind,
    accountId,
    auctionId,
    impId,
    bidId,
    seat,
    adId,
    bidResponseId,
    priceMicros,
    bidMicros,
    currency,
    format,
    channel,
    method,
    ttlSeconds,
    auctionTimeMs,
    publisherId,
    test: (flags & FLAG_TEST) !== 0,
    dspBurl,
  };
}

function enumIndex<T>(values: readonly T[], value: T): number {
  const index = values.indexOf(value);
  if (index < 0) throw new RangeError(`unknown enum value ${String(value)}`);
  return index;
}

function checkedVarint(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > MAX_VARINT) {
    throw new RangeError(`${value} is not an integer in 0..2^53 - 1`);
  }
  return value;
}

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 128; rest = Math.floor(rest / 128)) bytes++;
  return bytes;
}

function writeVarint(out: Buffer, offset: number, value: number): number {
  let at = offset;
  let rest = value;
  while (rest >= 128) {
    out[at++] = (rest % 128) + 128;
    rest = Math.floor(rest / 128);
  }
  out[at++] = rest;
  return at;
}

interface Reader {
  body: Buffer;
  offset: number;
  /** The whole body decoded as latin1, once: ASCII strings are cut from it, the rest decoded as UTF-8. */
  latin1: string;
}

/** A minimal varint of at most 8 bytes and at most 2^53 - 1, or `undefined`. */
function readVarint(reader: Reader): number | undefined {
  let value = 0;
  let scale = 1;
  for (let index = 0; index < MAX_VARINT_BYTES; index++) {
    const byte = reader.body[reader.offset++];
    if (byte === undefined) return undefined;
    const digit = byte % 128;
    if (byte < 128) {
      if (index > 0 && digit === 0) return undefined; // not minimal
      if (scale === LAST_VARINT_SCALE && digit > 15) return undefined;
      return value + digit * scale;
    }
    value += digit * scale;
    scale *= 128;
  }
  return undefined;
}

function readString(reader: Reader): string | undefined {
  const length = readVarint(reader);
  if (length === undefined || length > reader.body.length - reader.offset) return undefined;
  const start = reader.offset;
  reader.offset += length;
  // Authentic plaintext was written by sealToken, as UTF-8: no need to validate it again. Ids are
  // mostly ASCII, which a cut of the latin1 text gives without a call into the buffer per string.
  for (let index = start; index < reader.offset; index++) {
    if ((reader.body[index] ?? 0) >= 0x80) return reader.body.toString('utf8', start, reader.offset);
  }
  return reader.latin1.slice(start, reader.offset);
}
