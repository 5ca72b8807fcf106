// A small least-recently-used map: a Map keeps insertion order, so re-inserting on read moves
// an entry to the "newest" end and the first key is always the eviction candidate.
import { createHash } from "node:crypto";

export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`cache capacity must be ≥ 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as K;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }

  /** Values from newest to oldest (does not change the order). */
  newestFirst(): V[] {
    return [...this.entries.values()].reverse();
  }
}

/**
 * Cache key of a completion: everything that decides what the server generates for the
 * window we send, hashed so the cache holds 64 characters per key instead of whole files.
 * `extra_context` is left out on purpose: it is a hint, and a change in another editor should
 * not throw away a completion for an unchanged cursor position.
 */
export function completionCacheKey(parts: {
  prefix: string;
  suffix: string;
  language: string;
  mode: string;
  maxTokens: number;
  model: string;
}): string {
  const hash = createHash("sha256");
  for (const field of [parts.language, parts.mode, String(parts.maxTokens), parts.model, parts.prefix, parts.suffix]) {
    // Length-prefix each field so ("ab", "c") and ("a", "bc") differ.
    hash.update(`${field.length}:`);
    hash.update(field);
  }
  return hash.digest("hex");
}
