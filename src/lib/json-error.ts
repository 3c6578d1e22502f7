/** What `JSON.parse` says of `text` (where it stops, and why), or `''` when `text` is JSON. */
export function jsonError(text: string): string {
  try {
    JSON.parse(text);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}
