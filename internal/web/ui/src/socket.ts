// The rep socket (GET /console/socket, docs/REALTIME.md): one connection a page, reconnected with
// backoff (1 s doubling to 30 s, with jitter) whenever it drops.

/** Frame is one JSON frame; its fields are checked where they are used. */
export interface Frame {
  t: string;
  [k: string]: any;
}

/** State is the connection's state as the page shows it. */
export type State = 'connecting' | 'open' | 'closed' | 'ended';

type Handler = (f: Frame) => void;

/** Close codes after which reconnecting cannot help. */
const final: Record<number, string> = { 4001: 'Your session has ended. Log in again.', 4003: 'You may not use the live console.' };

export class RepSocket {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer = 0;
  private handlers: Record<string, Handler[]> = {};
  private stateHandlers: Array<(s: State, why: string) => void> = [];
  private openHandlers: Array<() => void> = [];
  state: State = 'closed';
  readonly url: string;
  /**
   * probe, when set, is asked after repeated failures to connect why they fail: a message ends
   * the retries (the session has ended), "" keeps retrying. A refused upgrade (401, 403) reaches
   * the page only as a failed connection.
   */
  probe: (() => Promise<string>) | null = null;

  constructor(url?: string) {
    this.url = url || (location.protocol == 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/console/socket';
  }

  /** on calls fn for every frame of type t. */
  on(t: string, fn: Handler): void {
    (this.handlers[t] = this.handlers[t] || []).push(fn);
  }

  /** onOpen calls fn each time the socket (re)connects: the moment to (re)subscribe. */
  onOpen(fn: () => void): void {
    this.openHandlers.push(fn);
  }

  /** onState calls fn whenever the connection's state changes. */
  onState(fn: (s: State, why: string) => void): void {
    this.stateHandlers.push(fn);
  }

  /** start connects, and keeps reconnecting until the page goes away. */
  start(): void {
    window.addEventListener('online', () => this.now());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState == 'visible') this.now();
    });
    this.connect();
  }

  /** send sends a frame when the socket is open and reports whether it did. */
  send(f: Frame): boolean {
    if (!this.ws || this.ws.readyState != WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(f));
    return true;
  }

  get isOpen(): boolean {
    return !!this.ws && this.ws.readyState == WebSocket.OPEN;
  }

  /** now reconnects at once when the socket is waiting to retry. */
  private now(): void {
    if (this.state == 'closed' && this.timer) {
      clearTimeout(this.timer);
      this.timer = 0;
      this.connect();
    }
  }

  private setState(s: State, why = ''): void {
    this.state = s;
    for (const fn of this.stateHandlers) fn(s, why);
  }

  private connect(): void {
    this.timer = 0;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (e) {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState('open');
      for (const fn of this.openHandlers) fn();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data != 'string') return;
      let f: any;
      try {
        f = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (!f || typeof f != 'object' || typeof f.t != 'string') return;
      const hs = this.handlers[f.t];
      if (!hs) return;
      for (const fn of hs) {
        try {
          fn(f);
        } catch (e) {
          console.error('beckon: frame ' + f.t, e);
        }
      }
    };
    ws.onclose = (ev) => {
      if (this.ws != ws) return;
      this.ws = null;
      const why = final[ev.code];
      if (why) {
        this.setState('ended', why);
        return;
      }
      this.retry();
    };
  }

  private retry(): void {
    this.setState('closed');
    if (this.probe && this.attempt >= 2) {
      const probe = this.probe;
      probe().then((why) => {
        if (why && this.state == 'closed') {
          clearTimeout(this.timer);
          this.timer = 0;
          this.setState('ended', why);
        }
      });
    }
    const base = Math.min(30000, 1000 * Math.pow(2, this.attempt));
    this.attempt = Math.min(this.attempt + 1, 10);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
