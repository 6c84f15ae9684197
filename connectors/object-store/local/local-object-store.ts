import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NotFoundError } from '../../../core/errors.ts';
import { assertObjectKey, assertObjectPrefix, ObjectKeyError } from '../object-key.ts';
import type { ObjectStore, StoredObject } from '../object-store.ts';

/** Ends the names of files being written; they are renamed into place when complete and never listed. */
const PARTIAL_SUFFIX = '.flywheel-partial';
/** How many files deletePrefix removes at once. */
const DELETE_BATCH = 16;

/**
 * The object store of the embedded profile: objects are files under a root folder, keys their paths
 * below it. A write goes to a temporary file in the object's own folder (the same file system) and
 * is renamed over the key, so readers see the old object or the new one. Deleting the last object in
 * a folder removes the folder, so the tree mirrors the keys the way an S3 listing does.
 */
export class LocalObjectStore implements ObjectStore {
  /** The absolute path of the root folder (created on the first write). */
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** `file://` URL of the object's absolute path (special characters percent-encoded). */
  uri(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  async putFile(key: string, localPath: string, options: { move?: boolean } = {}): Promise<void> {
    let copied = false;
    await this.write(key, async (partial) => {
      try {
        if (options.move) {
          try {
            await rename(localPath, partial);
            return;
          } catch (error) {
            // Another filesystem: copy, then remove the original below.
            if (errorCode(error) !== 'EXDEV') throw error;
          }
        }
        await copyFile(localPath, partial);
        copied = true;
      } catch (error) {
        if (errorCode(error) === 'ENOENT' && !(await exists(localPath))) throw new NotFoundError('Local file', localPath);
        throw error;
      }
    });
    if (options.move && copied) await rm(localPath, { force: true });
  }

  async putBytes(key: string, body: Uint8Array | string): Promise<void> {
    await this.write(key, (partial) => writeFile(partial, body));
  }

  async putBytesIfAbsent(key: string, body: Uint8Array | string): Promise<boolean> {
    return this.write(key, (partial) => writeFile(partial, body), { exclusive: true });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const bytes = await readFile(this.pathOf(key));
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** Copies the object to `localPath` (folders created) through a temporary file, so a half copy is never seen there. */
  async getFile(key: string, localPath: string): Promise<void> {
    const source = this.pathOf(key);
    const target = resolve(localPath);
    await mkdir(dirname(target), { recursive: true });
    const partial = partialPathFor(target);
    try {
      await copyFile(source, partial);
      await rename(partial, target);
    } catch (error) {
      await discard(partial);
      if (isMissing(error) && !(await isFile(source))) throw new NotFoundError('Object', key);
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertObjectPrefix(prefix);
    // Walk the folder named by the prefix's complete segments; its last, partial segment filters names there.
    const cut = prefix.lastIndexOf('/');
    const folderKey = cut < 0 ? '' : prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut + 1);
    const objects: StoredObject[] = [];
    await this.collect(folderKey, namePrefix, objects);
    return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.remove(key);
  }

  /** Copies the object's file to a temporary file in the target's folder, then renames it over the target. */
  async copy(fromKey: string, toKey: string): Promise<void> {
    const source = this.pathOf(fromKey);
    assertObjectKey(toKey);
    if (!(await isFile(source))) throw new NotFoundError('Object', fromKey);
    if (toKey === fromKey) return;
    // Already a link to the same file (a retried copy): nothing to do, and renaming a link over
    // another link to the same file would do nothing and leave the temporary name behind.
    if (await sameFile(source, this.pathOf(toKey))) return;
    await this.write(toKey, async (partial) => {
      try {
        await linkOrCopy(source, partial);
      } catch (error) {
        // Deleted (or replaced by a folder) since the check above.
        if (isMissing(error) && !(await isFile(source))) throw new NotFoundError('Object', fromKey);
        throw error;
      }
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    let deleted = 0;
    for (let start = 0; start < objects.length; start += DELETE_BATCH) {
      const batch = objects.slice(start, start + DELETE_BATCH);
      const removed = await Promise.all(batch.map((object) => this.remove(object.key)));
      deleted += removed.filter(Boolean).length;
    }
    return deleted;
  }

  private pathOf(key: string): string {
    return join(this.root, ...assertObjectKey(key).split('/'));
  }

  /** Writes the object whole, then puts it in place; `exclusive`: only if the key is free (false when it is not). */
  private async write(key: string, fill: (partialPath: string) => Promise<void>, options: { exclusive?: boolean } = {}): Promise<boolean> {
    const target = this.pathOf(key);
    if (basename(target).endsWith(PARTIAL_SUFFIX)) throw new ObjectKeyError(key, `names ending in "${PARTIAL_SUFFIX}" are reserved for writes in progress`);
    const folder = dirname(target);
    const partial = partialPathFor(target);
    try {
      // A concurrent delete may remove the (then empty) folder between mkdir and the write; try again once.
      for (let attempt = 1; ; attempt += 1) {
        await this.makeFolder(key, folder);
        try {
          await fill(partial);
          await syncPath(partial);
          break;
        } catch (error) {
          if (attempt < 2 && errorCode(error) === 'ENOENT' && !(await exists(folder))) continue;
          throw error;
        }
      }
      if (options.exclusive) {
        // link() fails with EEXIST when the key is taken, where rename() would replace it: an atomic create-if-absent.
        const created = await link(partial, target).then(() => true, (error: unknown) => {
          if (errorCode(error) === 'EEXIST') return false;
          throw error;
        });
        await discard(partial);
        if (!created) return false;
      } else {
        await rename(partial, target);
      }
      // Durable once this resolves: a log API node deletes its copy of a segment right after (connectors/log-store).
      await syncPath(folder);
      return true;
    } catch (error) {
      await discard(partial);
      if (errorCode(error) === 'EISDIR') throw new ObjectKeyError(key, 'a folder of other objects has this name (a local store cannot hold both "a" and "a/b")');
      throw error;
    }
  }

  private async makeFolder(key: string, folder: string): Promise<void> {
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      const code = errorCode(error);
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new ObjectKeyError(key, 'an object exists where this key needs a folder (a local store cannot hold both "a" and "a/b")');
      }
      throw error;
    }
  }

  /** Deletes one object and the folders it leaves empty; false when there was none. */
  private async remove(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      // EISDIR/EPERM: the key names a folder, which is not an object.
      if (isMissing(error) || errorCode(error) === 'EPERM') return false;
      throw error;
    }
    await this.pruneEmptyFolders(dirname(path));
    return true;
  }

  private async pruneEmptyFolders(folder: string): Promise<void> {
    for (let current = folder; current !== this.root && current.startsWith(this.root); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone): stop here
      }
    }
  }

  private async collect(folderKey: string, namePrefix: string, into: StoredObject[]): Promise<void> {
    const folder = folderKey === '' ? this.root : join(this.root, ...folderKey.split('/'));
    let entries: Dirent[];
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return; // no such folder, or it was deleted while listing
      throw error;
    }
    for (const entry of entries) {
      if (!entry.name.startsWith(namePrefix) || entry.name.endsWith(PARTIAL_SUFFIX)) continue;
      const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
      if (entry.isDirectory()) {
        await this.collect(key, '', into);
      } else if (entry.isFile()) {
        const size = await fileSize(join(folder, entry.name));
        if (size !== undefined) into.push({ key, size });
      }
    }
  }
}

function partialPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`);
}

/** Removes a temporary file, if there is one; the error that led here is the one worth reporting. */
async function discard(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

function isMissing(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then((s) => s.size, () => undefined);
}

/**
 * Copies an object's file as a hard link where the filesystem allows (no bytes move), else as a full
 * copy. Safe because the store never changes a file in place: every write renames a new file over
 * the key, and deletes unlink, so both names keep the same bytes for as long as they exist.
 */
async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (error) {
    if (isMissing(error)) throw error;
    await copyFile(source, target);
  }
}

/** Whether two paths name the same file (hard links to one inode); false when either is missing. */
async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return x !== undefined && y !== undefined && x.ino === y.ino && x.dev === y.dev;
}

/**
 * fsync of a file or a folder: its bytes, or its entries, reach the disk. Opened read-only, which
 * Linux allows fsync on, and which works whatever `fill` made (an export may write a folder of files).
 */
async function syncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
