import type { IRenderMime } from '@jupyterlab/rendermime';

/**
 * Tags Lean's Markdown may keep: text formatting only. Lean's hovers and
 * docstrings carry text anyone can write (a name in «guillemets» can hold
 * any HTML, and so can a docstring), and JupyterLab's sanitizer, made for
 * notebook outputs, keeps `<img>` and other elements that load URLs.
 */
const TEXT_TAGS = new Set([
  'a', 'abbr', 'b', 'blockquote', 'br', 'code', 'dd', 'del', 'div', 'dl',
  'dt', 'em', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'kbd', 'li',
  'mark', 'ol', 'p', 'pre', 's', 'samp', 'small', 'span', 'strong', 'sub',
  'sup', 'table', 'tbody', 'td', 'tfoot', 'th', 'thead', 'tr', 'ul', 'var'
]); // prettier-ignore

// Attributes that fetch, navigate on their own or run code.
const LIVE_ATTRIBUTE =
  /^(on|src|srcset|action|formaction|background|poster|xlink:|style$)/i;

/**
 * JupyterLab's sanitizer followed by a pass that keeps text formatting only:
 * any other element becomes its plain text, and attributes that load or run
 * anything go. The HTML is parsed with DOMParser, whose document is inert
 * (nothing loads, nothing runs), so nothing live exists until the result is
 * set as the renderer's content.
 */
export class LeanTextSanitizer implements IRenderMime.ISanitizer {
  constructor(private readonly _base: IRenderMime.ISanitizer) {}

  get allowNamedProperties(): boolean {
    return false;
  }

  getAutolink(): boolean {
    return this._base.getAutolink?.() ?? true;
  }

  sanitize(dirty: string, options?: IRenderMime.ISanitizerOptions): string {
    return textOnlyHtml(this._base.sanitize(dirty, options));
  }
}

/** `html` with every element outside TEXT_TAGS replaced by its text. */
export function textOnlyHtml(html: string): string {
  const parsed = new DOMParser().parseFromString(html, 'text/html');
  const body = parsed.body;
  // Deepest first, so a replaced element's text includes no markup.
  const elements = [...body.querySelectorAll('*')].reverse();
  for (const element of elements) {
    if (!TEXT_TAGS.has(element.localName)) {
      element.replaceWith(parsed.createTextNode(element.textContent ?? ''));
      continue;
    }
    for (const attribute of [...element.attributes]) {
      if (LIVE_ATTRIBUTE.test(attribute.name)) {
        element.removeAttribute(attribute.name);
      }
    }
  }
  return body.innerHTML;
}
