/** The request facts the counting rules read. Header names are lower case, as node:http gives them. */
export interface HitRequest {
  method: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The TCP peer's address. */
  remoteAddress: string;
}

/** The value of header `name` (lower case), its first when repeated, spaces around it trimmed. */
export function header(request: HitRequest, name: string): string | undefined {
  const value = request.headers[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text === undefined ? undefined : text.trim();
}
