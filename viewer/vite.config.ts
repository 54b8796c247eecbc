// Builds the viewer into dist/, served by the gateway under /viewer/.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/viewer/',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 8000, sourcemap: false },
  worker: { format: 'es' },
});
