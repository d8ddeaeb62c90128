import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import { KafkaTransport } from '../../src/transport/kafka/kafka-transport.ts';
import { KAFKA_DEFAULTS, kafkaOptionsFromEnv, kafkaOptionsFromEventHubs } from '../../src/transport/kafka/options.ts';
import { selfSignedCert } from '../setup/tls.ts';

const KEY = Buffer.from('not-a-real-key').toString('base64');

describe('Kafka TLS options', () => {
  it('KAFKA_SSL_CA turns TLS on and is kept as a file path', () => {
    const options = kafkaOptionsFromEnv({ KAFKA_BROKERS: 'k1:9093', KAFKA_SSL_CA: '/etc/ca.pem' });
    expect(options.ssl).toBe(true);
    expect(options.sslCaFile).toBe('/etc/ca.pem');
    expect(kafkaOptionsFromEnv({ KAFKA_BROKERS: 'k1:9093' }).sslCaFile).toBeUndefined();
  });

  it('refuses KAFKA_SSL_CA with KAFKA_SSL=false, saying what to change', () => {
    expect(() => kafkaOptionsFromEnv({ KAFKA_SSL: 'false', KAFKA_SSL_CA: '/etc/ca.pem' })).toThrow(
      /KAFKA_SSL_CA names a CA for TLS, but TLS is off/,
    );
  });

  it('reads the CA file when the transport is made: a missing or non-PEM file is a configuration error', () => {
    const make = (sslCaFile: string) => new KafkaTransport({ ...KAFKA_DEFAULTS, ssl: true, sslCaFile });
    expect(() => make('/nonexistent/ca.pem')).toThrow(InvalidOptionError);
    expect(() => make('/nonexistent/ca.pem')).toThrow(
      /KAFKA_SSL_CA is \/nonexistent\/ca\.pem, which cannot be read \(ENOENT\)/,
    );
    const notPem = path.join(mkdtempSync(path.join(tmpdir(), 'kafka-ca-')), 'ca.pem');
    writeFileSync(notPem, 'not a certificate');
    expect(() => make(notPem)).toThrow(/holds no PEM certificate/);
    expect(() => make(selfSignedCert().certPath)).not.toThrow();
  });

  it('gives an Event Hubs connection string the CA of KAFKA_SSL_CA, and keeps an explicit endpoint port', () => {
    const cs = `Endpoint=sb://127.0.0.1:29094/;SharedAccessKeyName=test;SharedAccessKey=${KEY}`;
    const options = kafkaOptionsFromEnv({ EVENTHUBS_CONNECTION_STRING: cs, KAFKA_SSL_CA: '/etc/ca.pem' });
    expect(options).toMatchObject({ brokers: ['127.0.0.1:29094'], ssl: true, sslCaFile: '/etc/ca.pem' });
    // The emulator's endpoint port may be its AMQP one: its Kafka port stays 9092.
    const emulator = kafkaOptionsFromEventHubs(
      `Endpoint=sb://localhost:5672;SharedAccessKeyName=a;SharedAccessKey=${KEY};UseDevelopmentEmulator=true`,
    );
    expect(emulator.brokers).toEqual(['localhost:9092']);
  });
});
