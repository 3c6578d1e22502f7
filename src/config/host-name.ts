/**
 * A host name: dot-separated labels of letters, digits, inner hyphens and underscores (as
 * container service names have), at most 63 characters each and 253 in all, with an optional
 * final dot; the last label not all digits, so that `999.1.1.1`, no IPv4 address, is not taken
 * for a name.
 */
export function isHostName(host: string): boolean {
  const labels = host.replace(/\.$/, '').split('.');
  return (
    host.length <= 253 &&
    labels.every((label) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label)) &&
    !/^\d+$/.test(labels.at(-1) ?? '')
  );
}
