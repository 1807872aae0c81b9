/**
 * Stand-in for `mnemonist/lru-cache` in the Lambda bundles only (an esbuild alias in lib/config/bundling.config.ts).
 * The DynamoDB client builds an endpoint-discovery cache from it at construction, though discovery stays off for
 * DynamoDB unless asked for; mnemonist's typed-array LRU costs ~7 KB minified. This is a working LRU cache with the
 * part of mnemonist's API that @aws-sdk/endpoint-cache uses, on a Map (whose key order is insertion order).
 */
export default class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The value, now the most recently used; undefined if absent. */
  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  /** The value without touching its recency. */
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Stores the value as the most recently used, evicting the least recently used beyond capacity. */
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return this;
  }

  clear(): void {
    this.entries.clear();
  }
}
