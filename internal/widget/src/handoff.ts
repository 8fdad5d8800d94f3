// The contract between the snippet, the loader (beckon.js) and the messenger (messenger.<hash>.js).
//
// It is frozen: a browser may keep a loader cached for a year and run it with a newer messenger,
// so the messenger must accept every loader ever shipped. Add fields; never rename or remove one.
// docs/MESSENGER-PROTOCOL.md ("Loader and messenger") describes the same contract.

/** One queued call: the `arguments` of a `beckon(...)` call made before the messenger ran. */
export type Call = ArrayLike<unknown>;

/** What the loader hands to the messenger as `window.beckon.c`. */
export interface Config {
  /** The workspace's public site id, from the loader's `data-site` attribute. */
  s: string;
  /** The Beckon server's base URL (scheme, host, optional path), without a trailing slash. */
  b: string;
  /**
   * Finds where the state cookie can live, with the `__bk_domainTest` probe (set, read back,
   * removed). Returns the attribute to append to the cookie (";domain=acme.example", or "" for
   * a host-only cookie), or null when the browser stores no cookies. The messenger calls it only
   * once storing is allowed (consent), never before.
   */
  d: () => string | null;
  /** The CSP nonce of the loader's script tag, if any, passed on to the messenger's tag. */
  n?: string;
}

/** `window.beckon`: the command function with its queue, as the snippet and loader define it. */
export interface Stub {
  (...args: unknown[]): void;
  /** Calls made before the messenger ran, oldest first. */
  q?: Call[];
  /** Set by the loader. */
  c?: Config;
  /** Set by the messenger once it has taken over (so that a second copy stands down). */
  m?: 1;
}
