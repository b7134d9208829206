import type { InfoviewApi } from '@leanprover/infoview-api';
import type { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

import { InfoviewBridge } from './bridge';
import { IInfoviewAssets, loadInfoviewFrame } from './frame';
import { infoviewThemeCss } from './theme';

export type InfoviewLoadState = 'idle' | 'loading' | 'ready' | 'failed';

export interface IInfoviewPanelOptions {
  bridge: InfoviewBridge;
  assets: IInfoviewAssets;
  /** The plain goals view shown when the infoview cannot load. */
  createFallback: () => Widget;
  /** JupyterLab's theme: where its variables are read, light or dark. */
  theme: () => { style: CSSStyleDeclaration; isLight: boolean };
  loadTimeoutMs?: number;
}

/**
 * The "Lean Infoview" side panel: `@leanprover/infoview` in a same-origin
 * frame, loaded the first time the panel is shown (nothing of it is fetched
 * with the page). If it cannot load, the plain goals view takes its place,
 * with the reason.
 */
export class InfoviewPanel extends Panel {
  constructor(private readonly _options: IInfoviewPanelOptions) {
    super();
    this.addClass('jp-Lean-infoview');
    this.title.label = 'Lean Infoview';
    this.title.caption = 'Lean infoview: goals, messages and widgets';
    this._frameHost = new Widget();
    this._frameHost.addClass('jp-Lean-infoview-host');
    this.addWidget(this._frameHost);
    this._setState('idle');
  }

  get state(): InfoviewLoadState {
    return this._state;
  }

  /** The infoview's API once ready (for tests and actions). */
  get infoview(): InfoviewApi | null {
    return this._options.bridge.infoview;
  }

  /** Apply JupyterLab's current theme to the infoview. */
  updateTheme(): void {
    const document = this._frameDocument;
    if (!document) {
      return;
    }
    const { style, isLight } = this._options.theme();
    const element = document.getElementById('jupyter-lean-theme');
    if (element) {
      element.textContent = infoviewThemeCss(style, isLight);
    }
    document.body.classList.toggle('vscode-light', isLight);
    document.body.classList.toggle('vscode-dark', !isLight);
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._load();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._load();
    }
  }

  dispose(): void {
    this._options.bridge.dispose();
    super.dispose();
  }

  private _load(): void {
    if (this._state !== 'idle') {
      return;
    }
    this._setState('loading');
    const frame = document.createElement('iframe');
    frame.className = 'jp-Lean-infoview-frame';
    frame.title = 'Lean infoview';
    this._frameHost.node.appendChild(frame);
    loadInfoviewFrame(
      frame,
      this._options.assets,
      this._options.bridge,
      this._options.loadTimeoutMs ?? 30000
    ).then(
      ({ api, document }) => {
        if (this.isDisposed) {
          return;
        }
        this._frameDocument = document;
        this.updateTheme();
        this._options.bridge.attach(api);
        this._setState('ready');
      },
      (error: Error) => {
        if (this.isDisposed) {
          return;
        }
        console.warn('jupyter-lean: the infoview could not load', error);
        this._fail(error.message);
      }
    );
  }

  private _fail(reason: string): void {
    this._frameHost.dispose();
    const note = new Widget();
    note.addClass('jp-Lean-infoview-failed');
    note.node.textContent = `The Lean infoview could not load (${reason}); showing the goals as plain text.`;
    this.addWidget(note);
    this.addWidget(this._options.createFallback());
    this._setState('failed');
  }

  private _setState(state: InfoviewLoadState): void {
    this._state = state;
    this.node.dataset.state = state;
  }

  private readonly _frameHost: Widget;
  private _frameDocument: Document | null = null;
  private _state: InfoviewLoadState = 'idle';
}
