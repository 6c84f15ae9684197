import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { NotFoundError } from '../../core/errors.ts';
import type { ObjectStore } from '../object-store/object-store.ts';
import { SealedSegmentChecksumError, SealedSegmentNotFoundError } from './errors.ts';
import type { SealedSegmentManifest, SealedSegmentRef, SealedSegmentStore } from './log-store.ts';
import { compareRefs, loadedKey, loadedPrefix, MANIFEST_SUFFIX, manifestKey, refOfKey, sealedPrefix, SEGMENT_SUFFIX, segmentKey } from './segment-keys.ts';

/**
 * Sealed segments in the project's object store (a local folder or S3, through the ObjectStore
 * connectors), under `_log/` (segment-keys.ts). The bytes go first and the manifest, with the
 * segment's SHA-256, last: a segment is listed only once both are stored, and every read checks the
 * bytes against the manifest before anything is made of them.
 */
export class ObjectStoreSegmentStore implements SealedSegmentStore {
  constructor(private readonly store: ObjectStore) {}

  async upload(ref: SealedSegmentRef, localPath: string, events: number): Promise<SealedSegmentManifest> {
    const { bytes, sha256 } = await digestOfFile(localPath);
    await this.store.putFile(segmentKey(ref), localPath);
    const manifest: SealedSegmentManifest = { stream: ref.stream, node: ref.node, segmentId: ref.segmentId, events, bytes, sha256, uploadedAt: new Date().toISOString() };
    await this.store.putBytes(manifestKey(ref), `${JSON.stringify(manifest)}\n`);
    return manifest;
  }

  async list(stream: string, options: { node?: string } = {}): Promise<SealedSegmentRef[]> {
    const prefix = sealedPrefix(stream);
    const objects = await this.store.list(sealedPrefix(stream, options.node));
    const refs: SealedSegmentRef[] = [];
    for (const object of objects) {
      const ref = refOfKey(stream, prefix, object.key, MANIFEST_SUFFIX);
      if (ref) refs.push(ref);
    }
    return refs.sort(compareRefs);
  }

  async download(ref: SealedSegmentRef, localPath: string): Promise<SealedSegmentManifest> {
    const manifest = await this.manifestOf(ref);
    if (!manifest) throw new SealedSegmentNotFoundError(ref, manifestKey(ref));
    try {
      await this.store.getFile(segmentKey(ref), localPath);
    } catch (error) {
      if (error instanceof NotFoundError) throw new SealedSegmentNotFoundError(ref, segmentKey(ref));
      throw error;
    }
    try {
      check(ref, manifest, await digestOfFile(localPath));
    } catch (error) {
      await rm(localPath, { force: true });
      throw error;
    }
    return manifest;
  }

  async read(ref: SealedSegmentRef): Promise<{ manifest: SealedSegmentManifest; bytes: Uint8Array } | undefined> {
    const manifest = await this.manifestOf(ref);
    if (!manifest) return undefined;
    const bytes = await this.store.get(segmentKey(ref));
    if (!bytes) return undefined;
    check(ref, manifest, { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    return { manifest, bytes };
  }

  async delete(ref: SealedSegmentRef, options: { keep?: boolean } = {}): Promise<void> {
    if (options.keep) {
      try {
        await this.store.copy(segmentKey(ref), loadedKey(ref));
      } catch (error) {
        // Copied and deleted by an earlier attempt that stopped before the manifest went.
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    await this.store.delete(segmentKey(ref));
    await this.store.delete(manifestKey(ref));
  }

  async listArchived(stream: string): Promise<SealedSegmentRef[]> {
    const prefix = loadedPrefix(stream);
    const refs: SealedSegmentRef[] = [];
    for (const object of await this.store.list(prefix)) {
      const ref = refOfKey(stream, prefix, object.key, SEGMENT_SUFFIX);
      if (ref) refs.push(ref);
    }
    return refs.sort(compareRefs);
  }

  private async manifestOf(ref: SealedSegmentRef): Promise<SealedSegmentManifest | undefined> {
    const bytes = await this.store.get(manifestKey(ref));
    if (!bytes) return undefined;
    let manifest: SealedSegmentManifest;
    try {
      manifest = JSON.parse(new TextDecoder().decode(bytes)) as SealedSegmentManifest;
    } catch (error) {
      throw new SealedSegmentChecksumError(ref, manifestKey(ref), `its manifest is not JSON (${(error as Error).message})`);
    }
    if (typeof manifest.sha256 !== 'string' || typeof manifest.bytes !== 'number' || typeof manifest.events !== 'number') {
      throw new SealedSegmentChecksumError(ref, manifestKey(ref), 'its manifest lacks sha256, bytes or events');
    }
    return manifest;
  }
}

function check(ref: SealedSegmentRef, manifest: SealedSegmentManifest, actual: { bytes: number; sha256: string }): void {
  if (actual.bytes !== manifest.bytes) throw new SealedSegmentChecksumError(ref, segmentKey(ref), `${actual.bytes} bytes where the manifest says ${manifest.bytes}`);
  if (actual.sha256 !== manifest.sha256) throw new SealedSegmentChecksumError(ref, segmentKey(ref), `SHA-256 ${actual.sha256} where the manifest says ${manifest.sha256}`);
}

/** Size and SHA-256 of a local file, read as a stream (a segment is up to 64 MiB by default). */
async function digestOfFile(path: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return { bytes: (await stat(path)).size, sha256: hash.digest('hex') };
}
