import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The UI's frontend (docs/ui.md): React pages, the loop graph drawn as SVG from the server's elkjs
 * layout, charts by ECharts (only the parts used are bundled). Built by `npm run build:ui` into
 * dist/ui/, which `flywheel ui` serves and the package ships; nothing is fetched at run time.
 * `FLYWHEEL_UI_OUT` builds elsewhere (the tests build into a temporary folder).
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: process.env.FLYWHEEL_UI_OUT ?? fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
});
