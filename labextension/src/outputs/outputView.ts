import { RpcRef } from './payload';
import { AskInfo, HOVER_DELAY_MS, SubtermHover } from './subtermHover';

/**
 * What every interactive output shares: its root (class `kind`), an optional
 * title (`<kind>-title`), and the hover over its subterms (`SubtermHover`),
 * live while the output's Lean session lives and static after.
 */
export abstract class OutputView {
  protected readonly _hover: SubtermHover;

  constructor(
    readonly root: HTMLElement,
    kind: string,
    title: string,
    ask: AskInfo | null,
    delayMs = HOVER_DELAY_MS
  ) {
    root.classList.add(kind);
    this._hover = new SubtermHover(root, ask, delayMs);
    if (title) {
      const heading = root.ownerDocument.createElement('div');
      heading.className = `${kind}-title`;
      heading.textContent = title;
      root.appendChild(heading);
    }
  }

  get refs(): RpcRef[] {
    return this._hover.refs;
  }

  get isStatic(): boolean {
    return this._hover.isStatic;
  }

  dispose(): void {
    this._hover.dispose();
  }
}
