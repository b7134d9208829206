import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { MarkdownRenderer } from '../editor/completion';
import { LeanTextSanitizer } from './leanTextSanitizer';

/**
 * Render Lean's Markdown (hovers, docstrings) with JupyterLab's own Markdown
 * renderer: untrusted, sanitized down to text formatting (LeanTextSanitizer),
 * themed, and ```lean blocks highlighted by the registered Lean language.
 * Without rendermime, show the text as is.
 */
export function markdownRenderer(
  rendermime: IRenderMimeRegistry | null
): MarkdownRenderer {
  const leanRendermime = rendermime?.clone({
    sanitizer: new LeanTextSanitizer(rendermime.sanitizer)
  });
  return async (markdown: string) => {
    if (leanRendermime) {
      try {
        const renderer = leanRendermime.createRenderer('text/markdown');
        const model = leanRendermime.createModel({
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
