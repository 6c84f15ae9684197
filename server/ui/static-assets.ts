import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlib, gzip } from 'node:zlib';

/**
 * The built frontend (`npm run build:ui`, into `dist/ui/`), served as files. A path that is not a
 * file is a page of the single-page app: it gets `index.html`, and the app's router draws the page,
 * so every page has a stable URL that can be bookmarked or opened in a new tab.
 *
 * Text files are sent compressed when the browser accepts it (brotli, else gzip), each compressed
 * once and kept in memory while its file is unchanged (same size and modification time): a rebuild
 * is served as soon as it is written. `warm` reads and compresses the files the first page needs
 * before the server listens, so the first visitor waits for none of it.
 */

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Worth compressing: text. PNGs and icons are compressed already. */
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.map']);

/** Brotli's quality 5: about gzip's speed at a better ratio (quality 11 takes seconds on the chart chunk). */
const BROTLI_QUALITY = 5;

export type ContentEncoding = 'br' | 'gzip';

export interface StaticFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Hashed asset names never change content: cached for a year; index.html is revalidated. */
  readonly cacheControl: string;
  /** How `body` is compressed, or undefined when it is the file as it is. */
  readonly contentEncoding: ContentEncoding | undefined;
}

interface CachedFile {
  readonly size: number;
  readonly mtimeMs: number;
  readonly raw: Uint8Array;
  readonly encoded: Map<ContentEncoding, Promise<Uint8Array>>;
}

const compressors: Readonly<Record<ContentEncoding, (raw: Uint8Array) => Promise<Uint8Array>>> = {
  br: (raw) => promisify(brotliCompress)(raw, { params: { [zlib.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [zlib.BROTLI_PARAM_SIZE_HINT]: raw.byteLength } }),
  gzip: (raw) => promisify(gzip)(raw, { level: 6 }),
};

export interface StaticAssets {
  /** The file for a request path, or index.html for a page path; undefined for a missing asset (a 404). */
  file(requestPath: string, acceptEncoding?: string): Promise<StaticFile | undefined>;
  /** Reads and compresses index.html and the files it names (the first page's script, styles and preloads). */
  warm(): Promise<void>;
}

export function createStaticAssets(root: string): StaticAssets {
  const cache = new Map<string, CachedFile>();

  /** The file's bytes, from memory while it is unchanged on disk; undefined when it is not a file. */
  async function load(path: string): Promise<CachedFile | undefined> {
    const facts = await stat(path).catch(() => undefined);
    if (!facts?.isFile()) return undefined;
    const cached = cache.get(path);
    if (cached && cached.size === facts.size && cached.mtimeMs === facts.mtimeMs) return cached;
    const fresh: CachedFile = { size: facts.size, mtimeMs: facts.mtimeMs, raw: await readFile(path), encoded: new Map() };
    cache.set(path, fresh);
    return fresh;
  }

  async function answer(path: string, cached: CachedFile, immutable: boolean, encoding: ContentEncoding | undefined): Promise<StaticFile> {
    const extension = extname(path);
    const contentType = CONTENT_TYPES[extension] ?? 'application/octet-stream';
    const cacheControl = immutable ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (!encoding || !COMPRESSIBLE.has(extension)) return { body: cached.raw, contentType, cacheControl, contentEncoding: undefined };
    let encoded = cached.encoded.get(encoding);
    if (!encoded) {
      encoded = compressors[encoding](cached.raw);
      cached.encoded.set(encoding, encoded);
    }
    return { body: await encoded, contentType, cacheControl, contentEncoding: encoding };
  }

  async function file(requestPath: string, acceptEncoding = ''): Promise<StaticFile | undefined> {
    const encoding = preferredEncoding(acceptEncoding);
    const relative = normalize(decodeURIComponent(requestPath)).replace(/^([/\\])+/, '');
    const path = join(root, relative);
    // normalize() resolved every `..`: a path still outside the root is refused, as a page.
    const inside = path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
    const found = inside && relative !== '' ? await load(path) : undefined;
    if (found) return answer(path, found, relative.startsWith(`assets${sep}`) || relative.startsWith('assets/'), encoding);
    // A missing file with an extension is a missing asset, not a page.
    if (relative.startsWith('assets') || extname(relative) !== '') return undefined;
    const index = join(root, 'index.html');
    const page = await load(index);
    if (!page) throw new Error(`the UI's build in ${root} has no index.html; run \`npm run build:ui\``);
    return answer(index, page, false, encoding);
  }

  async function warm(): Promise<void> {
    const index = await file('/index.html', 'br, gzip');
    if (!index) return;
    const html = new TextDecoder().decode((await load(join(root, 'index.html')))!.raw);
    const named = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((match) => match[1]!);
    await Promise.all(named.flatMap((path) => (['br', 'gzip'] as const).map((encoding) => file(path, encoding))));
  }

  return { file, warm };
}

/** Brotli when the browser accepts it, else gzip, else none (q=0 refuses an encoding). */
export function preferredEncoding(acceptEncoding: string): ContentEncoding | undefined {
  const accepted = new Set(
    acceptEncoding.split(',').map((part) => part.trim().toLowerCase().split(';')).filter(([, q]) => !/^\s*q=0(\.0*)?\s*$/.test(q ?? '')).map(([name]) => name),
  );
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip')) return 'gzip';
  return undefined;
}
