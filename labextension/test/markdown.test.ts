// @vitest-environment jsdom
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { markdownRenderer } from '../src/jupyter/markdown';
import { LeanTextSanitizer } from '../src/jupyter/leanTextSanitizer';

/** The parts of JupyterLab's rendermime registry the renderer uses. */
function fakeRendermime(fail = false) {
  const seen: {
    sanitizer?: unknown;
    models: { data: unknown; trusted: boolean }[];
  } = { models: [] };
  const registry = {
    sanitizer: { sanitize: (html: string) => html },
    clone: (options: { sanitizer: unknown }) => {
      seen.sanitizer = options.sanitizer;
      return {
        createModel: (options: { data: unknown; trusted: boolean }) => {
          seen.models.push(options);
          return options;
        },
        createRenderer: () => {
          const node = document.createElement('div');
          return {
            node,
            addClass: (name: string) => node.classList.add(name),
            renderModel: async (model: { data: Record<string, string> }) => {
              if (fail) {
                throw new Error('renderer broke');
              }
              node.textContent = `rendered: ${model.data['text/markdown']}`;
            }
          };
        }
      };
    }
  };
  return { rendermime: registry as unknown as IRenderMimeRegistry, seen };
}

describe("Lean's Markdown in hovers and docstrings", () => {
  afterEach(() => vi.restoreAllMocks());

  it("renders with JupyterLab's Markdown, untrusted, through the Lean sanitizer", async () => {
    const { rendermime, seen } = fakeRendermime();
    const render = markdownRenderer(rendermime);
    const node = await render('**N.z** : N');
    expect(node.textContent).toBe('rendered: **N.z** : N');
    expect(node.classList.contains('jp-Lean-markdown')).toBe(true);
    expect(seen.sanitizer).toBeInstanceOf(LeanTextSanitizer);
    expect(seen.models).toEqual([
      { data: { 'text/markdown': '**N.z** : N' }, trusted: false }
    ]);
  });

  it('shows the text as it is without rendermime', async () => {
    const node = await markdownRenderer(null)('<b>not markup</b>');
    expect(node.tagName).toBe('PRE');
    expect(node.className).toBe('jp-Lean-markdown');
    expect(node.textContent).toBe('<b>not markup</b>');
    expect(node.querySelector('b')).toBeNull();
  });

  it('falls back to the text when rendering fails', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const { rendermime } = fakeRendermime(true);
    const node = await markdownRenderer(rendermime)('`x`');
    expect(node.tagName).toBe('PRE');
    expect(node.textContent).toBe('`x`');
    expect(warn).toHaveBeenCalled();
  });
});
