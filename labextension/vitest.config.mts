import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Pure logic runs in node; the CodeMirror view tests opt into jsdom per file.
    testTimeout: 10000,
    // @jupyterlab/notebook loads @jupyter/web-components, whose ESM build
    // imports files without their .js extension: Node cannot load it, vite
    // (inlined) resolves them.
    server: { deps: { inline: ['@jupyter/web-components'] } }
  }
});
