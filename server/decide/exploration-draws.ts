import { createHmac, randomBytes } from 'node:crypto';

/**
 * The random draws of `POST /v1/decide`'s exploration (docs/decide.md, "Where the draws come from"):
 * keyed, not taken from a process-wide generator, so a decision's draws depend on that decision
 * alone and never on how many requests came before it or in which order they arrived.
 *
 * Draw `i` (0, 1, 2, ...) of a decision is the first 53 bits, taken big-endian from byte
 * `8 * (i mod 4)`, of
 *
 *     HMAC-SHA256(secret, <model> NUL <key> NUL <floor(i / 4)>)
 *
 * divided by 2^53: uniform in [0, 1). `key` is the request's `explore.key` when it gives one,
 * else the decision id (a UUIDv7 the server makes, with 74 random bits). `secret` is the server's
 * exploration secret: configured (so a run can be repeated, and an auditor holding it can recompute
 * every logged draw), else 32 random bytes made when the server starts. Without the secret nobody
 * can tell which key explores, so a caller cannot pick its way in or out of exploration.
 *
 * Draw 0 decides explore or not; when exploring, draws 1..k shuffle (rank-candidates.ts). Blocks
 * are made only when a draw needs them: one HMAC for a request that does not explore.
 *
 * @example
 * const draws = explorationDraws(secretOf('demo'), 'ranker', 'turn-1/user-7');
 * draws(); // the same number on every server configured with "demo", whatever else it serves
 */

/** Draws per HMAC block: 32 bytes, 8 per draw. */
const DRAWS_PER_BLOCK = 4;

/** The exploration secret's bytes: a configured text, or 32 random bytes when none is configured. */
export function secretOf(configured: string | undefined): Buffer {
  return configured === undefined ? randomBytes(32) : Buffer.from(configured, 'utf8');
}

/** The draws of one decision, in order, each uniform in [0, 1). */
export function explorationDraws(secret: Uint8Array, model: string, key: string): () => number {
  let block: Buffer | undefined;
  let index = 0;
  return () => {
    const slot = index % DRAWS_PER_BLOCK;
    if (slot === 0) block = createHmac('sha256', secret).update(`${model}\u0000${key}\u0000${index / DRAWS_PER_BLOCK}`).digest();
    index++;
    return uniformOf(block!, slot * 8);
  };
}

/** The 53 high bits of the 8 bytes at `offset`, over 2^53. */
function uniformOf(bytes: Buffer, offset: number): number {
  const high = bytes.readUInt32BE(offset);
  const low = bytes.readUInt32BE(offset + 4);
  // 32 + 21 bits: 2^53 values, each exactly representable as a double.
  return (high * 2 ** 21 + (low >>> 11)) / 2 ** 53;
}
