/** A desktop Chrome's User-Agent: a human's browser, which every IVT rule lets through. */
export const CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36';
