// Calls to the REST API (/api/v1) with the console's session cookie and its CSRF token.

/** ApiError is a refused call: the HTTP status (0 when the network failed) and the API's error. */
export class ApiError extends Error {
  status: number;
  code: string;
  field: string;
  constructor(status: number, code: string, message: string, field: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let csrfToken = '';

/** setCSRF sets the session's CSRF token, which every state-changing call carries. */
export function setCSRF(token: string): void {
  csrfToken = token;
}

/**
 * api calls the REST API and returns its JSON answer (null for 204). It throws ApiError for an
 * error answer, a network failure (status 0) or after 20 s without an answer.
 */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method != 'GET') headers['X-CSRF-Token'] = csrfToken;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 20000);
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: ctl.signal,
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server could not be reached. Check your connection.', '');
  } finally {
    clearTimeout(timer);
  }
  let j: any = null;
  if (res.status != 204) {
    try {
      j = await res.json();
    } catch (e) {
      j = null;
    }
  }
  if (!res.ok) {
    const e = (j && j.error) || {};
    const msg = typeof e.message == 'string' && e.message ? e.message : 'The request failed (' + res.status + ').';
    throw new ApiError(res.status, typeof e.code == 'string' ? e.code : '', msg, typeof e.field == 'string' ? e.field : '');
  }
  return j as T;
}

/** message turns an error into a sentence to show. */
export function message(e: unknown): string {
  let s = e instanceof Error ? e.message : String(e);
  s = s.trim();
  if (!s) return 'Something went wrong.';
  s = s.charAt(0).toUpperCase() + s.slice(1);
  return /[.!?]$/.test(s) ? s : s + '.';
}

let seq = 0;

/** clientID makes an id for a message the rep sends, so that a retry is stored once. */
export function clientID(): string {
  const r = new Uint8Array(8);
  crypto.getRandomValues(r);
  let s = 'c' + Date.now().toString(36) + '-' + (++seq).toString(36) + '-';
  for (const b of r) s += b.toString(16).padStart(2, '0');
  return s;
}
