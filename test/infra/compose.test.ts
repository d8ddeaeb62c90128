import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TOPICS, topicSpecs } from '../../src/topics.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FILE = path.join(ROOT, 'docker-compose.kafka.yml');
const compose = parse(readFileSync(FILE, 'utf8')) as {
  services: Record<
    string,
    { image: string; ports?: string[]; environment?: Record<string, unknown>; command?: string[] }
  >;
};

describe('docker-compose.kafka.yml', () => {
  const kafka = compose.services.kafka;

  it('runs the official image at the version the scripts fetch, in KRaft mode', () => {
    const script = readFileSync(path.join(ROOT, 'scripts/services/kafka.sh'), 'utf8');
    const version = /KAFKA_VERSION:-([\d.]+)/.exec(script)![1];
    expect(kafka.image).toBe(`apache/kafka:${version}`);
    const env = kafka.environment!;
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(String(env.KAFKA_CONTROLLER_QUORUM_VOTERS)).toMatch(/^1@kafka:9093$/);
    expect(env.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
    expect(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe(1);
    expect(env.KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR).toBe(1);
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('exposes the host listener on 9092 and advertises it as localhost', () => {
    expect(kafka.ports).toContain('9092:9092');
    expect(String(kafka.environment!.KAFKA_LISTENERS)).toContain('PLAINTEXT_HOST://:9092');
    expect(String(kafka.environment!.KAFKA_ADVERTISED_LISTENERS)).toContain('PLAINTEXT_HOST://localhost:9092');
  });

  it('creates exactly the topics the code uses, compacting the state changelogs', () => {
    const script = compose.services['create-topics'].command!.join('\n');
    const created = [...script.matchAll(/^\s*create ([\w-]+) (\d+)(.*)$/gm)].map((m) => ({
      topic: m[1],
      compacted: m[3].includes('cleanup.policy=compact'),
    }));
    expect(created.map((c) => c.topic).sort()).toEqual(Object.values(TOPICS).sort());
    for (const spec of topicSpecs()) {
      expect(created.find((c) => c.topic === spec.topic)!.compacted).toBe(spec.compacted ?? false);
    }
  });
});
