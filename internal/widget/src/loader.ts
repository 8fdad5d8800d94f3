// The loader, /js/beckon.js: the only Beckon script a page loads up front. It keeps the command
// queue, hands the site id and base URL to the messenger, and injects the messenger after the
// page has painted. It must never throw, block or change the page: everything is in a try, and
// a failed messenger load just leaves the queue unread.
import type { Stub } from './handoff';

interface TrustedTypes {
  createPolicy(name: string, rules: { createScriptURL(u: string): string }): { createScriptURL(u: string): unknown };
}

((w: Window, d: Document) => {
  try {
    const me = (d.currentScript ||
      d.querySelector('script[data-site][src*="/js/beckon.js"]')) as HTMLScriptElement | null;
    const src = me ? me.src : '';
    const at = src.indexOf('/js/beckon.js');
    const site = me && me.getAttribute('data-site');
    if (!site || at < 0) return;
    // The snippet defines window.beckon; a page that pasted only the script tag gets it here.
    const b: Stub =
      w.beckon ||
      (w.beckon = function () {
        (b.q = b.q || []).push(arguments);
      } as Stub);
    if (b.c) return; // a second copy of the loader
    b.q = b.q || [];
    const base = src.slice(0, at);
    const nonce = me!.nonce;

    // The probe: from the shortest candidate ("acme.example") to the full host name, and last
    // host-only, set __bk_domainTest, keep the first that sticks, and remove it at once.
    const probe = (): string | null => {
      try {
        const host = location.hostname;
        const parts = host.split('.');
        const ip = /^[\d.]+$|:/.test(host);
        for (let i = ip ? -1 : parts.length - 2; i >= -1; i--) {
          const attr = i < 0 ? '' : ';domain=' + parts.slice(i).join('.');
          const v = '__bk_domainTest=' + Math.random();
          d.cookie = v + ';path=/;SameSite=Lax' + attr;
          if (d.cookie.indexOf(v) >= 0) {
            d.cookie = '__bk_domainTest=;path=/;Max-Age=0' + attr;
            return attr;
          }
        }
      } catch (e) {
        // cookies are blocked (a sandboxed frame, say)
      }
      return null;
    };
    b.c = { s: site, b: base, d: probe, n: nonce };

    let done = 0;
    const inject = () => {
      if (done++) return;
      try {
        const m = d.createElement('script');
        let url: unknown = base + '/js/messenger.' + __MESSENGER_HASH__ + '.js';
        // Pages that enforce Trusted Types must allow the policy "beckon" (docs/SNIPPET.md).
        const tt = (w as unknown as { trustedTypes?: TrustedTypes }).trustedTypes;
        if (tt) url = tt.createPolicy('beckon', { createScriptURL: (u: string) => u }).createScriptURL(url as string);
        m.async = true;
        m.src = url as string;
        if (nonce) m.nonce = nonce;
        (d.head || d.documentElement).appendChild(m);
      } catch (e) {
        // a Trusted Types policy the page does not allow: no chat, and no harm
      }
    };
    // After first paint and the page's own loading: on load, when the main thread is idle.
    const idle = () => {
      const ric = w.requestIdleCallback;
      ric ? ric(inject, { timeout: 2000 }) : setTimeout(inject, 50);
    };
    d.readyState == 'complete' ? idle() : w.addEventListener('load', idle);
    setTimeout(inject, 8000); // a page whose load event never comes (a hanging image) still gets chat
  } catch (e) {
    // never break the page
  }
})(window, document);
