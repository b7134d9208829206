import { RpcAnswer } from './kernelRpc';
import { isTaggedText, RpcRef } from './payload';
import { renderTaggedText, SUBTERM_CLASS } from './taggedText';

export const HOVERED_CLASS = 'jl-hovered';
export const POPUP_CLASS = 'jl-popup';
export const HOVER_DELAY_MS = 150;
export const STATIC_NOTE =
  'The Lean session of this output has ended: run the cell again for types on hover.';

/** Asks the kernel about the subterm with reference `ref`. */
export type AskInfo = (ref: RpcRef) => Promise<RpcAnswer>;

/**
 * The hovers of one output: while its Lean session lives, the type of the
 * hovered subterm span (`.jl-subterm`, its reference's index in `refs` in
 * `data-ref`) in a popup (Lean's `infoToInteractive`). Once the kernel says
 * the session ended the output is static: no hovers, never an error.
 */
export class SubtermHover {
  /** The references the output's subterm spans point at. */
  readonly refs: RpcRef[] = [];
  private _hovered: HTMLElement | null = null;
  private _popup: HTMLElement | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _disposed = false;

  constructor(
    readonly root: HTMLElement,
    private readonly _ask: AskInfo | null,
    private readonly _delayMs = HOVER_DELAY_MS
  ) {
    if (_ask === null) {
      this._becomeStatic();
      return;
    }
    root.dataset.state = 'live';
    root.removeAttribute('title');
    root.addEventListener('mouseover', this._onOver);
    root.addEventListener('mouseleave', this._onLeave);
  }

  /** Where renderers collect references; null: render no subterm spans. */
  get collect(): RpcRef[] | null {
    return this._ask === null ? null : this.refs;
  }

  get isStatic(): boolean {
    return this.root.dataset.state === 'static';
  }

  dispose(): void {
    this._disposed = true;
    this._clear();
    this.root.removeEventListener('mouseover', this._onOver);
    this.root.removeEventListener('mouseleave', this._onLeave);
  }

  private _onOver = (event: Event): void => {
    const target = event.target as Element | null;
    const span = target?.closest?.(`.${SUBTERM_CLASS}`) as HTMLElement | null;
    if (span === null || span === undefined || !this.root.contains(span)) {
      return;
    }
    if (span === this._hovered || this.isStatic) {
      return;
    }
    this._clear();
    this._hovered = span;
    span.classList.add(HOVERED_CLASS);
    this._timer = setTimeout(() => void this._show(span), this._delayMs);
  };

  private _onLeave = (): void => this._clear();

  private _clear(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
    this._hovered?.classList.remove(HOVERED_CLASS);
    this._hovered = null;
    this._popup?.remove();
    this._popup = null;
  }

  private async _show(span: HTMLElement): Promise<void> {
    this._timer = null;
    const ref = this.refs[Number(span.dataset.ref)];
    if (this._ask === null || ref === undefined) {
      return;
    }
    const answer = await this._ask(ref);
    if (this._disposed || this._hovered !== span) {
      return; // the pointer moved on meanwhile
    }
    if (answer.kind === 'ended') {
      this._becomeStatic();
      return;
    }
    // On the page's body, fixed: the output area clips what overflows it.
    const where = span.getBoundingClientRect();
    this._popup = this._renderPopup(answer);
    this._popup.style.top = `${where.bottom + 2}px`;
    this._popup.style.left = `${where.left}px`;
    this.root.ownerDocument.body.appendChild(this._popup);
  }

  private _becomeStatic(): void {
    this._clear();
    this.root.dataset.state = 'static';
    this.root.title = STATIC_NOTE;
  }

  private _renderPopup(answer: RpcAnswer): HTMLElement {
    const doc = this.root.ownerDocument;
    const popup = doc.createElement('div');
    popup.className = POPUP_CLASS;
    if (answer.kind !== 'result') {
      popup.textContent = `No information: ${answer.message}`;
      return popup;
    }
    const info = answer.result as Record<string, unknown> | null;
    const expr = info?.exprExplicit;
    const type = info?.type;
    const line = doc.createElement('div');
    line.className = 'jl-popup-type';
    if (isTaggedText(expr)) {
      line.appendChild(renderTaggedText(expr, null, doc));
    }
    if (isTaggedText(type)) {
      line.appendChild(doc.createTextNode(isTaggedText(expr) ? ' : ' : ''));
      line.appendChild(renderTaggedText(type, null, doc));
    }
    popup.appendChild(line);
    if (typeof info?.doc === 'string' && info.doc) {
      const docs = doc.createElement('div');
      docs.className = 'jl-popup-doc';
      docs.textContent = info.doc;
      popup.appendChild(docs);
    }
    return popup;
  }
}
