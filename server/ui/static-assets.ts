import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

/**
 * The built frontend (`npm run build:ui`, into `dist/ui/`), served as files. A path that is not a
 * file is a page of the single-page app: it gets `index.html`, and the app's router draws the page,
 * so every page has a stable URL that can be bookmarked or opened in a new tab.
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

export interface StaticFile {
  readonly body: Uint8Array;
  readonly contentType: string;
  /** Hashed asset names never change content: cached for a year; index.html is revalidated. */
  readonly cacheControl: string;
}

/** The file for a request path under `root`, or index.html for a page path; undefined for a missing asset (a 404). */
export async function staticFile(root: string, requestPath: string): Promise<StaticFile | undefined> {
  const relative = normalize(decodeURIComponent(requestPath)).replace(/^([/\\])+/, '');
  const path = join(root, relative);
  // normalize() resolved every `..`: a path still outside the root is refused, as a page.
  const inside = path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
  if (inside && relative !== '' && (await isFile(path))) {
    const immutable = relative.startsWith(`assets${sep}`) || relative.startsWith('assets/');
    return { body: await readFile(path), contentType: CONTENT_TYPES[extname(path)] ?? 'application/octet-stream', cacheControl: immutable ? 'public, max-age=31536000, immutable' : 'no-cache' };
  }
  // A missing file with an extension is a missing asset, not a page.
  if (relative.startsWith('assets') || extname(relative) !== '') return undefined;
  return { body: await readFile(join(root, 'index.html')), contentType: CONTENT_TYPES['.html']!, cacheControl: 'no-cache' };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
