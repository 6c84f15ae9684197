import calculateSlot from 'cluster-key-slot';

/**
 * Redis Cluster runs a multi-key command (MGET, a script over several KEYS, UNLINK) only when every
 * key of it hashes to one slot. The online store keeps the single-node key layout
 * (`<prefix><view>:<encoded key>`, no hash tags: a store moves to a cluster with its keys as they
 * are), so the keys of one request fall in many slots; they are grouped here by slot, and each
 * group becomes one command. Which node serves a slot is the client's slot map (node-redis), which
 * the groups are sent through, so a node gets all its groups of a call in one pipeline.
 */

/** The hash slot of a key, as Redis computes it (CRC16 mod 16384, of the `{hash tag}` when the key has one). */
export function slotOf(key: string): number {
  return calculateSlot(key);
}

/**
 * The positions of `keys` grouped by slot, each group in the order the keys came (so records of one
 * key stay in call order), the groups in the order their first key came.
 */
export function groupBySlot(keys: readonly string[]): number[][] {
  const bySlot = new Map<number, number[]>();
  for (let i = 0; i < keys.length; i++) {
    const slot = calculateSlot(keys[i]!);
    const group = bySlot.get(slot);
    if (group === undefined) bySlot.set(slot, [i]);
    else group.push(i);
  }
  return [...bySlot.values()];
}
