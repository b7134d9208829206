import { autocompletion } from '@codemirror/autocomplete';
import { Diagnostic, lintGutter, setDiagnostics } from '@codemirror/lint';
import { Compartment, Extension } from '@codemirror/state';
import {
  EditorView,
  hoverTooltip,
  PluginValue,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';

import { abbreviationInput } from './abbreviation';
import { leanCompletionSource, MarkdownRenderer } from './completion';
import { ILeanCellHandle, LeanEditorRegistry } from './editorRegistry';

export interface ILeanEditorServices {
  registry: LeanEditorRegistry;
  renderMarkdown: MarkdownRenderer;
}

/**
 * The CodeMirror extension JupyterLab adds to every editor (through the
 * editor extension registry). It stays empty until the editor's model is
 * bound to a Lean document, then switches on the Lean features; it switches
 * them off again when the binding goes (e.g. the kernel changed).
 */
export function leanEditorExtension(
  model: object,
  services: ILeanEditorServices
): Extension {
  const features = new Compartment();
  return [
    features.of([]),
    ViewPlugin.define(
      view => new LeanEditorBinder(view, model, features, services)
    )
  ];
}

/** The Lean features for an editor bound to a cell or file. */
export function leanFeatures(
  handle: ILeanCellHandle,
  renderMarkdown: MarkdownRenderer
): Extension {
  return [
    lintGutter(),
    hoverTooltip(
      async (_view, pos) => {
        let markdown: string | null;
        try {
          markdown = await handle.document.hover(handle.cellId, pos);
        } catch {
          return null;
        }
        if (!markdown) {
          return null;
        }
        const dom = document.createElement('div');
        dom.className = 'jp-Lean-hover';
        dom.appendChild(await renderMarkdown(markdown));
        return { pos, above: true, create: () => ({ dom }) };
      },
      { hoverTime: 300 }
    ),
    autocompletion({
      override: [leanCompletionSource(handle, renderMarkdown)],
      activateOnTyping: true,
      activateOnTypingDelay: 100
    }),
    abbreviationInput()
  ];
}

class LeanEditorBinder implements PluginValue {
  constructor(
    private readonly _view: EditorView,
    private readonly _model: object,
    private readonly _features: Compartment,
    private readonly _services: ILeanEditorServices
  ) {
    _services.registry.changed.connect(this._onRegistryChanged, this);
    // The view is still being built: reconfigure right after.
    this._scheduleSync();
  }

  update(update: ViewUpdate): void {
    if (
      this._handle &&
      update.view.hasFocus &&
      (update.selectionSet || update.focusChanged)
    ) {
      this._handle.cursorActivity(update.state.selection.main.head);
    }
  }

  destroy(): void {
    this._destroyed = true;
    this._services.registry.changed.disconnect(this._onRegistryChanged, this);
    this._handle?.document.diagnosticsChanged.disconnect(
      this._pushDiagnostics,
      this
    );
    this._handle = null;
  }

  private _onRegistryChanged(_: LeanEditorRegistry, model: object): void {
    if (model === this._model) {
      this._scheduleSync();
    }
  }

  // Dispatching is not allowed while CodeMirror applies a transaction, and
  // registry changes can happen then (a cell edit that adds a binding).
  private _scheduleSync(): void {
    queueMicrotask(() => this._sync());
  }

  private _sync(): void {
    if (this._destroyed) {
      return;
    }
    const handle = this._services.registry.get(this._model) ?? null;
    if (handle === this._handle) {
      return;
    }
    this._handle?.document.diagnosticsChanged.disconnect(
      this._pushDiagnostics,
      this
    );
    const hadHandle = this._handle !== null;
    this._handle = handle;
    this._view.dispatch({
      effects: this._features.reconfigure(
        handle ? leanFeatures(handle, this._services.renderMarkdown) : []
      )
    });
    if (handle) {
      handle.document.diagnosticsChanged.connect(this._pushDiagnostics, this);
      this._pushDiagnostics();
    } else if (hadHandle) {
      this._view.dispatch(setDiagnostics(this._view.state, []));
    }
  }

  private _pushDiagnostics(): void {
    const handle = this._handle;
    if (!handle || this._destroyed) {
      return;
    }
    const length = this._view.state.doc.length;
    const diagnostics: Diagnostic[] = handle.document
      .cellDiagnostics(handle.cellId)
      .map(diagnostic => {
        // Positions were computed on the text Lean saw, which is the
        // editor's text; clip anyway so a race can never throw.
        const from = Math.min(diagnostic.from, length);
        return {
          from,
          to: Math.max(from, Math.min(diagnostic.to, length)),
          severity: diagnostic.severity,
          message: diagnostic.message,
          source: diagnostic.source
        };
      });
    this._view.dispatch(setDiagnostics(this._view.state, diagnostics));
  }

  private _handle: ILeanCellHandle | null = null;
  private _destroyed = false;
}
