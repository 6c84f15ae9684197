import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStoreSegmentStore, type SealedSegmentRef } from '../../connectors/log-store/index.ts';
import { decodeRecordAt } from '../../connectors/log-store/segment-log/index.ts';
import type { ObjectStore } from '../../connectors/object-store/object-store.ts';

/** The node id the tests' hand-made segments come from. */
export const TEST_NODE = 'node-1';

/**
 * A sealed segment in the object store, exactly as a log API node uploads it (its bytes, then its
 * manifest with their SHA-256): where ingestion reads segments. `bytes` are stored as given, a
 * corrupt record included.
 */
export async function putSealedSegment(objects: ObjectStore, ref: Omit<SealedSegmentRef, 'node'> & { node?: string }, bytes: Uint8Array): Promise<SealedSegmentRef> {
  const full = { stream: ref.stream, node: ref.node ?? TEST_NODE, segmentId: ref.segmentId };
  const dir = await mkdtemp(join(tmpdir(), 'flywheel-sealed-'));
  try {
    const path = join(dir, `${ref.segmentId}.seg`);
    await writeFile(path, bytes);
    await new ObjectStoreSegmentStore(objects).upload(full, path, goodRecords(bytes));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return full;
}

function goodRecords(bytes: Uint8Array): number {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  for (let at = 0; ; count++) {
    const decoded = decodeRecordAt(buffer, at);
    if (decoded.kind !== 'record') return count;
    at = decoded.next;
  }
}
