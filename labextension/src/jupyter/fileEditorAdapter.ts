import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { FileChange, ISharedFile } from '@jupyter/ydoc';

import { LeanDocument } from '../document/leanDocument';
import { fileDocumentUri } from '../document/uris';
import { ICellSnapshot } from '../document/virtualDocument';
import {
  IEditableSource,
  ILeanServices,
  LeanDocumentAdapter
} from './documentAdapter';
import { IProjectPlacement } from './leanConnections';
import { isLeanFilePath } from './leanDetection';

/** The single "cell" of a file document. */
const FILE_CELL = 'file';

/** A `.lean` file in the file editor: a one-cell Lean document. */
export class FileLeanAdapter extends LeanDocumentAdapter {
  constructor(context: DocumentRegistry.CodeContext, services: ILeanServices) {
    super(context, services);
    this._codeContext = context;
    void context.ready.then(() => this.evaluate());
  }

  editableSource(cellId: string): IEditableSource | null {
    return cellId === FILE_CELL ? this._codeContext.model.sharedModel : null;
  }

  protected wantsLean(): boolean {
    return isLeanFilePath(this.path);
  }

  protected snapshot(): ICellSnapshot[] {
    return [
      { id: FILE_CELL, text: this._codeContext.model.sharedModel.getSource() }
    ];
  }

  protected documentUri(placement: IProjectPlacement): string {
    return fileDocumentUri(placement.serverRoot, this.path);
  }

  protected startSync(document: LeanDocument): void {
    // Kept: on close the model's shared model is gone before we are told.
    this._shared = this._codeContext.model.sharedModel;
    this._shared.changed.connect(this._onSourceChanged, this);
    this.services.registry.bind(
      this._codeContext.model,
      this.cellHandle(document, FILE_CELL)
    );
  }

  protected stopSync(): void {
    this._shared?.changed.disconnect(this._onSourceChanged, this);
    this._shared = null;
    this.services.registry.unbind(this._codeContext.model);
  }

  private _onSourceChanged(shared: ISharedFile, change: FileChange): void {
    if (change.sourceChange) {
      this.applySourceChange(FILE_CELL, change.sourceChange, () =>
        shared.getSource()
      );
    }
  }

  private readonly _codeContext: DocumentRegistry.CodeContext;
  private _shared: ISharedFile | null = null;
}
