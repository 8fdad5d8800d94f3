// The visitor socket (docs/REALTIME.md): one WebSocket to /m/v1/socket, authenticated by the
// visitor token in its first frame, reconnected with backoff. What the frames mean is the
// messenger's business; this file only keeps the connection.

/** A frame from the server: a JSON object with its type in `t`, checked field by field where used. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Frame = any;

/** What the socket asks of the messenger. */
export interface Hooks {
  /** The visitor token for the auth frame. */
  token(): string;
  /** A frame from the server, ready included (the socket takes frames from then on). */
  frame(f: Frame): void;
  /** Close code 4001: get a fresh token (hello again); the socket reconnects once it settles. */
  renew(): Promise<void>;
  /** The socket failed three times in a row, or for good (retrying false): use HTTP. */
  fail(retrying: boolean): void;
}

export interface Live {
  /** Connects unless connected, connecting or given up (idempotent). */
  start(): void;
  /** Closes, and stays closed until start. */
  stop(): void;
  /** Sends a frame if the socket is ready (after the server's ready frame); false otherwise. */
  send(f: object): boolean;
}

/**
 * live keeps one socket to url. Failed attempts back off from 1 s, doubling to 30 s, with
 * jitter. Three failures in a row before the socket has ever worked on this page (a proxy that
 * refuses upgrades, say) end the attempts for the page, and so do 4003 and a Content Security
 * Policy that does not allow the URL; after the socket has worked once, a failing server gets
 * hooks.fail(true) and further attempts.
 */
export function live(url: string, hooks: Hooks): Live {
  let ws: WebSocket | null = null;
  let timer = 0;
  let renewing = false;
  let ready = false;
  let worked = false;
  let dead = false;
  let off = false; // stopped by the messenger
  let n = 0; // failed attempts in a row

  const later = () => {
    clearTimeout(timer);
    timer = 0;
    if (off || dead) return;
    const d = 1000 * 2 ** Math.max(0, n - 1) * (0.75 + Math.random() / 2);
    timer = window.setTimeout(() => {
      timer = 0;
      open();
    }, Math.min(30000, d));
  };
  const die = () => {
    if (dead) return;
    dead = true;
    later();
    hooks.fail(false);
  };
  // A policy that refuses the socket refuses it every time: one try is enough. (Chromium then
  // fires error but no close.) A report-only policy lets it through.
  document.addEventListener('securitypolicyviolation', (e) => {
    if (e.disposition == 'enforce' && e.blockedURI && !url.indexOf(e.blockedURI)) die();
  });

  function open() {
    if (ws || timer || renewing || dead || off) return;
    let s: WebSocket;
    try {
      s = new WebSocket(url);
    } catch (e) {
      return die(); // refused by a Content Security Policy, in older browsers
    }
    ws = s;
    ready = false;
    s.onopen = () => s.send(JSON.stringify({ t: 'auth', token: hooks.token() }));
    s.onmessage = (e) => {
      if (s != ws) return;
      let f: Frame;
      try {
        f = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      if (!f || typeof f != 'object') return;
      if (f.t == 'ready') {
        ready = worked = true;
        n = 0;
      }
      hooks.frame(f);
    };
    // A failed or broken connection fires error, then close with 1006 (or not at all).
    s.onerror = s.onclose = (e: Event) => {
      if (s != ws) return;
      ws = null;
      closed((e as CloseEvent).code || 1006);
    };
  }

  function closed(code: number) {
    const was = ready;
    ready = false;
    if (dead || code == 4003) return die();
    if (!was && ++n >= 3) {
      if (!worked) return die();
      if (n == 3) hooks.fail(true);
    }
    if (code == 4001) {
      renewing = true;
      hooks.renew().then(() => {
        renewing = false;
        later();
      });
      return;
    }
    later();
  }

  return {
    start() {
      off = false;
      open();
    },
    stop() {
      off = true;
      clearTimeout(timer);
      timer = 0;
      const s = ws;
      ws = null;
      ready = false;
      if (s) s.close(1000);
    },
    send(f) {
      if (!ws || !ready) return false;
      ws.send(JSON.stringify(f));
      return true;
    },
  };
}
