// Constants the build (internal/widget/build) defines, and the page globals Beckon touches.

/** The content hash of messenger.js, defined into the loader at build time. */
declare const __MESSENGER_HASH__: string;
/** The minified stylesheet, defined into the messenger at build time. */
declare const __CSS__: string;
/** The content hash of messenger.css (the <link> fallback), defined into the messenger. */
declare const __CSS_HASH__: string;

interface Window {
  beckon?: import('./handoff').Stub;
  dataLayer?: unknown[];
  gtag?: (...args: unknown[]) => void;
}
