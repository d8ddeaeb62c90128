import type { IncomingMessage } from 'node:http';

/* The request plumbing both HTTP services share (serving, gateway): error answers, media types, bounded bodies. */

/**
 * An answer for the client: HTTP status, the wire `error` code and message.
 * Not an ActivityTrackingError: these codes are the endpoint's contract
 * (docs/deployment.md), not the project's internal error codes.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The client hung up before its request was answered: nothing to answer, and not a server fault. */
export class ClientAbort extends Error {
  constructor() {
    super('the client closed the connection before the response');
  }
}

/**
 * True for `application/json`, with optional parameters (`; charset=utf-8`).
 * A prefix test let `application/jsonx` through. A charset other than UTF-8 is
 * refused: the body is decoded as UTF-8 (RFC 8259 §8.1).
 */
export function isJsonMediaType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const [type, ...params] = header.split(';');
  if (type.trim().toLowerCase() !== 'application/json') return false;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (p.trim() !== '') return false;
      continue;
    }
    if (p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (value !== 'utf-8' && value !== 'utf8') return false;
  }
  return true;
}

/** Reads the body up to `maxBodyBytes`; 413 beyond, ClientAbort when the client hangs up first. */
export function readBody(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'body_too_large', `request body over ${maxBodyBytes} bytes`);
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBodyBytes) {
        reject(tooLarge());
        req.pause();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    // Node emits 'error' (ECONNRESET "aborted") and 'close' when the connection
    // goes before the body is complete; once settled, later events are no-ops.
    req.on('error', () => reject(new ClientAbort()));
    req.on('close', () => {
      if (!req.complete) reject(new ClientAbort());
    });
  });
}
