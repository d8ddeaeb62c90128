import type { IHeaders, KafkaMessage, TopicMessages } from 'kafkajs';
import type { ConsumedRecord, Headers, OutgoingRecord } from '../types.ts';

/** Conversions between kafkajs messages and the port's records, both ways. */

function toHeaders(raw: IHeaders | undefined): Headers {
  const headers: Headers = {};
  if (!raw) return headers;
  for (const name in raw) {
    const value = raw[name];
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    headers[name] = typeof first === 'string' ? first : first.toString('utf8');
  }
  return headers;
}

export function toRecord(topic: string, partition: number, message: KafkaMessage): ConsumedRecord {
  return {
    topic,
    partition,
    offset: Number(message.offset),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value ?? Buffer.alloc(0),
    headers: toHeaders(message.headers),
    timestamp: Number(message.timestamp),
  };
}

export function topicMessages(records: OutgoingRecord[]): TopicMessages[] {
  const byTopic = new Map<string, OutgoingRecord[]>();
  for (const record of records) {
    const list = byTopic.get(record.topic);
    if (list) list.push(record);
    else byTopic.set(record.topic, [record]);
  }
  return [...byTopic].map(([topic, list]) => ({
    topic,
    messages: list.map((r) => ({
      key: r.key,
      value: r.value,
      ...(r.headers ? { headers: r.headers } : {}),
      ...(r.partition !== undefined ? { partition: r.partition } : {}),
    })),
  }));
}
