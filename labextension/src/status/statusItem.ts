import { Widget } from '@lumino/widgets';

import { LeanDocument } from '../document/leanDocument';
import { LeanProjectConnection } from '../lsp/projectConnection';
import { IHealthModel } from '../lsp/sessionApi';
import { IStatusView, statusView } from './statusText';

/**
 * The status bar item: Lean's state for the current document (starting,
 * processing line N of M, ready, N errors, missing, disconnected).
 */
export class LeanStatusItem extends Widget {
  constructor() {
    super({ node: document.createElement('div') });
    this.addClass('jp-Lean-status');
    this._text = document.createElement('span');
    // JupyterLab's own class for status bar texts: same font and baseline.
    this._text.className = 'jp-StatusBar-TextItem';
    this.node.appendChild(this._text);
    this._render();
  }

  /** Whether there is a Lean document to report on. */
  get hasSource(): boolean {
    return this._document !== null;
  }

  /** The view currently shown (for tests and the tooltip). */
  get view(): IStatusView {
    return this._view;
  }

  /** Follow another document (null: none is current). */
  setSource(
    document: LeanDocument | null,
    connection: LeanProjectConnection | null
  ): void {
    if (document === this._document && connection === this._connection) {
      return;
    }
    this._document?.diagnosticsChanged.disconnect(this._render, this);
    this._document?.progressChanged.disconnect(this._render, this);
    this._connection?.statusChanged.disconnect(this._render, this);
    this._document = document;
    this._connection = connection;
    document?.diagnosticsChanged.connect(this._render, this);
    document?.progressChanged.connect(this._render, this);
    connection?.statusChanged.connect(this._render, this);
    this._render();
  }

  setHealth(health: IHealthModel | null): void {
    this._health = health;
    this._render();
  }

  private _render(): void {
    const document = this._document;
    this._view = statusView({
      health: this._health,
      connection: this._connection?.status ?? null,
      document:
        document && !document.isDisposed
          ? {
              progress: document.progress,
              counts: document.diagnosticCounts,
              lineCount: document.content.lineCount
            }
          : null
    });
    this._text.textContent = this._view.text;
    this.node.title = this._view.title;
    this.node.dataset.kind = this._view.kind;
  }

  private readonly _text: HTMLElement;
  private _document: LeanDocument | null = null;
  private _connection: LeanProjectConnection | null = null;
  private _health: IHealthModel | null = null;
  private _view!: IStatusView;
}
