// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import {
  LeanTextSanitizer,
  textOnlyHtml
} from '../src/jupyter/leanTextSanitizer';

// What JupyterLab's sanitizer lets through for untrusted Markdown: it drops
// handlers and scripts but keeps elements such as <img> that load URLs.
const PASSES_IMAGES = {
  sanitize: (html: string) => html.replace(/ on\w+="[^"]*"/g, '')
};

function parse(html: string): HTMLElement {
  const host = document.createElement('div');
  host.innerHTML = html;
  return host;
}

describe('Lean text sanitizer', () => {
  it('turns elements that load or run things into their text', () => {
    const html = textOnlyHtml(
      '<p>Doc <img src="x"> <svg><text>t</text></svg><iframe src="y"></iframe>' +
        '<video poster="p"><source src="v"></video><b>bold</b></p>'
    );
    const host = parse(html);
    expect(
      host.querySelectorAll('img, svg, iframe, video, source')
    ).toHaveLength(0);
    expect(host.querySelector('b')?.textContent).toBe('bold');
    expect(host.textContent).toBe('Doc  tbold');
  });

  it('keeps code blocks and text formatting, without live attributes', () => {
    const host = parse(
      textOnlyHtml(
        '<pre><code class="language-lean">«```&lt;img&gt;» : N</code></pre>' +
          '<a href="https://lean-lang.org" style="position:fixed" onclick="x()">Lean</a>'
      )
    );
    expect(host.querySelector('code')?.textContent).toBe('«```<img>» : N');
    expect(host.querySelector('code')?.className).toBe('language-lean');
    const link = host.querySelector('a')!;
    expect(link.getAttribute('href')).toBe('https://lean-lang.org');
    expect(link.hasAttribute('style')).toBe(false);
    expect(link.hasAttribute('onclick')).toBe(false);
  });

  it('runs after the base sanitizer and keeps its autolink setting', () => {
    const sanitizer = new LeanTextSanitizer({
      ...PASSES_IMAGES,
      getAutolink: () => false
    });
    const host = parse(
      sanitizer.sanitize('Doc <img src=x onerror="window.PWNED=1"> end')
    );
    expect(host.querySelector('img')).toBeNull();
    expect(host.textContent).toBe('Doc  end');
    expect(sanitizer.getAutolink()).toBe(false);
    expect(sanitizer.allowNamedProperties).toBe(false);
  });
});
