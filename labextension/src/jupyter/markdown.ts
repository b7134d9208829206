import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { MarkdownRenderer } from '../editor/completion';

/**
 * Render Lean's Markdown (hovers, docstrings) with JupyterLab's own Markdown
 * renderer: sanitized (untrusted), themed, and ```lean blocks highlighted by
 * the registered Lean language. Without rendermime, show the text as is.
 */
export function markdownRenderer(
  rendermime: IRenderMimeRegistry | null
): MarkdownRenderer {
  return async (markdown: string) => {
    if (rendermime) {
      try {
        const renderer = rendermime.createRenderer('text/markdown');
        const model = rendermime.createModel({
          data: { 'text/markdown': markdown },
          trusted: false
        });
        await renderer.renderModel(model);
        renderer.addClass('jp-Lean-markdown');
        return renderer.node;
      } catch (error) {
        console.warn('jupyter-lean: markdown rendering failed', error);
      }
    }
    const pre = document.createElement('pre');
    pre.className = 'jp-Lean-markdown';
    pre.textContent = markdown;
    return pre;
  };
}
