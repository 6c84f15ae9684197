import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaticAssets, preferredEncoding } from '../server/ui/static-assets.ts';

/**
 * The frontend's files as the UI serves them (server/ui/static-assets.ts), from a build folder made
 * here: brotli or gzip as the browser accepts, the bytes the same once decompressed, hashed assets
 * cached for a year and pages revalidated, page paths answered with index.html, nothing outside the
 * folder, and a rebuilt file served at once.
 */

let root: string;
const script = `console.log(${JSON.stringify('flywheel '.repeat(400))});\n`;
const html = '<!doctype html><html><head><script type="module" src="/assets/index-abc.js"></script></head><body></body></html>\n';

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'flywheel-ui-static-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), html);
  writeFileSync(join(root, 'assets', 'index-abc.js'), script);
  writeFileSync(join(root, 'assets', 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  writeFileSync(join(tmpdir(), 'flywheel-ui-static-outside.txt'), 'secret');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the UI static files', () => {
  it('prefers brotli, then gzip, and honours q=0', () => {
    expect(preferredEncoding('gzip, deflate, br, zstd')).toBe('br');
    expect(preferredEncoding('gzip, deflate')).toBe('gzip');
    expect(preferredEncoding('br;q=0, gzip;q=0.5')).toBe('gzip');
    expect(preferredEncoding('identity')).toBeUndefined();
    expect(preferredEncoding('')).toBeUndefined();
  });

  it('compresses text as accepted, the same bytes once decompressed; hashed assets are immutable, pages revalidated', async () => {
    const assets = createStaticAssets(root);
    await assets.warm();
    const br = (await assets.file('/assets/index-abc.js', 'gzip, deflate, br'))!;
    expect(br).toMatchObject({ contentType: 'text/javascript; charset=utf-8', cacheControl: 'public, max-age=31536000, immutable', contentEncoding: 'br' });
    expect(brotliDecompressSync(br.body).toString()).toBe(script);
    expect(br.body.byteLength).toBeLessThan(script.length / 10);
    const gz = (await assets.file('/assets/index-abc.js', 'gzip'))!;
    expect(gz.contentEncoding).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(script);
    const raw = (await assets.file('/assets/index-abc.js'))!;
    expect(raw.contentEncoding).toBeUndefined();
    expect(Buffer.from(raw.body).toString()).toBe(script);
    // A PNG is sent as it is, whatever the browser accepts.
    expect((await assets.file('/assets/logo.png', 'br'))!.contentEncoding).toBeUndefined();
    // A page path is index.html, revalidated on every load.
    const page = (await assets.file('/feature-views/item_profile', 'gzip'))!;
    expect(page).toMatchObject({ contentType: 'text/html; charset=utf-8', cacheControl: 'no-cache', contentEncoding: 'gzip' });
    expect(gunzipSync(page.body).toString()).toBe(html);
  });

  it('answers a missing asset with nothing, and never a file outside the folder', async () => {
    const assets = createStaticAssets(root);
    expect(await assets.file('/assets/gone-123.js', 'br')).toBeUndefined();
    expect(await assets.file('/favicon.ico')).toBeUndefined();
    const escaped = await assets.file('/../flywheel-ui-static-outside.txt');
    expect(escaped).toBeUndefined();
    // `..` resolves inside the folder: /etc/passwd is a page path there, answered with index.html.
    const encoded = (await assets.file('/%2e%2e/%2e%2e/etc/passwd'))!;
    expect(encoded.contentType).toBe('text/html; charset=utf-8');
    expect(Buffer.from(encoded.body).toString()).toBe(html);
  });

  it('serves a rebuilt file at once (its size or time changed)', async () => {
    const assets = createStaticAssets(root);
    expect(brotliDecompressSync((await assets.file('/index.html', 'br'))!.body).toString()).toBe(html);
    const rebuilt = html.replace('index-abc.js', 'index-def.js');
    writeFileSync(join(root, 'index.html'), rebuilt);
    utimesSync(join(root, 'index.html'), new Date(), new Date(Date.now() + 5_000));
    expect(brotliDecompressSync((await assets.file('/index.html', 'br'))!.body).toString()).toBe(rebuilt);
  });
});
