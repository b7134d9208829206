import type { TextInsertKind } from '@leanprover/infoview-api';
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { CodeEditor } from '@jupyterlab/codeeditor';
import type { IEditorTracker } from '@jupyterlab/fileeditor';
import type { INotebookTracker } from '@jupyterlab/notebook';

import { LeanDocument } from '../document/leanDocument';
import { isInside, normalizePath } from '../document/uris';
import { GoalsTracker } from '../goals/goalsTracker';
import { LeanDocumentAdapter } from '../jupyter/documentAdapter';
import { LeanConnections } from '../jupyter/leanConnections';
import { NotebookLeanAdapter } from '../jupyter/notebookAdapter';
import { uriKey } from '../lsp/projectConnection';
import { IPosition } from '../lsp/protocol';
import { IBridgeConnection, IInfoviewHost, ILocation } from './bridge';

export interface ILabInfoviewHostOptions {
  app: JupyterFrontEnd;
  adapters: () => Iterable<LeanDocumentAdapter>;
  notebooks: INotebookTracker;
  fileEditors: IEditorTracker;
  goals: GoalsTracker;
  connections: LeanConnections;
  copyToClipboard: (text: string) => void;
}

/**
 * The infoview's view of JupyterLab: Lean documents by URI (a notebook's
 * virtual document or a `.lean` file), their editors, the clipboard.
 * Document positions are turned into cells and offsets here.
 */
export class LabInfoviewHost implements IInfoviewHost {
  constructor(private readonly _options: ILabInfoviewHostOptions) {}

  connectionFor(uri: string): IBridgeConnection | null {
    return this._adapterFor(uri)?.connection ?? null;
  }

  publishedDiagnostics(): unknown[] {
    const published: unknown[] = [];
    for (const adapter of this._options.adapters()) {
      const diagnostics = adapter.document?.publishedDiagnostics;
      if (diagnostics) {
        published.push(diagnostics);
      }
    }
    return published;
  }

  async reveal(location: ILocation): Promise<void> {
    const adapter = this._adapterFor(location.uri);
    if (adapter?.document) {
      const place = adapter.document.toCellOffset(location.range.start);
      if (place) {
        this._revealIn(adapter, place.cellId, place.offset);
      }
      return;
    }
    // A file that is not open (a definition elsewhere in the project).
    const path = await this._jupyterPath(location.uri);
    if (path === null) {
      return;
    }
    const widget = (await this._options.app.commands.execute(
      'docmanager:open',
      { path, factory: 'Editor' }
    )) as { content?: { editor?: CodeEditor.IEditor } } | undefined;
    const editor = widget?.content?.editor;
    if (editor) {
      editor.setCursorPosition({
        line: location.range.start.line,
        column: location.range.start.character
      });
      editor.focus();
    }
  }

  async insertText(
    text: string,
    kind: TextInsertKind,
    at?: { uri: string; position: IPosition }
  ): Promise<void> {
    let document: LeanDocument | null = null;
    let cellId: string;
    let offset: number;
    if (at) {
      document = this._adapterFor(at.uri)?.document ?? null;
      const place = document?.toCellOffset(at.position);
      if (!place) {
        return;
      }
      ({ cellId, offset } = place);
    } else {
      const target = this._options.goals.target;
      if (!target) {
        return;
      }
      ({ document, cellId, offset } = target);
    }
    const adapter = this._adapterOf(document);
    const source = adapter?.editableSource(cellId);
    if (!source) {
      return;
    }
    if (kind === 'above') {
      // On its own line above the cursor's, with that line's indentation.
      const current = source.getSource();
      const lineStart = current.lastIndexOf('\n', offset - 1) + 1;
      const indent = /^[ \t]*/.exec(current.slice(lineStart))![0];
      const block = text
        .split('\n')
        .map(line => indent + line)
        .join('\n');
      source.updateSource(lineStart, lineStart, block + '\n');
    } else {
      source.updateSource(offset, offset, text);
    }
  }

  async copyToClipboard(text: string): Promise<void> {
    this._options.copyToClipboard(text);
  }

  restartFile(uri: string): void {
    this._adapterFor(uri)?.document?.restart();
  }

  private _adapterFor(uri: string): LeanDocumentAdapter | null {
    const key = uriKey(uri);
    for (const adapter of this._options.adapters()) {
      if (adapter.document && uriKey(adapter.document.uri) === key) {
        return adapter;
      }
    }
    return null;
  }

  private _adapterOf(
    document: LeanDocument | null
  ): LeanDocumentAdapter | null {
    for (const adapter of this._options.adapters()) {
      if (document && adapter.document === document) {
        return adapter;
      }
    }
    return null;
  }

  private _revealIn(
    adapter: LeanDocumentAdapter,
    cellId: string,
    offset: number
  ): void {
    const { app, notebooks, fileEditors } = this._options;
    const context = adapter.documentContext;
    if (adapter instanceof NotebookLeanAdapter) {
      const panel = notebooks.find(candidate => candidate.context === context);
      const index = adapter.cellIndex(cellId);
      if (!panel || index < 0) {
        return;
      }
      app.shell.activateById(panel.id);
      const notebook = panel.content;
      notebook.activeCellIndex = index;
      notebook.mode = 'edit';
      const cell = notebook.widgets[index];
      void notebook.scrollToItem(index).then(() => {
        const editor = cell.editor;
        if (editor) {
          editor.setCursorPosition(editor.getPositionAt(offset)!);
          editor.focus();
        }
      });
      return;
    }
    const widget = fileEditors.find(candidate => candidate.context === context);
    if (!widget) {
      return;
    }
    app.shell.activateById(widget.id);
    const editor = widget.content.editor;
    editor.setCursorPosition(editor.getPositionAt(offset)!);
    editor.focus();
  }

  /** Jupyter path of a `file:` URI under the server root, else null. */
  private async _jupyterPath(uri: string): Promise<string | null> {
    let path: string;
    try {
      const url = new URL(uri);
      if (url.protocol !== 'file:') {
        return null;
      }
      path = decodeURIComponent(url.pathname);
    } catch {
      return null;
    }
    const { serverRoot } = await this._options.connections.placement('');
    if (!isInside(path, serverRoot)) {
      return null;
    }
    return normalizePath(path)
      .slice(normalizePath(serverRoot).length)
      .replace(/^\/+/, '');
  }
}
