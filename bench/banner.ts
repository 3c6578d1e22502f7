// How banner HTML instrumentation costs per KB of markup, for markup shaped to be slow to read
// (many comments, `<template>`s, unclosed tags, attributes, `<svg>` nested deep, scripts, bogus
// comments, a long attribute value) beside ordinary markup of the same size timed in the same run,
// the baseline. A banner win makes two passes over its markup: filling its macros, each value
// escaped for where it stands (substituteMacrosInMarkup), then adding Tally's tags (appendToHtml);
// both are timed together, as a win thread runs them. Every input holds one macro, as a DSP's
// markup may, so that no input skips the reading of its regions. Wins are instrumented on a small
// pool of threads, so one slow creative delays every account's wins. The last column divides each
// shape's time per KB by the baseline's.
//
//   npm run bench:banner      (BENCH_SIZE_KB=1024 by default)
import { appendToHtml } from '../src/domain/banner.js';
import { substituteMacrosInMarkup } from '../src/domain/macros.js';
import type { MacroValues } from '../src/domain/macros.js';
import { medianMicros } from './median-micros.js';

const SIZE_KB = Number(process.env.BENCH_SIZE_KB ?? '1024');
const VALUES: MacroValues = { auctionId: 'auction-1', price: '2.5', currency: 'USD' };
const TAGS = ['<img src="https://tally.example/n/tok123" width="1" height="1" alt="" style="display:none">'];
/** The macro every input holds, in a tag. */
const HEAD = '<a href="https://dsp.example/c?a=${AUCTION_ID}">';

/** Markup of at least `bytes` bytes: `unit` repeated between `head` and `tail`. */
function sized(bytes: number, head: string, unit: string, tail = ''): string {
  const units = Math.max(1, Math.ceil((bytes - head.length - tail.length) / unit.length));
  return head + unit.repeat(units) + tail;
}

const ORDINARY =
  '<div class="ad" id="slot-1"><p>Hello <b>world</b> <a href="https://dsp.example/c?a=1&amp;b=2">more' +
  '</a></p><img src="https://cdn.example/i.png" width="300" height="250" alt=""></div>\n';

/** Input name → markup of at least that many bytes. All are ASCII: one character is one byte. */
const INPUTS: Record<string, (bytes: number) => string> = {
  'many comments': (bytes) => sized(bytes, HEAD, '<!---->'),
  'many <template>s': (bytes) => sized(bytes, HEAD, '<template>'),
  'many unclosed <div>s': (bytes) => sized(bytes, HEAD, '<div>'),
  'many attributes': (bytes) => sized(bytes, `${HEAD}<div`, ' a=1', '>'),
  'many <svg>s nested': (bytes) => sized(bytes, HEAD, '<svg>'),
  'many <g>s nested in <svg>': (bytes) => sized(bytes, `${HEAD}<svg>`, '<g>'),
  'many <math>s nested': (bytes) => sized(bytes, HEAD, '<math>'),
  'many <script>s': (bytes) => sized(bytes, HEAD, '<script>x</script>'),
  'many bogus comments': (bytes) => sized(bytes, HEAD, '<!x>'),
  'many <s': (bytes) => sized(bytes, HEAD, '<'),
  'long attribute value': (bytes) => sized(bytes, `${HEAD}<div title="`, 'x', '">'),
};

/** µs per KB to fill the macros of `markup` and add Tally's tags to it. */
function microsPerKb(markup: string): number {
  const instrument = () => appendToHtml(substituteMacrosInMarkup(markup, 'html', VALUES), TAGS);
  // Once untimed, so that the first input is not measured cold.
  instrument();
  return medianMicros(instrument) / (markup.length / 1024);
}

const baseline = microsPerKb(sized(SIZE_KB * 1024, HEAD, ORDINARY));
console.log(['input', `µs/KB @ ${SIZE_KB} KB`, '/ ordinary'].join('\t'));
console.log(['ordinary markup (baseline)', baseline.toFixed(1), '1.00'].join('\t'));
for (const [name, markupOf] of Object.entries(INPUTS)) {
  const perKb = microsPerKb(markupOf(SIZE_KB * 1024));
  console.log([name, perKb.toFixed(1), (perKb / baseline).toFixed(2)].join('\t'));
}
