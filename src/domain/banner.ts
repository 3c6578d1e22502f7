import { escapeHtml } from './html.js';
import type { HtmlRegion } from './html-regions.js';
import { htmlRegions, isHtmlStartTag, startTagAttributes } from './html-regions.js';

/** A 1×1 image tag that requests `url` when the markup renders. */
export function pixelTag(url: string): string {
  return `<img src="${escapeHtml(url)}" width="1" height="1" alt="" style="display:none">`;
}

/**
 * An `<amp-pixel>` that requests `url` once the AMPHTML ad is first visible: AMP4ADS allows it,
 * where it allows no `<img>` (the AMP runtime fires it, at an https URL only).
 */
export function ampPixelTag(url: string): string {
  return `<amp-pixel src="${escapeHtml(url)}" layout="nodisplay"></amp-pixel>`;
}

/**
 * `url` with each capital letter of its last path segment (a notice token) that would stand right
 * after another written as its percent-escape (which Tally reads as the letter): the AMP runtime
 * replaces the name of any of its URL variables (`RANDOM`, `TITLE`…) wherever it stands in an
 * `<amp-pixel>`'s URL, which would change a token that happened to spell one, and every such name
 * has two capital letters side by side.
 */
export function withoutAmpVariableNames(url: string): string {
  const segment = url.lastIndexOf('/') + 1;
  let written = url.slice(0, segment);
  for (const char of url.slice(segment)) {
    const afterCapital = /[A-Z]$/.test(written);
    written +=
      afterCapital && /^[A-Z]$/.test(char) ? `%${char.charCodeAt(0).toString(16).toUpperCase()}` : char;
  }
  return written;
}

/** The attributes of the `<html>` tag that make a document an AMPHTML ad (AMP4ADS). */
const AMP4ADS_ATTRIBUTES = new Set(['⚡4ads', 'amp4ads']);

/**
 * Whether HTML ad markup is an AMPHTML ad: an `<html>` start tag a browser reads as a tag (not in a
 * comment, a script or SVG) has the `⚡4ads` or `amp4ads` attribute, as AMP4ADS requires.
 */
export function isAmpHtmlAd(adm: string): boolean {
  if (!/⚡4ads|amp4ads/i.test(adm)) return false;
  return htmlRegions(adm).some(
    (region) =>
      isHtmlStartTag(adm, region, 'html') &&
      startTagAttributes(adm, region.start).some((attribute) => AMP4ADS_ATTRIBUTES.has(attribute.name)),
  );
}

/**
 * Tally's OMID verification script tag. The script (served by Tally) reports the OMID
 * one-pixel impression event by requesting `noticeUrl`.
 */
export function omidScriptTag(scriptUrl: string, noticeUrl: string): string {
  return `<script src="${escapeHtml(scriptUrl)}" data-tally-notice="${escapeHtml(noticeUrl)}"></script>`;
}

/**
 * Adds tags to HTML ad markup: before the document's last `</body>` end tag, else before a
 * `<plaintext>` (whose text runs to the end of the markup; before the outermost `<template>` or
 * `<select>` open around it, which would hold them inert), else at the end, closing first a
 * comment, a script or a start tag the markup leaves open (a browser ends it there anyway, and
 * would otherwise read the tags as its text or its attributes), then SVG or MathML content, then
 * a `<picture>` the tags would be children of (its `<img>`), then a `<select>` or `<template>`
 * left open, which would hold the tags without rendering them. SVG or MathML content open before
 * that `</body>` is closed too: there Tally's `<script>` would be SVG's, which loads nothing (an
 * `<img>` leaves such content as its end tag does); and so is a `<picture>` open innermost there.
 * The markup is otherwise unchanged.
 */
export function appendToHtml(adm: string, tags: readonly string[]): string {
  const snippet = tags.join('');
  const regions = htmlRegions(adm);
  const { bodyEnd, plaintext, open } = readElements(adm, regions);
  if (bodyEnd !== undefined) {
    const { start, foreignCloser = '', inPicture } = bodyEnd;
    return adm.slice(0, start) + foreignCloser + pictureCloser(inPicture) + snippet + adm.slice(start);
  }
  if (plaintext !== undefined) return adm.slice(0, plaintext) + snippet + adm.slice(plaintext);
  const closer = regions.find((region) => region.closer !== undefined)?.closer ?? '';
  const last = regions.at(-1);
  return (
    adm +
    closer +
    (last?.foreignCloser ?? '') +
    pictureCloser(last?.inPicture) +
    open
      .toReversed()
      .map(({ name }) => `</${name}>`)
      .join('') +
    snippet
  );
}

/**
 * `</picture>` where the tags would be a `<picture>`'s first children (`inPicture`): a browser
 * loads a `<source>` of the picture in place of the `src` of an `<img>` inside it.
 */
function pictureCloser(inPicture: true | undefined): string {
  return inPicture === true ? '</picture>' : '';
}

/**
 * Elements that hold what is put inside them without rendering it: `<template>`, whose content is
 * inert, and `<select>`, which renders its options.
 */
const HOLDING_ELEMENTS = new Set(['template', 'select']);

/** What of the markup's elements decides where tags go. */
interface ElementsRead {
  /**
   * The last `</body>` end tag that a browser reads as a tag and takes for the document's end: not
   * one inside a comment, a script or another element whose content is text, inside an attribute
   * value (an iframe's `srcdoc` document), inside another end tag (`</div</body>`, whose name is
   * `div<`), or inside a `<template>` or `<select>`, which ignore it.
   */
  bodyEnd?: HtmlRegion;
  /**
   * Where the first `<plaintext>` start tag begins, or the outermost `<template>` or `<select>`
   * open around it.
   */
  plaintext?: number;
  /** The `<template>` and `<select>` elements left open at the end, outermost first. */
  open: { name: string; start: number }[];
}

/** Reads the tags of `html`, given its regions, for what decides where tags go. */
function readElements(html: string, regions: readonly HtmlRegion[]): ElementsRead {
  const read: ElementsRead = { open: [] };
  for (const region of regions) {
    const { kind, name, start, foreign } = region;
    if (kind !== 'tag' || name === undefined) continue;
    const isEnd = html.startsWith('</', start);
    // Inside SVG or MathML too, a browser reads `</body>` as the body's end.
    if (name === 'body' && isEnd && read.open.length === 0) read.bodyEnd = region;
    if (foreign === true) continue;
    if (name === 'plaintext' && !isEnd) read.plaintext ??= read.open[0]?.start ?? start;
    if (!HOLDING_ELEMENTS.has(name)) continue;
    // An end tag closes the element and those opened inside it, and a `<select>` in a `<select>`
    // closes it too; but not across a `<template>`, whose content starts afresh. So at most one
    // `<select>` is open since the last `<template>`, and it is the innermost element: each tag
    // needs only the innermost two, which keeps the reading linear in the number of tags.
    const innermost = read.open.at(-1)?.name;
    if (name === 'select') {
      if (innermost === 'select') read.open.pop();
      else if (!isEnd) read.open.push({ name, start });
    } else if (!isEnd) read.open.push({ name, start });
    else {
      const template = read.open.length - (innermost === 'select' ? 2 : 1);
      if (read.open[template]?.name === 'template') read.open.length = template;
    }
  }
  return read;
}
