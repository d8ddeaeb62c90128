import { ConflictError, InvalidOptionError, NotFoundError, TrackingError } from '../../errors.ts';
import { redactText, redactUrl } from '../../log/redact.ts';
import { retryRetriable } from '../../retry.ts';

export interface MlflowHttpOptions {
  /**
   * Tracking server URL, e.g. http://127.0.0.1:5000 (MLFLOW_TRACKING_URI). A userinfo
   * (`http://user:pass@host`) is taken out of the URL and sent as Basic auth: fetch refuses
   * URLs with credentials, and the URL is what error messages quote.
   */
  uri: string;
  /** Bearer token (MLFLOW_TRACKING_TOKEN); wins over Basic auth, as in MLflow's own client. Never logged. */
  token?: string;
  /** Basic auth (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); wins over the URI's userinfo. Never logged. */
  username?: string;
  password?: string;
  /** @defaultValue 30000 */
  timeoutMs?: number;
}

/**
 * MLflow's REST API over fetch: JSON in and out, MLflow error codes mapped to
 * the project's errors (RESOURCE_DOES_NOT_EXIST → NotFoundError,
 * RESOURCE_ALREADY_EXISTS → ConflictError), connection failures and 5xx
 * retried with backoff (retriable), other 4xx refused at once.
 */
export class MlflowHttp {
  readonly #base: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: MlflowHttpOptions) {
    const { base, username, password } = splitCredentials(options.uri);
    this.#base = base;
    this.#headers = {};
    const user = options.username ?? username;
    const pass = options.username !== undefined ? options.password : password;
    if (options.token) this.#headers.authorization = `Bearer ${options.token}`;
    else if (user) this.#headers.authorization = `Basic ${Buffer.from(`${user}:${pass ?? ''}`).toString('base64')}`;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The server's URL without credentials: safe to log. */
  get uri(): string {
    return this.#base;
  }

  /** Calls `/api/2.0/mlflow/<path>`. */
  api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: Record<string, unknown>): Promise<T> {
    return this.#call(method, `/api/2.0/mlflow/${path}`, body);
  }

  /** PUT or GET bytes on the artifact proxy (`mlflow server --serve-artifacts`). */
  async putArtifact(path: string, bytes: Buffer): Promise<void> {
    await this.#raw('PUT', `/api/2.0/mlflow-artifacts/artifacts/${path}`, bytes);
  }

  async getArtifact(path: string): Promise<Buffer> {
    return Buffer.from(await (await this.#raw('GET', `/api/2.0/mlflow-artifacts/artifacts/${path}`)).arrayBuffer());
  }

  async #call<T>(method: string, path: string, body?: Record<string, unknown>): Promise<T> {
    let url = `${this.#base}${path}`;
    let payload: string | undefined;
    if (body && method === 'GET') {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) if (v !== undefined) q.set(k, String(v));
      url += `?${q}`;
    } else if (body) payload = JSON.stringify(body);
    const response = await this.#fetch(method, url, payload, { 'content-type': 'application/json' });
    const text = await response.text();
    return (text ? JSON.parse(text) : {}) as T;
  }

  #raw(method: string, path: string, bytes?: Buffer): Promise<Response> {
    return this.#fetch(method, `${this.#base}${path}`, bytes, { 'content-type': 'application/octet-stream' });
  }

  #fetch(
    method: string,
    url: string,
    body: string | Buffer | undefined,
    headers: Record<string, string>,
  ): Promise<Response> {
    return retryRetriable(
      async () => {
        let response: Response;
        try {
          response = await fetch(url, {
            method,
            headers: { ...this.#headers, ...headers },
            ...(body !== undefined ? { body } : {}),
            signal: AbortSignal.timeout(this.#timeoutMs),
          });
        } catch (cause) {
          throw new TrackingError(
            `MLflow at ${this.#base} is unreachable: ${redactText(String((cause as Error)?.message))}`,
            {
              cause,
              retriable: true,
            },
          );
        }
        if (response.ok) return response;
        const text = await response.text();
        let code = '';
        let message = text.slice(0, 500);
        try {
          const j = JSON.parse(text) as { error_code?: string; message?: string };
          code = j.error_code ?? '';
          message = j.message ?? message;
        } catch {}
        const context = { status: response.status, code, path: new URL(url).pathname };
        if (code === 'RESOURCE_DOES_NOT_EXIST' || response.status === 404)
          throw new NotFoundError(`MLflow: ${message}`, { context });
        if (code === 'RESOURCE_ALREADY_EXISTS') throw new ConflictError(`MLflow: ${message}`, { context });
        // A server-side OS error (a missing artifact file) is not transient; other 5xx are.
        const permanent = /No such file or directory/.test(message);
        throw new TrackingError(`MLflow ${method} ${context.path} failed (${response.status} ${code}): ${message}`, {
          context,
          retriable: !permanent && (response.status >= 500 || response.status === 429),
        });
      },
      { attempts: 6, initialMs: 250, maxMs: 2000 },
    );
  }
}

/**
 * The URL without its userinfo, and the userinfo decoded. Only the URL object
 * sees the password: an unparsable URI is refused with its userinfo redacted.
 */
function splitCredentials(uri: string): { base: string; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // Not chained as the cause: Node's URL error carries the whole input, password included.
    throw new InvalidOptionError(
      `MLflow tracking URI "${redactUrl(uri)}" is not a URL; set MLFLOW_TRACKING_URI to e.g. http://127.0.0.1:15000`,
    );
  }
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  return {
    base: url.href.replace(/\/+$/, ''),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
  };
}
