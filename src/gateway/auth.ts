import { errors, jwtVerify, SignJWT } from 'jose';
import { InvalidOptionError } from '../errors.ts';
import { HttpError } from '../http/request.ts';

/** The environment variable that holds the device-token secret; it is never logged or printed. */
export const TOKEN_SECRET_ENV = 'GATEWAY_TOKEN_SECRET';
/** RFC 7518 §3.2: an HS256 key must be at least as long as the hash (256 bits). */
export const MIN_SECRET_LENGTH = 32;
/** `aud` of every device token: a token signed with the same secret for another purpose is refused here. */
export const TOKEN_AUDIENCE = 'activity-tracking-gateway';
/** A device id as the sensor-readings schema allows it. */
const MAX_DEVICE_LENGTH = 128;
/** A token for longer than a year is a credential nobody will remember to rotate. */
export const MAX_TTL_SECONDS = 366 * 24 * 3600;

const ALGORITHMS = ['HS256'];

function keyOf(secret: string): Uint8Array {
  if (secret.length < MIN_SECRET_LENGTH)
    throw new InvalidOptionError(
      `${TOKEN_SECRET_ENV} must be at least ${MIN_SECRET_LENGTH} characters; generate one with: openssl rand -hex 32`,
    );
  return new TextEncoder().encode(secret);
}

export interface IssueTokenOptions {
  secret: string;
  device: string;
  /** Lifetime in seconds, 1 to MAX_TTL_SECONDS. */
  ttlSeconds: number;
  /** Epoch seconds the token is issued at. @defaultValue now */
  now?: number;
}

/** A signed device token (HS256 JWT: `sub` the device id, `aud`, `iat`, `exp`). */
export async function issueDeviceToken(o: IssueTokenOptions): Promise<string> {
  if (o.device.length === 0 || o.device.length > MAX_DEVICE_LENGTH)
    throw new InvalidOptionError(`a device id is 1 to ${MAX_DEVICE_LENGTH} characters, got ${o.device.length}`);
  if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1 || o.ttlSeconds > MAX_TTL_SECONDS)
    throw new InvalidOptionError(`a token lives 1 s to ${MAX_TTL_SECONDS / 86_400} days, got ${o.ttlSeconds} s`);
  const now = o.now ?? Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(o.device)
    .setAudience(TOKEN_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + o.ttlSeconds)
    .sign(keyOf(o.secret));
}

/** `1h`, `30m`, `7d`, `90s` or plain seconds, as a number of seconds. */
export function parseTtl(text: string): number {
  const m = /^([1-9][0-9]*)([smhd]?)$/.exec(text);
  if (!m)
    throw new InvalidOptionError(`a token lifetime is a number with s, m, h or d (such as 12h or 30d), got "${text}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  return m?.[1];
}

const unauthorized = (code: string, message: string) =>
  new HttpError(401, code, message, { 'www-authenticate': `Bearer realm="${TOKEN_AUDIENCE}"` });

/**
 * Verifies device tokens; made once per gateway, the key encoded once. A token that verified is remembered
 * (by its exact text, until its `exp`) so that a phone's next batches skip the HMAC and claim checks: jose's
 * `jwtVerify` is an async WebCrypto call of 40–160 µs, a third of a core at 2,000 phones a second. The
 * memory is bounded: past `cacheSize` tokens the oldest is forgotten and simply verified again.
 */
export class DeviceAuth {
  readonly #key: Uint8Array;
  readonly #cacheSize: number;
  readonly #verified = new Map<string, { device: string; expiresMs: number }>();

  constructor(secret: string, options: { cacheSize?: number } = {}) {
    this.#key = keyOf(secret);
    this.#cacheSize = options.cacheSize ?? 20_000;
  }

  /** Tokens remembered now. */
  get remembered(): number {
    return this.#verified.size;
  }

  /** The device id a token was issued to; HttpError 401 for a missing, forged, expired or foreign token. */
  async verify(token: string | undefined): Promise<string> {
    if (token === undefined)
      throw unauthorized('missing_token', 'send the device token as Authorization: Bearer <token>');
    const known = this.#verified.get(token);
    if (known !== undefined) {
      if (Date.now() < known.expiresMs) return known.device;
      this.#verified.delete(token);
    }
    const verified = await this.#verify(token);
    if (this.#verified.size >= this.#cacheSize) this.#verified.delete(this.#verified.keys().next().value!);
    this.#verified.set(token, verified);
    return verified.device;
  }

  async #verify(token: string): Promise<{ device: string; expiresMs: number }> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ALGORITHMS,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'exp'],
      });
      const sub = payload.sub!;
      if (sub.length === 0 || sub.length > MAX_DEVICE_LENGTH)
        throw unauthorized('invalid_token', 'the token names no valid device');
      // jose checked `exp` (required) against the clock with no tolerance; the cache keeps that bound.
      return { device: sub, expiresMs: payload.exp! * 1000 };
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof errors.JWTExpired)
        throw unauthorized('token_expired', 'the device token has expired; ask for a new one');
      // A forged signature, another algorithm, a malformed token, a missing claim: the reason helps an
      // attacker more than a client, and a client's fix is the same (a new token).
      throw unauthorized('invalid_token', 'the device token is not valid here');
    }
  }
}
