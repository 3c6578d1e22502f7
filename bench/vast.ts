// How VAST instrumentation (instrumentVast) scales with the size of the markup: the time per KB
// for markup of 16 KB to 1 MB, for an ordinary document and for the shapes that once took time
// quadratic in their size (many ads; tags that no `>` closes, with a long name, a long run of
// spaces or a long declaration name; ads nested in ads), and for markup read a token or region at
// a time (many stray `<`, many comments). Wins are instrumented on a small pool of threads, so one
// slow creative delays every account's wins. The next-to-last column divides the time per KB at
// the largest size by that at the smallest: near 1 when the time is linear in the size, growing
// with the size when it is not; the last divides it by that of the first input, ordinary VAST, at
// the largest size in the same run. In brackets, the baseline measured in the same run: one
// call of fast-xml-parser's XMLValidator.validate on the same markup, which instrumentVast makes
// once (twice when the markup is well-formed). Its time is linear too, but it builds names and
// attributes a character at a time, so the garbage it leaves makes its time per KB vary, and grow
// from 16 KB to 1 MB on long tag names and on many tags, whatever instrumentVast does around it.
//
//   npm run bench:vast      (BENCH_SIZES_KB=16,64,256,1024 by default)
import { XMLValidator } from 'fast-xml-parser';
import { instrumentVast } from '../src/domain/vast.js';
import type { VastTrackers } from '../src/domain/vast.js';
import { medianMicros } from './median-micros.js';

const SIZES_KB = (process.env.BENCH_SIZES_KB ?? '16,64,256,1024').split(',').map(Number);
const TRACKERS: VastTrackers = {
  impressionUrl: 'https://tally.example/n/tok123?src=vast&cb=42',
  errorUrl: 'https://tally.example/e/tok123?code=[ERRORCODE]',
};

/** Markup of at least `bytes` bytes: `unit` repeated between `head` and `tail`. */
function sized(bytes: number, head: string, unit: string, tail: string): string {
  return head + unit.repeat(Math.max(1, Math.ceil((bytes - head.length - tail.length) / unit.length))) + tail;
}

const IN_INLINE = '<VAST version="3.0"><Ad><InLine><AdSystem>dsp</AdSystem>';
const END_INLINE = '<AdTitle>t</AdTitle></InLine></Ad></VAST>';
const NESTED_AD_OPENING = '<Ad><InLine>';
const NESTED_AD_CLOSING = '</InLine></Ad>';

/** Input name → markup of at least that many bytes. All are ASCII: one character is one byte. */
const INPUTS: Record<string, (bytes: number) => string> = {
  'one ad, many trackers': (bytes) =>
    sized(
      bytes,
      `${IN_INLINE}<Impression><![CDATA[https://dsp.example/imp]]></Impression><Creatives><Creative>` +
        '<Linear><TrackingEvents>',
      '\n  <Tracking event="progress" offset="00:00:05"><![CDATA[https://dsp.example/t?e=5]]></Tracking>',
      '</TrackingEvents></Linear></Creative></Creatives></InLine></Ad></VAST>',
    ),
  'many ads': (bytes) =>
    sized(bytes, '<VAST version="3.0">', '<Ad><InLine><Impression>x</Impression></InLine></Ad>', '</VAST>'),
  'ads nested in ads': (bytes) => {
    const openings = sized(bytes / 2, '', NESTED_AD_OPENING, '');
    const closings = NESTED_AD_CLOSING.repeat(openings.length / NESTED_AD_OPENING.length);
    return `<VAST version="3.0">${openings}${closings}</VAST>`;
  },
  'unclosed tag, long name': (bytes) => sized(bytes, `${IN_INLINE}<Impression`, 'b', END_INLINE),
  'unclosed tag, long run of spaces': (bytes) => sized(bytes, `${IN_INLINE}<`, ' ', `!${END_INLINE}`),
  'unclosed declaration, long name': (bytes) => sized(bytes, `${IN_INLINE}<!A`, 'A', `>${END_INLINE}`),
  'many unclosed tags': (bytes) => sized(bytes, IN_INLINE, '<Impression', END_INLINE),
  'many stray <s': (bytes) => sized(bytes, IN_INLINE, '<', END_INLINE),
  'many comments': (bytes) => sized(bytes, IN_INLINE, '<!---->', END_INLINE),
};

const header = [
  'input',
  ...SIZES_KB.map((kb) => `µs/KB @ ${kb} KB (validator)`),
  'largest / smallest',
  '/ ordinary',
];
console.log(header.join('\t'));
/** µs per KB at the largest size of the first input, ordinary VAST: each input's is divided by it. */
let ordinaryMicrosPerKb: number | undefined;
for (const [name, markupOf] of Object.entries(INPUTS)) {
  // Once untimed at the smallest size, so that the first size is not measured cold.
  instrumentVast(markupOf((SIZES_KB[0] ?? 16) * 1024), TRACKERS);
  const cells = SIZES_KB.map((kb) => {
    const markup = markupOf(kb * 1024);
    const kilobytes = markup.length / 1024;
    return {
      microsPerKb: medianMicros(() => instrumentVast(markup, TRACKERS)) / kilobytes,
      validatorMicrosPerKb: medianMicros(() => XMLValidator.validate(markup)) / kilobytes,
    };
  });
  const largestMicrosPerKb = cells.at(-1)?.microsPerKb ?? Number.NaN;
  ordinaryMicrosPerKb ??= largestMicrosPerKb;
  const ratio = largestMicrosPerKb / (cells[0]?.microsPerKb ?? Number.NaN);
  const timings = cells.map(
    (cell) => `${cell.microsPerKb.toFixed(1)} (${cell.validatorMicrosPerKb.toFixed(1)})`,
  );
  const againstOrdinary = largestMicrosPerKb / ordinaryMicrosPerKb;
  console.log([name, ...timings, ratio.toFixed(2), againstOrdinary.toFixed(2)].join('\t'));
}
