/** Routing API requests: the routes, what their handlers get, and matching a request to one. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from './auth.js';
import { ApiError } from './api-error.js';

/** What a route handler gets. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
  requestId: string;
  /** The authenticated caller; set for every route but the public ones. */
  principal: Principal;
  /**
   * Throws 401 when the caller's key was revoked since the request began. A route reading a body
   * (a write, an export) calls it once the body is read, just before it acts on it: a key revoked
   * while the body arrived neither writes nor is answered.
   */
  requireLiveKey(): void;
}

/** One API route. `path` uses `:name` segments, e.g. `/v1/advertisers/:id`. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  /** Public routes need no API key. */
  public?: boolean;
  /**
   * The route reads no query, so it answers whatever query comes, even one with a malformed
   * %-escape (an unfilled `%%CACHEBUSTER%%` macro): other routes refuse that with 400.
   */
  ignoresQuery?: boolean;
  /**
   * The route reads query parameters (and refuses those it does not know). A route that neither
   * reads nor ignores the query refuses every query parameter: a client sending one expects it to
   * change the answer or the write (`?dryRun=1`), and it would not.
   */
  readsQuery?: boolean;
  /**
   * The media types the route answers in besides JSON, in which every route answers its errors
   * (`text/csv` for reports): an `Accept` accepting none of them nor JSON is refused 406.
   */
  answers?: readonly string[];
  handler(ctx: RequestContext): Promise<void> | void;
}

interface CompiledRoute extends Route {
  pattern: RegExp;
  names: string[];
}

/** Matches requests to routes; answers 404 / 405 in the error envelope. */
export class Router {
  private readonly routes: CompiledRoute[] = [];

  add(...routes: Route[]): void {
    for (const route of routes) {
      const names: string[] = [];
      const source = route.path.replace(/:([a-zA-Z]+)/g, (_match, name: string) => {
        names.push(name);
        return '([^/]+)';
      });
      this.routes.push({ ...route, pattern: new RegExp(`^${source}$`), names });
    }
  }

  /** Every method some route takes (`HEAD` with each `GET`), in the order the routes were added. */
  methods(): string[] {
    return [
      ...new Set(this.routes.flatMap((route) => (route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]))),
    ];
  }

  /** The route for a request, with its path parameters; throws 404/405 `ApiError`s. */
  match(method: string, pathname: string): { route: Route; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const match = route.pattern.exec(pathname);
      if (match === null) continue;
      allowed.push(...(route.method === 'GET' ? ['GET', 'HEAD'] : [route.method]));
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET')) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, index) => (params[name] = decodePathSegment(match[index + 1] ?? '')));
      return { route, params };
    }
    if (allowed.length > 0) {
      const allow = allowed.join(', ');
      throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${pathname}; use ${allow}`, {
        Allow: allow,
      });
    }
    // A trailing `/` is a common slip: `/v1/advertisers/` names the list without it.
    const unslashed = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : undefined;
    if (unslashed !== undefined && this.routes.some((route) => route.pattern.test(unslashed)))
      throw new ApiError(
        404,
        'NOT_FOUND',
        `no such endpoint: ${method} ${pathname}; send it without the trailing /: ${unslashed}`,
      );
    throw new ApiError(404, 'NOT_FOUND', `no such endpoint: ${method} ${pathname}; see /docs for the API`);
  }
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ApiError(
      400,
      'VALIDATION_FAILED',
      `the path segment ${JSON.stringify(segment)} has a malformed %-escape`,
    );
  }
}
