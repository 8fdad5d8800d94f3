// The first-party cookies (M4): `_bk_state_<site id>` holds the visitor token and the messenger's
// state; `_bk_optout_<site id>` remembers a refusal. Nothing here runs before storing is allowed,
// except reading.

export type Consent = '' | 'granted' | 'denied';

/** The state cookie's value: visitor token, panel open, consent given. */
export interface State {
  t: string;
  o: 0 | 1;
  c: Consent;
}

/** Cookies bound to one site id, written on the domain the loader's probe finds. */
export interface Store {
  read(): State | null;
  write(s: State, days: number): void;
  clear(): void;
  optedOut(): boolean;
  optOut(days: number): void;
  optIn(): void;
}

export function store(site: string, probe: () => string | null): Store {
  const id = site.replace(/[^\w-]/g, '');
  const stateName = '_bk_state_' + id;
  const optName = '_bk_optout_' + id;
  let attr: string | null | undefined; // the probe's answer, asked once, only when writing

  const get = (name: string): string | null => {
    try {
      for (const c of document.cookie.split(';')) {
        const i = c.indexOf('=');
        if (c.slice(0, i).trim() == name) return c.slice(i + 1).trim();
      }
    } catch (e) {
      // cookies are blocked
    }
    return null;
  };
  const set = (name: string, value: string, days: number) => {
    if (attr === undefined) attr = probe();
    if (attr === null) return;
    const secure = location.protocol == 'https:' ? ';Secure' : '';
    const age = Math.max(1, Math.min(days || 395, 400)) * 86400;
    try {
      document.cookie = `${name}=${value};path=/;Max-Age=${age};SameSite=Lax${secure}${attr}`;
    } catch (e) {
      // cookies are blocked
    }
  };
  // Removing tries host-only and every parent domain, so that it needs no probe (which would
  // store something) and finds the cookie wherever an earlier page put it.
  const del = (name: string) => {
    if (get(name) === null) return;
    const parts = location.hostname.split('.');
    for (let i = parts.length - 1; i >= -1; i--) {
      try {
        document.cookie = `${name}=;path=/;Max-Age=0` + (i < 0 ? '' : ';domain=' + parts.slice(i).join('.'));
      } catch (e) {
        // cookies are blocked
      }
    }
  };

  return {
    read() {
      const v = get(stateName);
      if (!v) return null;
      try {
        const s = JSON.parse(atob(v.replace(/-/g, '+').replace(/_/g, '/')));
        if (s && typeof s.t == 'string') {
          return { t: s.t, o: s.o ? 1 : 0, c: s.c == 'granted' || s.c == 'denied' ? s.c : '' };
        }
      } catch (e) {
        // not ours, or damaged: start afresh
      }
      return null;
    },
    write(s, days) {
      const v = btoa(JSON.stringify(s)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
      set(stateName, v, days);
    },
    clear: () => del(stateName),
    optedOut: () => get(optName) == '1',
    optOut: (days) => set(optName, '1', days),
    optIn: () => del(optName),
  };
}
