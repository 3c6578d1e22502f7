/**
 * The `code` a Node.js or SQLite error carries (`ENOENT`, `EADDRINUSE`, `SQLITE_FULL`…), or
 * `undefined` for an error without one (or anything thrown that is no error).
 */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
