import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import type { OutputChunk } from 'rollup';
import { defineConfig, type Plugin } from 'vite';

/**
 * The UI's frontend (docs/ui.md): React pages, the loop graph drawn as SVG from the server's elkjs
 * layout, charts by ECharts (only the parts used are bundled). Built by `npm run build:ui` into
 * dist/ui/, which `flywheel ui` serves and the package ships; nothing is fetched at run time.
 * `FLYWHEEL_UI_OUT` builds elsewhere (the tests build into a temporary folder).
 */
export default defineConfig(({ command }) => ({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react(), preloadApp()],
  // A build is a production build whatever NODE_ENV the building process has: Vite takes NODE_ENV=test
  // from a test runner and would bundle React's development build (larger, every effect run twice
  // under StrictMode) and JSX with each element's source file and line.
  ...(command === 'build' ? { define: { 'process.env.NODE_ENV': JSON.stringify('production') }, esbuild: { jsxDev: false } } : {}),
  logLevel: 'warn',
  build: {
    outDir: process.env.FLYWHEEL_UI_OUT ?? fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
}));

/**
 * The entry (src/main.ts) starts the first API calls, then imports the app (src/app.tsx: React and
 * the Loop page). This puts the app's chunk, and the chunks it imports, in index.html as
 * `modulepreload` links, so the browser fetches and compiles them while the entry runs, not after.
 */
function preloadApp(): Plugin {
  return {
    name: 'flywheel-preload-app',
    apply: 'build',
    transformIndexHtml: {
      order: 'post',
      handler(_html, context) {
        const chunks = Object.values(context.bundle ?? {}).filter((item): item is OutputChunk => item.type === 'chunk');
        const app = chunks.find((chunk) => chunk.moduleIds.some((id) => id.endsWith('/ui/src/app.tsx')));
        if (!app) throw new Error('flywheel-preload-app: no chunk holds ui/src/app.tsx');
        const entries = new Set(chunks.filter((chunk) => chunk.isEntry).map((chunk) => chunk.fileName));
        return [app.fileName, ...app.imports.filter((file) => !entries.has(file))].map((file) => ({
          tag: 'link', attrs: { rel: 'modulepreload', crossorigin: true, href: `/${file}` }, injectTo: 'head' as const,
        }));
      },
    },
  };
}
