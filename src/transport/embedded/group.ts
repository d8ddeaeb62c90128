import type { TopicPartition } from '../types.ts';

export interface GroupMember {
  readonly id: number;
  readonly topics: string[];
  /** Partitions this member holds now (it may still be finishing a batch on them). */
  owned: TopicPartition[];
  /** Group generation this member has fully synced to. */
  generation: number;
  stopping: boolean;
}

const key = (tp: TopicPartition) => `${tp.topic}/${tp.partition}`;

/**
 * Membership, partition assignment and committed offsets of one consumer
 * group of the embedded log. Assignment is round-robin over the sorted
 * partitions of the subscribed topics. A partition changes hands only after
 * its old owner released it between two batches, so two members never work
 * on one partition at once.
 */
export class ConsumerGroup {
  readonly id: string;
  generation = 0;
  readonly #members: GroupMember[] = [];
  readonly #committed = new Map<string, number>();
  readonly #holder = new Map<string, GroupMember>();
  #target = new Map<GroupMember, TopicPartition[]>();
  #nextId = 0;
  readonly #partitionCount: (topic: string) => number;
  readonly #notify: () => void;

  constructor(id: string, partitionCount: (topic: string) => number, notify: () => void) {
    this.id = id;
    this.#partitionCount = partitionCount;
    this.#notify = notify;
  }

  join(topics: string[]): GroupMember {
    const member: GroupMember = { id: this.#nextId++, topics: [...topics], owned: [], generation: -1, stopping: false };
    this.#members.push(member);
    this.rebalance();
    return member;
  }

  leave(member: GroupMember): void {
    for (const tp of member.owned) this.#holder.delete(key(tp));
    member.owned = [];
    const index = this.#members.indexOf(member);
    if (index >= 0) this.#members.splice(index, 1);
    this.rebalance();
  }

  rebalance(): void {
    this.generation++;
    const target = new Map<GroupMember, TopicPartition[]>();
    for (const member of this.#members) target.set(member, []);
    const topics = [...new Set(this.#members.flatMap((m) => m.topics))].sort();
    for (const topic of topics) {
      const subscribers = this.#members.filter((m) => m.topics.includes(topic));
      const count = this.#partitionCount(topic);
      for (let partition = 0; partition < count; partition++) {
        target.get(subscribers[partition % subscribers.length])!.push({ topic, partition });
      }
    }
    this.#target = target;
    this.#notify();
  }

  /**
   * Moves `member` toward its target assignment: releases what it lost and
   * takes what is free. Stays behind the group generation (and is called
   * again) while a partition it should get is still held by another member.
   */
  sync(member: GroupMember): { revoked: TopicPartition[]; assigned: TopicPartition[] } {
    const target = this.#target.get(member) ?? [];
    const wanted = new Set(target.map(key));
    const revoked = member.owned.filter((tp) => !wanted.has(key(tp)));
    for (const tp of revoked) this.#holder.delete(key(tp));
    const kept = member.owned.filter((tp) => wanted.has(key(tp)));
    const held = new Set(kept.map(key));
    const assigned: TopicPartition[] = [];
    let pending = false;
    for (const tp of target) {
      if (held.has(key(tp))) continue;
      const holder = this.#holder.get(key(tp));
      if (holder && holder !== member) {
        pending = true;
        continue;
      }
      this.#holder.set(key(tp), member);
      assigned.push(tp);
    }
    member.owned = [...kept, ...assigned];
    if (!pending) member.generation = this.generation;
    if (revoked.length > 0) this.#notify();
    return { revoked, assigned };
  }

  committed(tp: TopicPartition): number {
    return this.#committed.get(key(tp)) ?? -1;
  }

  commit(tp: TopicPartition, next: number): void {
    this.#committed.set(key(tp), next);
  }
}
