// A proof handed to the verifier page by another page of the same origin
// (the explorer's "verify in this browser" link): in the URL fragment,
// `#bundle=` and the document's UTF-8 bytes in unpadded base64url, or, for
// documents too long for a URL, in sessionStorage under PRELOAD_KEY with
// the fragment `#preload`. The page only fills its proof field with it and
// verifies it as it would a pasted one: a preloaded document is never
// trusted for having been preloaded.

/** The sessionStorage key of a preloaded document. */
export const PRELOAD_KEY = 'pantheon.verify.preload';

/** Longest fragment the explorer writes (longer documents go through sessionStorage). */
export const MAX_FRAGMENT = 256 * 1024;

export function toBase64Url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The text of unpadded base64url; null if it is not base64url of UTF-8. */
export function fromBase64Url(s: string): string | null {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return null;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The verifier's address for `text`, relative to the origin's root. */
export function verifierHref(text: string): string {
  const f = toBase64Url(text);
  return f.length <= MAX_FRAGMENT ? `/verify#bundle=${f}` : '/verify#preload';
}

/** The preloaded document named by `fragment` (location.hash), read from
 * sessionStorage if the fragment says so; null if none. */
export function takePreload(fragment: string, storage: Pick<Storage, 'getItem'> | null): { text: string; from: 'fragment' | 'session' } | { error: string } | null {
  if (fragment.startsWith('#bundle=')) {
    const text = fromBase64Url(fragment.slice('#bundle='.length));
    return text === null ? { error: 'the link\'s #bundle= fragment is not base64url of UTF-8 text' } : { text, from: 'fragment' };
  }
  if (fragment === '#preload') {
    const text = storage?.getItem(PRELOAD_KEY) ?? null;
    return text === null ? { error: 'no preloaded proof in this tab (it is kept in the tab that opened it)' } : { text, from: 'session' };
  }
  return null;
}
