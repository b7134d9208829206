import { ISignal, Signal } from '@lumino/signaling';

import { LeanDocument } from '../document/leanDocument';

/** What an editor showing one cell (or one file) of a Lean document uses. */
export interface ILeanCellHandle {
  readonly document: LeanDocument;
  /** Key of the cell in the document. */
  readonly cellId: string;
  /** The user's cursor is at `offset` in this cell (moved, or focus came). */
  cursorActivity(offset: number): void;
}

/**
 * Which editor models belong to a Lean document.
 *
 * Editors are created by JupyterLab (lazily, for cells scrolled into view),
 * while the adapters decide which models are Lean: the editor extension looks
 * its model up here and follows `changed` to switch Lean features on or off.
 * Keyed by the editor model object (a cell model or a file's model).
 */
export class LeanEditorRegistry {
  get changed(): ISignal<this, object> {
    return this._changed;
  }

  bind(model: object, handle: ILeanCellHandle): void {
    if (this._handles.get(model) === handle) {
      return;
    }
    this._handles.set(model, handle);
    this._changed.emit(model);
  }

  unbind(model: object, handle?: ILeanCellHandle): void {
    const current = this._handles.get(model);
    if (!current || (handle && current !== handle)) {
      return;
    }
    this._handles.delete(model);
    this._changed.emit(model);
  }

  get(model: object): ILeanCellHandle | undefined {
    return this._handles.get(model);
  }

  private readonly _handles = new WeakMap<object, ILeanCellHandle>();
  private readonly _changed = new Signal<this, object>(this);
}
