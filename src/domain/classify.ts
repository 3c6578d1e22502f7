import { looksLikeNative } from './native.js';
import { asId, asObject } from './openrtb.js';
import type { OrtbBid, OrtbBidRequest, OrtbImp, OrtbMediaObject } from './openrtb.js';
import type { Channel, Format } from './types.js';
import { declaresAudioAds, templateKind } from './vast-document.js';
import { jsonKind, shown } from '../lib/shown.js';

/** How a win is counted, read from its bid request and bid. */
export interface Classification {
  format: Format;
  channel: Channel;
  omidSupported: boolean;
  imp: OrtbImp;
  /** What looks wrong in the bid for this format, though it is instrumented as such. */
  warnings: string[];
}

/** A classification failure the caller can fix, with a stable code. */
interface ClassifyError {
  code:
    | 'VALIDATION_FAILED'
    | 'IMP_NOT_FOUND'
    | 'FORMAT_UNDETERMINED'
    | 'CHANNEL_UNDETERMINED'
    | 'IMP_QTY_UNSUPPORTED';
  message: string;
}

const MTYPE_FORMATS: Readonly<Record<number, Format>> = { 1: 'banner', 2: 'video', 3: 'audio', 4: 'native' };
const MEDIA_KEYS = ['banner', 'video', 'audio', 'native'] as const;
/** AdCOM device types counted as streaming TV: 3 connected TV, 7 set-top box. */
const STREAMING_TV_DEVICE_TYPES = new Set([3, 7]);
/** AdCOM device type 8: an out-of-home device. */
const OUT_OF_HOME_DEVICE_TYPE = 8;
/** AdCOM API framework 7 = OMID 1.0. */
const API_OMID = 7;

/**
 * Classifies a win. Format: `bid.mtype` when present, else the imp's single media object,
 * else by sniffing the markup (VAST XML, native JSON, otherwise HTML). Channel: `ctv` for
 * device types 3 and 7, else `app` or `web` from the request's `app` / `site`.
 */
export function classifyWin(request: OrtbBidRequest, bid: OrtbBid): Classification | ClassifyError {
  const impId = asId(bid.impid);
  const imps = Array.isArray(request.imp) ? (request.imp as unknown[]) : [];
  const imp = imps
    .map(asObject)
    .find((candidate) => candidate !== undefined && asId(candidate.id) === impId) as OrtbImp | undefined;
  if (imp === undefined) return { code: 'IMP_NOT_FOUND', message: impNotFound(request.imp, bid.impid) };
  const qty = asObject(imp.qty);
  if (qty === undefined && imp.qty !== undefined && imp.qty !== null) {
    return {
      code: 'VALIDATION_FAILED',
      message: `imp.qty must be an object such as {"multiplier": 1}, not ${shown(imp.qty)}`,
    };
  }
  const multiplier = qty?.multiplier;
  if (multiplier !== undefined && multiplier !== null && typeof multiplier !== 'number') {
    return {
      code: 'VALIDATION_FAILED',
      message: `imp.qty.multiplier must be a number (how many people one showing reaches), not ${shown(multiplier)}`,
    };
  }
  if (typeof multiplier === 'number' && multiplier !== 1) {
    return {
      code: 'IMP_QTY_UNSUPPORTED',
      message: `imp.qty.multiplier is ${multiplier}: one showing of the ad billed as ${multiplier} impressions, which Tally does not count (it counts one impression a notice); send qty.multiplier 1 or no qty`,
    };
  }
  const format = formatOf(imp, bid);
  if (format === undefined) {
    const offered = MEDIA_KEYS.filter((key) => asObject(imp[key]) !== undefined);
    const mtype = 'set bid.mtype (1 banner, 2 video, 3 audio, 4 native)';
    return {
      code: 'FORMAT_UNDETERMINED',
      message:
        offered.length === 0
          ? `cannot tell the format: imp ${shown(imp.id)} has no banner, video, audio or native object and the bid has no adm; ${mtype}, or send the imp with the media object it offered`
          : `cannot tell the format: imp ${shown(imp.id)} offers ${[offered.slice(0, -1).join(', '), offered.at(-1)].filter(Boolean).join(' and ')} and the bid has no adm to tell them apart by; ${mtype}`,
    };
  }
  // A request with dooh, or from an out-of-home device (as requests said before OpenRTB 2.6), is
  // out-of-home, whatever site or app it also names.
  const outOfHome =
    asObject(request.dooh) !== undefined
      ? 'digital out-of-home (dooh)'
      : asObject(request.device)?.devicetype === OUT_OF_HOME_DEVICE_TYPE
        ? 'an out-of-home device (device.devicetype 8)'
        : undefined;
  if (outOfHome !== undefined) {
    return {
      code: 'CHANNEL_UNDETERMINED',
      message: `the bid request is for ${outOfHome}, which Tally does not count: it counts web (site), app and CTV impressions`,
    };
  }
  const channel = channelOf(request);
  if (channel === undefined) {
    const sent = (['site', 'app'] as const).find(
      (place) => request[place] !== undefined && request[place] !== null,
    );
    return {
      code: 'CHANNEL_UNDETERMINED',
      message:
        sent === undefined
          ? 'the bid request has neither site nor app; send one of them'
          : `request.${sent} is ${jsonKind(request[sent])}${typeof request[sent] === 'object' ? '' : ` (${shown(request[sent])})`}, not an object: send OpenRTB's Site object for a website or its App object for an app, as Tally counts the win by which`,
    };
  }
  return {
    format,
    channel,
    omidSupported: offersOmid(mediaObject(imp, format)),
    imp,
    warnings: [...formatWarnings(imp, bid, format), ...requestWarnings(request, imps, impId, channel)],
  };
}

/** Most imp ids a refusal names. */
const MAX_IMPS_NAMED = 5;

/**
 * Why the bid won none of the request's imps (`imp`, as sent), naming the ids of those it has, or
 * saying that it has none.
 */
function impNotFound(imp: unknown, impId: unknown): string {
  if (!Array.isArray(imp) || imp.length === 0) {
    const said =
      imp === undefined || imp === null
        ? 'missing'
        : Array.isArray(imp)
          ? 'empty'
          : `${jsonKind(imp)}, not an array`;
    return `request.imp is ${said}: send the request's imps as OpenRTB's array of Imp objects, the one the bid won (bid.impid ${shown(impId)}) among them`;
  }
  const ids = (imp as unknown[]).map((candidate) => {
    const id = asObject(candidate)?.id;
    return id === undefined || id === null ? 'no id' : shown(id);
  });
  const named = ids.slice(0, MAX_IMPS_NAMED).join(', ');
  const more = ids.length > MAX_IMPS_NAMED ? ` and ${ids.length - MAX_IMPS_NAMED} more` : '';
  return `bid.impid ${shown(impId)} matches no request.imp[].id (the request's imps are ${named}${more}): send the request the bid won an imp of, or the bid that won one of its imps`;
}

/**
 * What OpenRTB forbids in a request and Tally reads one way of several: imps sharing the won
 * imp's id (the first is taken), both `site` and `app` (the channel is the app's, the publisher
 * the site's), a `device.devicetype` that is not a number (ignored).
 */
function requestWarnings(
  request: OrtbBidRequest,
  imps: readonly unknown[],
  impId: string | undefined,
  channel: Channel,
): string[] {
  const warnings: string[] = [];
  const sharing = imps.filter((candidate) => asId(asObject(candidate)?.id) === impId).length;
  if (impId !== undefined && sharing > 1) {
    warnings.push(
      `request.imp holds ${sharing} imps with id ${shown(impId)}: the first is instrumented; imp ids must be unique within a request`,
    );
  }
  if (asObject(request.site) !== undefined && asObject(request.app) !== undefined) {
    warnings.push(
      `the bid request has both site and app, where OpenRTB allows one: Tally takes the channel (${channel}) from app and the publisher from site, if it names one`,
    );
  }
  const deviceType = asObject(request.device)?.devicetype;
  if (deviceType !== undefined && deviceType !== null && typeof deviceType !== 'number') {
    // Ignored, a CTV request's "3" is counted as web or app: its TTL that channel's, and on a site
    // its players' notices judged as a browser's.
    warnings.push(
      `device.devicetype ${shown(deviceType)} is not a number, as AdCOM's device types are: Tally ignored it and counts the win as ${channel}; send 3 (connected TV) or 7 (set-top box) as a number for CTV`,
    );
  }
  return warnings;
}

/**
 * A bid at odds with its imp: a format the imp does not offer (named by `mtype`), or VAST or native
 * markup in a banner, which gets Tally's pixel as HTML would and no longer parses as VAST or JSON.
 */
function formatWarnings(imp: OrtbImp, bid: OrtbBid, format: Format): string[] {
  const warnings: string[] = [];
  if (bid.mtype !== undefined && bid.mtype !== null && mtypeFormatOf(bid) === undefined) {
    warnings.push(
      `bid.mtype ${shown(bid.mtype)} is none of OpenRTB's (1 banner, 2 video, 3 audio, 4 native), so Tally ignored it and instrumented the win as ${format}, as the rest of the win reads; send the number of the format the bid serves`,
    );
  }
  const offered = MEDIA_KEYS.filter((key) => asObject(imp[key]) !== undefined);
  if (offered.length > 0 && !offered.includes(format)) {
    const byMtype = mtypeFormatOf(bid) !== undefined;
    const prebidFormat = prebidFormatOf(bid);
    const named = byMtype
      ? `bid.mtype ${String(bid.mtype)} names`
      : prebidFormat !== undefined
        ? `bid.ext.prebid.type ${shown(prebidFormat)} names`
        : 'the markup reads as';
    warnings.push(
      `${named} ${format}, which imp ${shown(imp.id)} does not offer (it offers ${offered.join(', ')}): the win is instrumented as ${format}`,
    );
  }
  const template = format === 'banner' && typeof bid.adm === 'string' ? templateKind(bid.adm) : undefined;
  if (template !== undefined) {
    const name = template.toUpperCase();
    warnings.push(
      `bid.adm is ${name} but the win is a banner: Tally added its pixel as to HTML, which leaves the ${name} invalid; set bid.mtype 2 (video) or 3 (audio) if the imp offers it`,
    );
  }
  if (format === 'banner' && typeof bid.adm === 'string' && looksLikeNative(bid.adm)) {
    warnings.push(
      'bid.adm is a native response but the win is a banner: Tally added its pixel as to HTML, which leaves the JSON invalid; set bid.mtype 4 (native) if the imp offers it',
    );
  }
  const api = asObject(imp[format])?.api;
  // Beside the number, the string changes nothing: the imp offers OMID.
  if (Array.isArray(api) && api.includes(String(API_OMID)) && !api.includes(API_OMID)) {
    warnings.push(
      `imp.${format}.api holds "${API_OMID}", a string, where AdCOM's API frameworks are numbers: Tally reads OMID support from the number ${API_OMID} alone, so the imp is taken not to offer OMID; send ${API_OMID} as a number`,
    );
  }
  return warnings;
}

/** The formats Prebid Server names in `bid.ext.prebid.type`, where its bidders leave `mtype` unset. */
const PREBID_TYPES: ReadonlyMap<unknown, Format> = new Map<unknown, Format>([
  ['banner', 'banner'],
  ['video', 'video'],
  ['audio', 'audio'],
  ['native', 'native'],
]);

/** The format Prebid Server names in the bid's `ext.prebid.type`, if it names one. */
function prebidFormatOf(bid: OrtbBid): Format | undefined {
  return PREBID_TYPES.get(asObject(asObject(bid.ext)?.prebid)?.type);
}

/** The format the bid's `mtype` names, if it is one of OpenRTB's (1 to 4). */
function mtypeFormatOf(bid: OrtbBid): Format | undefined {
  return typeof bid.mtype === 'number' ? MTYPE_FORMATS[bid.mtype] : undefined;
}

function formatOf(imp: OrtbImp, bid: OrtbBid): Format | undefined {
  const mtypeFormat = mtypeFormatOf(bid);
  if (mtypeFormat !== undefined) return mtypeFormat;
  const prebidFormat = prebidFormatOf(bid);
  if (prebidFormat !== undefined) return prebidFormat;
  const present = MEDIA_KEYS.filter((key) => asObject(imp[key]) !== undefined);
  if (present.length === 1) return present[0];
  // A native adm may come as a JSON object rather than a string of it.
  const adm = asObject(bid.adm) !== undefined ? JSON.stringify(bid.adm) : bid.adm;
  if (typeof adm !== 'string' || adm.trim() === '') return undefined;
  const template = templateKind(adm);
  // DAAST is audio's own template; VAST serves either, video unless its ads say they are audio
  // (VAST 4.1's adType) or the imp offers audio alone.
  if (template === 'daast') return 'audio';
  if (template === 'vast') {
    if (present.includes('audio') && !present.includes('video')) return 'audio';
    return declaresAudioAds(adm) ? 'audio' : 'video';
  }
  if (looksLikeNative(adm)) return 'native';
  return 'banner';
}

function channelOf(request: OrtbBidRequest): Channel | undefined {
  const deviceType = asObject(request.device)?.devicetype;
  const hasSite = asObject(request.site) !== undefined;
  const hasApp = asObject(request.app) !== undefined;
  if ((hasSite || hasApp) && typeof deviceType === 'number' && STREAMING_TV_DEVICE_TYPES.has(deviceType))
    return 'ctv';
  if (hasApp) return 'app';
  if (hasSite) return 'web';
  return undefined;
}

/** The imp's media object for a format. */
function mediaObject(imp: OrtbImp, format: Format): OrtbMediaObject | undefined {
  return asObject(imp[format]);
}

function offersOmid(media: OrtbMediaObject | undefined): boolean {
  return Array.isArray(media?.api) && media.api.includes(API_OMID);
}

/** True when `value` is a classification error rather than a classification. */
export function isClassifyError(value: Classification | ClassifyError): value is ClassifyError {
  return 'code' in value;
}
