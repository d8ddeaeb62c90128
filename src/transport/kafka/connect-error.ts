import { InvalidOptionError, ServiceUnavailableError } from '../../errors.ts';
import type { KafkaOptions } from './options.ts';

/** What a connection error is explained with: where the client went and how. The password is never read. */
export type ConnectTarget = Pick<KafkaOptions, 'brokers' | 'ssl' | 'sasl'>;

/**
 * kafkajs errors that mean "the cluster is not reachable right now" (a broker restarting, a coordinator
 * moving) but that kafkajs marks non-retriable once its own retries are spent.
 */
export const TRANSIENT = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNumberOfRetriesExceeded',
]);

/**
 * Node's codes for a broker certificate that TLS does not accept (OpenSSL's X509 verification results and
 * Node's host name check). Retrying cannot help: the client trusts other CAs than the broker's.
 */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function chain(err: unknown): { name?: string; code?: unknown; message?: string }[] {
  const out = [];
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++)
    out.push(e as Error & { code?: unknown });
  return out;
}

/**
 * The port's error for a kafkajs client that did not connect, in one line that names the setting to check
 * (the CLI prints it and exits by its code, src/cli/exit.ts):
 * - SASL credentials the brokers refuse: InvalidOptionError (exit 78), at once (kafkajs does not retry them);
 * - a broker certificate TLS does not trust: InvalidOptionError (exit 78), once kafkajs's retries are spent
 *   (it retries every connection error alike);
 * - brokers not reachable once those retries are spent: ServiceUnavailableError (exit 69);
 * anything else unchanged. Only the brokers, the mechanism and the user name go into the message and the
 * error's context: never the password (for Event Hubs, the connection string).
 */
export function connectError(err: unknown, target: ConnectTarget): unknown {
  const errors = chain(err);
  const brokers = target.brokers.join(',');
  const sasl = errors.find((e) => e.name === 'KafkaJSSASLAuthenticationError');
  if (sasl && target.sasl) {
    const { mechanism, username } = target.sasl;
    const check =
      username === '$ConnectionString'
        ? 'check EVENTHUBS_CONNECTION_STRING (its SharedAccessKey and policy)'
        : 'check KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and KAFKA_SASL_MECHANISM';
    return new InvalidOptionError(
      `Kafka brokers ${brokers} refused the SASL ${mechanism.toUpperCase()} credentials of user "${username}" (${sasl.message}); ${check}`,
      { cause: err, context: { brokers: target.brokers, mechanism, username } },
    );
  }
  const certificate = errors.find((e) => typeof e.code === 'string' && UNTRUSTED_CERTIFICATE.has(e.code));
  if (certificate) {
    return new InvalidOptionError(
      `TLS does not trust the certificate of Kafka brokers ${brokers} (${certificate.message}); set KAFKA_SSL_CA to the PEM file of the CA that signed it`,
      { cause: err, context: { brokers: target.brokers, tls: certificate.code } },
    );
  }
  const name = errors[0]?.name;
  if (!name || !TRANSIENT.has(name)) return err;
  const root = errors[errors.length - 1]!;
  // A TLS listener closes a plaintext client's connection at once, and a plaintext one a TLS client's.
  const closed =
    root.name === 'KafkaJSConnectionClosedError' || /before secure TLS connection/.test(root.message ?? '');
  const protocol = closed
    ? `; a listener that closes connections at once may want ${target.ssl ? 'no TLS (KAFKA_SSL=false)' : 'TLS (KAFKA_SSL=true)'}`
    : '';
  return new ServiceUnavailableError(
    `Kafka brokers ${brokers} are not reachable (${root.message}); check KAFKA_BROKERS and that the brokers run (KAFKA_RETRIES sets how long to retry)${protocol}`,
    { cause: err, context: { brokers: target.brokers } },
  );
}
