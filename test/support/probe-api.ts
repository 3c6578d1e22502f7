import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAccountStore } from '../../src/adapters/sqlite/accounts.js';
import { openSqlite } from '../../src/adapters/sqlite/database.js';
import { newApiKey } from '../../src/control/auth.js';
import { busyRefusal } from '../../src/control/api-error.js';
import { readJson } from '../../src/control/json-body.js';
import type { Route } from '../../src/control/router.js';
import { sendJson } from '../../src/control/send.js';
import type { KeyScope, Role } from '../../src/ports/accounts.js';
import type { ApiServer } from './api-server.js';
import { serveApi } from './api-server.js';
import { rawExchange } from './raw-http.js';

/** What the probe route `GET /v1/busy` refuses every call with, as Tally is busy. */
export const BUSY_MESSAGE = 'Tally is busy: retry the call in a second';

/** Most bytes the probe route `POST /v1/bodies` reads of a body. */
export const PROBE_MAX_BODY_BYTES = 100;

/**
 * Routes that show what the control plane's routing, auth, answers and body reading did, served
 * over loopback through Tally's own API handler with keys from a real SQLite account store.
 */
export interface ProbeApi {
  server: ApiServer;
  /** `http://127.0.0.1:<port>`. */
  base: string;
  /** A key of the operator account with the editor role. */
  editorKey: string;
  /** Stores a new key of the operator account with `role` and `scope`; returns the key. */
  keyFor(role: Role, scope?: KeyScope | null): string;
  /** How many times `POST /v1/bodies` began reading a body. */
  bodiesBeingRead(): number;
  /** Fetches `path` with `key` (the editor's unless given) as the Bearer key. */
  call(path: string, init?: RequestInit, key?: string): Promise<Response>;
  /** Sends `head` and `body` on a raw connection; resolves with all that is answered until it closes. */
  rawAnswer(head: string, body: Buffer): Promise<string>;
  /** Stops serving and deletes the account store. */
  close(): Promise<void>;
}

/**
 * Serves the probe routes: `GET /v1/things/:name` (answers the name and the caller), `POST
 * /v1/bodies` (answers the JSON body it read, of at most {@link PROBE_MAX_BODY_BYTES}), `GET
 * /v1/no-query` (ignores its query), and routes that fail: after the answer began (`/v1/half`),
 * with an internal error (`/v1/broken`), and with SQLite's full disk (`/v1/disk-full`); and one
 * that refuses every call as Tally refuses one when busy (`/v1/busy`, saying {@link BUSY_MESSAGE}).
 */
export async function serveProbeApi(): Promise<ProbeApi> {
  let bodiesBeingRead = 0;
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/v1/things/:name',
      readsQuery: true,
      handler: (ctx) =>
        sendJson(ctx.res, 200, { name: ctx.params.name, principal: ctx.principal }, ctx.requestId),
    },
    {
      method: 'POST',
      path: '/v1/bodies',
      async handler(ctx) {
        bodiesBeingRead++;
        sendJson(ctx.res, 200, { body: await readJson(ctx.req, PROBE_MAX_BODY_BYTES) }, ctx.requestId);
      },
    },
    {
      method: 'GET',
      path: '/v1/no-query',
      ignoresQuery: true,
      handler: (ctx) => sendJson(ctx.res, 200, { ok: true }, ctx.requestId),
    },
    {
      method: 'GET',
      path: '/v1/half',
      handler(ctx) {
        ctx.res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '10' });
        ctx.res.write('abc');
        throw new Error('failed after the answer began');
      },
    },
    {
      method: 'GET',
      path: '/v1/broken',
      handler() {
        throw new Error('SQLITE_CORRUPT at /var/lib/tally/secret.db');
      },
    },
    {
      method: 'GET',
      path: '/v1/busy',
      handler() {
        throw busyRefusal(BUSY_MESSAGE);
      },
    },
    {
      method: 'GET',
      path: '/v1/disk-full',
      handler() {
        // Fault injection: SQLite's own error for a write to a full disk.
        throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      },
    },
  ];

  const dir = mkdtempSync(join(tmpdir(), 'tally-http-'));
  const db = openSqlite(join(dir, 'tally.db'));
  const accounts = new SqliteAccountStore(db);
  const keyFor = (role: Role, scope: KeyScope | null = null): string => {
    const { key, hash, prefix } = newApiKey();
    accounts.addKey(1, hash, prefix, role, role, scope, Date.now());
    return key;
  };
  accounts.createAccount('operator', Date.now());
  const editorKey = keyFor('editor');
  const server = await serveApi(routes, accounts);
  const base = server.base;
  return {
    server,
    base,
    editorKey,
    keyFor,
    bodiesBeingRead: () => bodiesBeingRead,
    call: (path, init = {}, key = editorKey) =>
      fetch(`${base}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) },
      }),
    rawAnswer: (head, body) => rawExchange(base, Buffer.concat([Buffer.from(head, 'latin1'), body])),
    async close() {
      await server.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An error answer's status and code. */
export async function errorOf(response: Response): Promise<[number, string]> {
  const body = (await response.json()) as { error: { code: string } };
  return [response.status, body.error.code];
}
