import type { ICellModel } from '@jupyterlab/cells';
import type { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import type { CellChange, ISharedCell } from '@jupyter/ydoc';

import { LeanDocument } from '../document/leanDocument';
import { notebookDocumentUri } from '../document/uris';
import { ICellSnapshot } from '../document/virtualDocument';
import {
  IEditableSource,
  ILeanServices,
  LeanDocumentAdapter
} from './documentAdapter';
import { IProjectPlacement } from './leanConnections';
import { isLeanNotebook } from './leanDetection';

type SourceListener = (cell: ISharedCell, change: CellChange) => void;

/**
 * A notebook as one Lean document: its code cells, in order, joined with
 * newlines. Follows each code cell's source deltas (whatever edits them: the
 * editor, a collaborator, find-and-replace) and the cell list (add, delete,
 * move, type change), and binds the code cells' editors.
 */
export class NotebookLeanAdapter extends LeanDocumentAdapter {
  constructor(
    private readonly _panel: NotebookPanel,
    services: ILeanServices
  ) {
    super(_panel.context, services);
    void _panel.context.ready.then(() => {
      if (this.isDisposed) {
        return;
      }
      this._model?.metadataChanged.connect(this._onLanguageMaybeChanged, this);
      _panel.sessionContext.kernelChanged.connect(
        this._onLanguageMaybeChanged,
        this
      );
      void this.evaluate();
    });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model?.metadataChanged.disconnect(this._onLanguageMaybeChanged, this);
    this._panel.sessionContext.kernelChanged.disconnect(
      this._onLanguageMaybeChanged,
      this
    );
    super.dispose();
  }

  /** The notebook's index of the code cell with key `cellId`, or -1. */
  cellIndex(cellId: string): number {
    const model = this._model;
    if (!model) {
      return -1;
    }
    for (let index = 0; index < model.cells.length; index++) {
      const cell = model.cells.get(index);
      if (cell.type === 'code' && this._keys.get(cell) === cellId) {
        return index;
      }
    }
    return -1;
  }

  editableSource(cellId: string): IEditableSource | null {
    const index = this.cellIndex(cellId);
    return index < 0 ? null : this._model!.cells.get(index).sharedModel;
  }

  protected wantsLean(): boolean {
    const model = this._model;
    if (!model) {
      return false;
    }
    const kernel = this._panel.sessionContext.session?.kernel ?? null;
    const language = kernel
      ? this._panel.sessionContext.specsManager.specs?.kernelspecs[kernel.name]
          ?.language
      : undefined;
    return isLeanNotebook(kernel ? { name: kernel.name, language } : null, {
      kernelspec: model.getMetadata('kernelspec'),
      language_info: model.getMetadata('language_info')
    });
  }

  // The kernel runs magics; Lean must not see them in the live editor either.
  protected get maskMagics(): boolean {
    return true;
  }

  protected snapshot(): ICellSnapshot[] {
    return this._codeCells().map(cell => ({
      id: this._key(cell),
      text: cell.sharedModel.getSource()
    }));
  }

  protected documentUri(placement: IProjectPlacement): string {
    return notebookDocumentUri(
      placement.project,
      placement.serverRoot,
      this.path
    );
  }

  protected startSync(document: LeanDocument): void {
    // Keep what we connect to: on close the models are disposed (and their
    // shared models set to null) before we are told.
    this._syncedCells = this._model?.cells ?? null;
    this._syncedCells?.changed.connect(this._onCellsChanged, this);
    this._watchCells(document);
  }

  protected stopSync(): void {
    this._syncedCells?.changed.disconnect(this._onCellsChanged, this);
    this._syncedCells = null;
    for (const [cell, { shared, listener }] of this._listeners) {
      shared.changed.disconnect(listener);
      this.services.registry.unbind(cell);
    }
    this._listeners.clear();
  }

  private get _model(): INotebookModel | null {
    return this._panel.context.model ?? null;
  }

  private _codeCells(): ICellModel[] {
    const model = this._model;
    return model ? [...model.cells].filter(cell => cell.type === 'code') : [];
  }

  /** A key per cell model object: cell ids may repeat in old notebooks. */
  private _key(cell: ICellModel): string {
    let key = this._keys.get(cell);
    if (!key) {
      key = `cell-${++this._keyCounter}`;
      this._keys.set(cell, key);
    }
    return key;
  }

  private _onCellsChanged(): void {
    const document = this.document;
    if (!document) {
      return;
    }
    document.setCells(this.snapshot());
    this._watchCells(document);
  }

  /** Follow and bind exactly the current code cells. */
  private _watchCells(document: LeanDocument): void {
    const current = new Set(this._codeCells());
    for (const [cell, { shared, listener }] of this._listeners) {
      if (!current.has(cell)) {
        shared.changed.disconnect(listener);
        this.services.registry.unbind(cell);
        this._listeners.delete(cell);
      }
    }
    for (const cell of current) {
      if (this._listeners.has(cell)) {
        continue;
      }
      const key = this._key(cell);
      const listener: SourceListener = (shared, change) => {
        if (change.sourceChange) {
          this.applySourceChange(key, change.sourceChange, () =>
            shared.getSource()
          );
        }
      };
      const shared = cell.sharedModel;
      shared.changed.connect(listener);
      this._listeners.set(cell, { shared, listener });
      this.services.registry.bind(cell, this.cellHandle(document, key));
    }
  }

  private _onLanguageMaybeChanged(): void {
    void this.evaluate();
  }

  private readonly _keys = new WeakMap<ICellModel, string>();
  private readonly _listeners = new Map<
    ICellModel,
    { shared: ISharedCell; listener: SourceListener }
  >();
  private _syncedCells: INotebookModel['cells'] | null = null;
  private _keyCounter = 0;
}
