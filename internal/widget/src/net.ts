// Requests to the Beckon server's /m/v1 endpoints (docs/MESSENGER-PROTOCOL.md).

/** The outcome of a request: status (0 when the network failed), JSON body, Retry-After seconds. */
export interface Res {
  s: number;
  // The server's JSON, checked field by field where it is used.
  j: any;
  r: number;
}

/**
 * req calls url: GET without a body, POST with one. With a token it authenticates as the visitor
 * (`Authorization: Bearer`) and sends JSON; without one (hello) it sends the JSON as text/plain,
 * a CORS "simple" request that needs no preflight. It never throws, and gives up after 15 s.
 */
export async function req(url: string, token: string, body?: unknown): Promise<Res> {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = token ? 'application/json' : 'text/plain';
  const ctl = typeof AbortController == 'function' ? new AbortController() : null;
  const timer = setTimeout(() => ctl && ctl.abort(), 15000);
  try {
    const r = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      mode: 'cors',
      cache: 'no-store',
      signal: ctl ? ctl.signal : undefined,
    });
    let j = null;
    if (r.status != 204) {
      try {
        j = await r.json();
      } catch (e) {
        j = null;
      }
    }
    return { s: r.status, j, r: +(r.headers.get('Retry-After') || 0) || 0 };
  } catch (e) {
    return { s: 0, j: null, r: 0 };
  } finally {
    clearTimeout(timer);
  }
}

/** retryable reports whether a request that ended with status s may succeed if sent again. */
export const retryable = (s: number): boolean => s == 0 || s == 408 || s == 429 || s >= 500;

/** wait resolves after ms milliseconds. */
export const wait = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** backoff is the delay before retry number n (0, 1, …): Retry-After when given, else doubling from 1 s up to 30 s. */
export const backoff = (r: Res, n: number): number =>
  r.r > 0 ? Math.min(r.r, 300) * 1000 : Math.min(30000, 1000 * 2 ** n);
