import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { LeanDocument } from '../document/leanDocument';
import { editsFromDelta, IDeltaOperation } from '../document/textEdits';
import { ICellSnapshot } from '../document/virtualDocument';
import { ILeanCellHandle, LeanEditorRegistry } from '../editor/editorRegistry';
import { GoalsTracker } from '../goals/goalsTracker';
import { LeanProjectConnection } from '../lsp/projectConnection';
import { IProjectPlacement, LeanConnections } from './leanConnections';

/** The text of one cell (or file) that can be edited in place. */
export interface IEditableSource {
  getSource(): string;
  updateSource(start: number, end: number, text: string): void;
}

/** Page-wide services the adapters share. */
export interface ILeanServices {
  connections: LeanConnections;
  registry: LeanEditorRegistry;
  goals: GoalsTracker;
}

/**
 * Connects one open JupyterLab document (notebook or file, through its
 * context, so split views share it) to a LeanDocument while it is a Lean
 * document. Subclasses say what the cells are and how they change.
 */
export abstract class LeanDocumentAdapter implements IDisposable {
  constructor(
    protected readonly context: DocumentRegistry.Context,
    protected readonly services: ILeanServices
  ) {
    context.pathChanged.connect(this._onPathChanged, this);
    context.disposed.connect(() => this.dispose());
  }

  /** The Lean document while attached. */
  get document(): LeanDocument | null {
    return this._document;
  }

  get connection(): LeanProjectConnection | null {
    return this._connection;
  }

  /** Emitted when the document is attached, detached or replaced. */
  get documentChanged(): ISignal<this, LeanDocument | null> {
    return this._documentChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** The document (notebook or file) this adapter follows. */
  get documentContext(): DocumentRegistry.Context {
    return this.context;
  }

  /** The editable text of a cell of the Lean document, if it exists. */
  abstract editableSource(cellId: string): IEditableSource | null;

  /** Path relative to the Jupyter root, without a drive prefix. */
  get path(): string {
    return this.context.localPath ?? this.context.path;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.detach();
    this.context.pathChanged.disconnect(this._onPathChanged, this);
    Signal.clearData(this);
  }

  /** The cells as they are now. */
  protected abstract snapshot(): ICellSnapshot[];

  /** URI of the Lean document for this path. */
  protected abstract documentUri(placement: IProjectPlacement): string;

  /** Start following edits (and binding editors) for `document`. */
  protected abstract startSync(document: LeanDocument): void;

  /** Stop following edits and unbind editors. */
  protected abstract stopSync(): void;

  /** Whether this document should be a Lean document now. */
  protected abstract wantsLean(): boolean;

  /** Whether the kernel's `%` magic lines are hidden from Lean. */
  protected get maskMagics(): boolean {
    return false;
  }

  /** Attach or detach to match `wantsLean()`. */
  protected async evaluate(): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    const wanted = this.wantsLean();
    if (wanted && !this._document && !this._attaching) {
      await this.attach();
    } else if (!wanted && (this._document || this._attaching)) {
      this.detach();
    }
  }

  protected async attach(): Promise<void> {
    const generation = ++this._generation;
    this._attaching = true;
    let placement: IProjectPlacement;
    try {
      placement = await this.services.connections.placement(this.path);
    } catch (error) {
      console.warn(`jupyter-lean: no Lean project for ${this.path}`, error);
      if (generation === this._generation) {
        this._attaching = false;
      }
      return;
    }
    if (generation !== this._generation || this._isDisposed) {
      return;
    }
    this._attaching = false;
    const connection = this.services.connections.acquire(placement.project);
    const document = new LeanDocument({
      uri: this.documentUri(placement),
      cells: this.snapshot(),
      connection,
      maskMagics: this.maskMagics
    });
    this._document = document;
    this._connection = connection;
    this.startSync(document);
    document.open();
    this._documentChanged.emit(document);
  }

  protected detach(): void {
    this._generation++;
    this._attaching = false;
    const document = this._document;
    if (!document) {
      return;
    }
    try {
      this.stopSync();
    } catch (error) {
      // Whatever failed there, the server must still hear didClose.
      console.warn('jupyter-lean: stopping the sync failed', error);
    }
    if (this.services.goals.target?.document === document) {
      this.services.goals.setTarget(null);
    }
    document.dispose();
    if (this._connection) {
      this.services.connections.release(this._connection);
    }
    this._document = null;
    this._connection = null;
    this._documentChanged.emit(null);
  }

  /**
   * Apply a source change of one cell: the delta when there is one, then a
   * check that our copy equals the source (changes made "silently" produce
   * no delta); any difference is sent as one minimal edit.
   */
  protected applySourceChange(
    cellId: string,
    delta: readonly IDeltaOperation[] | undefined,
    currentSource: () => string
  ): void {
    const document = this._document;
    if (!document || !document.content.hasCell(cellId)) {
      return;
    }
    if (delta) {
      try {
        document.editCell(cellId, editsFromDelta(delta));
      } catch (error) {
        console.warn('jupyter-lean: resynchronising a cell', error);
      }
    }
    const source = currentSource();
    if (document.content.cellText(cellId) !== source) {
      document.setCellText(cellId, source);
    }
  }

  /** The handle an editor of `cellId` gets. */
  protected cellHandle(
    document: LeanDocument,
    cellId: string
  ): ILeanCellHandle {
    return {
      document,
      cellId,
      cursorActivity: (offset: number) =>
        this.services.goals.setTarget({ document, cellId, offset })
    };
  }

  private async _onPathChanged(): Promise<void> {
    // The document URI follows the path: reopen under the new one.
    this.detach();
    await this.evaluate();
  }

  private readonly _documentChanged = new Signal<this, LeanDocument | null>(
    this
  );
  private _document: LeanDocument | null = null;
  private _connection: LeanProjectConnection | null = null;
  private _isDisposed = false;
  private _attaching = false;
  // Bumped by detach so an attach still waiting for the projects gives up.
  private _generation = 0;
}
