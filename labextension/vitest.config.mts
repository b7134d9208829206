import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Pure logic runs in node; the CodeMirror view tests opt into jsdom per file.
    testTimeout: 10000
  }
});
