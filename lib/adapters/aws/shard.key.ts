/**
 * Stable shard assignment for ids (due-index shards, credential secret shards). The function must never change:
 * a different hash would move every source's credentials to another secret and every due entry to another shard.
 */

/** FNV-1a (32 bit) of the id, modulo `shards`. Deterministic across processes and Node versions. */
export function shardOf(id: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}
