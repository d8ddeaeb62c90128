/**
 * Redaction of secrets that travel inside text rather than in a field of their
 * own: the userinfo of a URL (`http://user:pass@host`, the form MLflow's and
 * most clients' URIs accept) and values a process knows to be secret. Lives
 * next to the logger because the logger's redaction calls it; every place that
 * prints a URI or relays another process's output goes through it too.
 */

/** What replaces a URL's userinfo, a known secret, or a secret field. */
export const REDACTED = '[redacted]';

// scheme://userinfo@ — userinfo holds no '/', '?', '#', '@' or blank (RFC 3986 §3.2.1),
// so a '@' further along a path or query ("?mail=a@b") is not mistaken for it.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/gi;

/**
 * The URL with its userinfo replaced (`http://[redacted]@host/...`); a URL
 * without one is returned unchanged, so callers apply it without checking.
 */
export function redactUrl(url: string): string {
  return url.replace(USERINFO, `$1${REDACTED}@`);
}

/**
 * The text with the userinfo of every URL in it, and every occurrence of the
 * given secrets (also percent-encoded, as they appear inside a URL), replaced.
 * Empty secrets are ignored.
 */
export function redactText(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (!secret) continue;
    out = out.split(secret).join(REDACTED);
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join(REDACTED);
  }
  return out;
}

/** The password in a URL's userinfo (decoded), if it has one; what redactText should hide. */
export function urlPassword(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const { password } = new URL(url);
    return password ? decodeURIComponent(password) : undefined;
  } catch {
    return undefined;
  }
}
