import { Text } from '@codemirror/state';

import { IContentChange, IPosition } from '../lsp/protocol';
import {
  blankMagics,
  IMagicMask,
  magicMask,
  NO_MAGICS,
  sameMask
} from './magics';
import { planReconcile } from './reconcile';
import { ITextEdit, minimalEdit } from './textEdits';

/** A cell as the virtual document sees it: a key and its source text. */
export interface ICellSnapshot {
  /** Stable key of the cell while it exists (unique in the document). */
  id: string;
  text: string;
}

/** A place inside one cell. */
export interface ICellOffset {
  cellId: string;
  /** UTF-16 offset in the cell's text. */
  offset: number;
}

export interface IVirtualDocumentOptions {
  /**
   * Blank the kernel's magic lines (`%...` at the top of a cell) in what
   * Lean sees, as the kernel does when it runs the cell. For notebooks.
   */
  maskMagics?: boolean;
}

interface ICellEntry {
  id: string;
  // CodeMirror's ropes: O(log n) line lookup and replacement, no DOM needed.
  /** The cell's text as the editor has it. */
  source: Text;
  /** What Lean has: the source with the magic lines emptied (same lines). */
  text: Text;
  mask: IMagicMask;
}

/**
 * The Lean document of a notebook: the code cells in notebook order, joined
 * with "\n". A `.lean` file is the one-cell case.
 *
 * It mirrors exactly what the Lean server was told, maps positions between
 * cells and the document, and turns every cell edit, insertion, removal and
 * move into incremental LSP content changes whose size depends on the edit,
 * not on the document.
 *
 * Positions are LSP positions (UTF-16 columns), which are also JavaScript
 * string offsets inside a line, so no code-point conversion is involved.
 *
 * With `maskMagics`, Lean's text of a cell is its source with the magic
 * lines emptied: cell offsets are source offsets, document positions are in
 * Lean's text, and both have the same lines.
 */
export class VirtualDocument {
  constructor(
    cells: readonly ICellSnapshot[] = [],
    options: IVirtualDocumentOptions = {}
  ) {
    this._maskMagics = options.maskMagics ?? false;
    for (const cell of cells) {
      this._assertNewId(cell.id);
      this._cells.push(this._newEntry(cell));
      this._indexById.set(cell.id, this._cells.length - 1);
    }
  }

  /** Cell keys in document order. */
  get cellIds(): string[] {
    return this._cells.map(cell => cell.id);
  }

  get cellCount(): number {
    return this._cells.length;
  }

  /** Number of lines of the whole document (an empty document has one). */
  get lineCount(): number {
    if (this._cells.length === 0) {
      return 1;
    }
    const starts = this._lineStarts();
    const last = this._cells[this._cells.length - 1];
    return starts[starts.length - 1] + last.text.lines;
  }

  hasCell(cellId: string): boolean {
    return this._indexById.has(cellId);
  }

  /** The cell's source, as the editor has it. */
  cellText(cellId: string): string {
    return this._entry(cellId).source.toString();
  }

  /** The cell's text as Lean has it (magic lines emptied). */
  leanCellText(cellId: string): string {
    return this._entry(cellId).text.toString();
  }

  /** The whole document text, as sent in `didOpen`. */
  getText(): string {
    return this._cells.map(cell => cell.text.toString()).join('\n');
  }

  /** Document line on which the cell's first line lies. */
  cellStartLine(cellId: string): number {
    return this._lineStarts()[this._index(cellId)];
  }

  /**
   * Document position of a UTF-16 offset in a cell. The offset is clamped to
   * the cell: a cursor offset may be a keystroke ahead of or behind us while
   * CodeMirror is still dispatching, and a request a character off is
   * harmless where an exception is not.
   */
  toDocumentPosition(cellId: string, offset: number): IPosition {
    const entry = this._entry(cellId);
    const clamped = Math.max(0, Math.min(offset, entry.source.length));
    const position = positionIn(
      entry.source,
      clamped,
      this.cellStartLine(cellId)
    );
    if (entry.text !== entry.source) {
      // On an emptied magic line only column 0 exists for Lean.
      const lineInCell = position.line - this.cellStartLine(cellId);
      const leanLength = entry.text.line(lineInCell + 1).length;
      position.character = Math.min(position.character, leanLength);
    }
    return position;
  }

  /**
   * The cell and offset of a document position. Positions past a line's end
   * or past the document's end are clamped (Lean's ranges may end there).
   */
  toCellOffset(position: IPosition): ICellOffset | null {
    if (this._cells.length === 0) {
      return null;
    }
    const starts = this._lineStarts();
    const line = Math.max(0, position.line);
    // Last cell whose first line is <= line.
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (starts[middle] <= line) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    const entry = this._cells[low];
    const lineInCell = line - starts[low];
    if (lineInCell >= entry.source.lines) {
      return { cellId: entry.id, offset: entry.source.length };
    }
    const cellLine = entry.source.line(lineInCell + 1);
    const character = Math.min(
      Math.max(0, position.character),
      cellLine.length
    );
    return { cellId: entry.id, offset: cellLine.from + character };
  }

  /** Document position of the end of a cell's text as Lean has it. */
  cellEndPosition(cellId: string): IPosition {
    const entry = this._entry(cellId);
    return positionIn(
      entry.text,
      entry.text.length,
      this.cellStartLine(cellId)
    );
  }

  /**
   * Apply edits of one cell's source (old-text offsets, ascending, disjoint)
   * and return the LSP changes that do the same to Lean's document.
   */
  editCell(cellId: string, edits: readonly ITextEdit[]): IContentChange[] {
    const entry = this._entry(cellId);
    const startLine = this.cellStartLine(cellId);
    const linesBefore = entry.source.lines;
    const descending = [...edits].sort((a, b) => b.from - a.from);
    const applied = applyEdits(entry.source, descending, cellId, startLine);
    const source = applied.text;
    const mask = this._maskMagics ? magicMask(source) : NO_MAGICS;
    const text = mask.lines.length ? blankMagics(source, mask) : source;
    // Without magics before or after, Lean's text is the source.
    const changes =
      entry.mask.lines.length === 0 && mask.lines.length === 0
        ? applied.changes
        : this._leanChanges(entry, descending, mask, text, startLine);
    entry.source = source;
    entry.text = text;
    entry.mask = mask;
    if (entry.source.lines !== linesBefore) {
      this._starts = null;
    }
    return changes;
  }

  /**
   * Make a cell's text `text`, sending only the part that differs. For
   * changes we learn about as "here is the new source" instead of a delta.
   */
  setCellText(cellId: string, text: string): IContentChange[] {
    const edit = minimalEdit(this.cellText(cellId), text);
    return edit ? this.editCell(cellId, [edit]) : [];
  }

  /** Insert a cell so that it gets `index` in the cell order. */
  insertCell(index: number, cell: ICellSnapshot): IContentChange {
    this._assertNewId(cell.id);
    const at = Math.max(0, Math.min(index, this._cells.length));
    const entry = this._newEntry(cell);
    const leanText = entry.text.toString();
    let change: IContentChange;
    if (this._cells.length === 0) {
      change = {
        range: pointRange({ line: 0, character: 0 }),
        text: leanText
      };
    } else if (at === 0) {
      change = {
        range: pointRange({ line: 0, character: 0 }),
        text: leanText + '\n'
      };
    } else {
      const previous = this._cells[at - 1];
      change = {
        range: pointRange(this.cellEndPosition(previous.id)),
        text: '\n' + leanText
      };
    }
    this._cells.splice(at, 0, entry);
    this._reindex();
    return change;
  }

  /** Remove a cell together with one of the "\n" joining it to a neighbour. */
  removeCell(cellId: string): IContentChange {
    const index = this._index(cellId);
    let change: IContentChange;
    if (this._cells.length === 1) {
      change = {
        range: {
          start: { line: 0, character: 0 },
          end: this.cellEndPosition(cellId)
        },
        text: ''
      };
    } else if (index === 0) {
      const next = this._cells[1];
      change = {
        range: {
          start: { line: 0, character: 0 },
          end: { line: this.cellStartLine(next.id), character: 0 }
        },
        text: ''
      };
    } else {
      const previous = this._cells[index - 1];
      change = {
        range: {
          start: this.cellEndPosition(previous.id),
          end: this.cellEndPosition(cellId)
        },
        text: ''
      };
    }
    this._cells.splice(index, 1);
    this._reindex();
    return change;
  }

  /**
   * Bring the document to the given cell list (membership, order and texts)
   * with range edits only: removals, insertions (moves are both) and minimal
   * text edits.
   */
  reconcile(cells: readonly ICellSnapshot[]): IContentChange[] {
    const plan = planReconcile(
      this.cellIds,
      cells.map(cell => cell.id)
    );
    const byId = new Map(cells.map(cell => [cell.id, cell]));
    const changes: IContentChange[] = [];
    for (const id of plan.remove) {
      changes.push(this.removeCell(id));
    }
    for (const { id, index } of plan.insert) {
      changes.push(this.insertCell(index, byId.get(id)!));
    }
    for (const cell of cells) {
      changes.push(...this.setCellText(cell.id, cell.text));
    }
    return changes;
  }

  private _newEntry(cell: ICellSnapshot): ICellEntry {
    const source = toText(cell.text);
    const mask = this._maskMagics ? magicMask(source) : NO_MAGICS;
    const text = mask.lines.length ? blankMagics(source, mask) : source;
    return { id: cell.id, source, text, mask };
  }

  /**
   * Lean's changes for source edits of a masked cell. When no magic line is
   * involved (the usual keystroke) the edits themselves, shifted by what the
   * emptied lines before them lost; otherwise the one edit between Lean's old
   * and new text (a line became or stopped being a magic).
   */
  private _leanChanges(
    entry: ICellEntry,
    descending: readonly ITextEdit[],
    mask: IMagicMask,
    text: Text,
    startLine: number
  ): IContentChange[] {
    const shifted = sameMask(entry.mask, mask)
      ? shiftPastMagics(entry.source, entry.mask, descending)
      : null;
    if (shifted) {
      const applied = applyEdits(entry.text, shifted, entry.id, startLine);
      if (applied.text.eq(text)) {
        return applied.changes;
      }
    }
    const edit = minimalEdit(entry.text.toString(), text.toString());
    return edit
      ? applyEdits(entry.text, [edit], entry.id, startLine).changes
      : [];
  }

  private _lineStarts(): number[] {
    if (this._starts === null) {
      const starts: number[] = [];
      let line = 0;
      for (const cell of this._cells) {
        starts.push(line);
        line += cell.source.lines;
      }
      this._starts = starts;
    }
    return this._starts;
  }

  private _index(cellId: string): number {
    const index = this._indexById.get(cellId);
    if (index === undefined) {
      throw new Error(`no cell ${cellId} in the document`);
    }
    return index;
  }

  private _entry(cellId: string): ICellEntry {
    return this._cells[this._index(cellId)];
  }

  private _reindex(): void {
    this._indexById.clear();
    this._cells.forEach((cell, index) => this._indexById.set(cell.id, index));
    this._starts = null;
  }

  private _assertNewId(cellId: string): void {
    if (this._indexById.has(cellId)) {
      throw new Error(`cell ${cellId} is already in the document`);
    }
  }

  private readonly _maskMagics: boolean;
  private readonly _cells: ICellEntry[] = [];
  private readonly _indexById = new Map<string, number>();
  // First document line of each cell; null when a line count changed.
  private _starts: number[] | null = null;
}

/**
 * Apply edits (old-text offsets, descending, disjoint) to a text, with the
 * LSP changes that do the same when `startLine` is given. LSP applies a
 * change list in order, each against the result of the ones before, so the
 * changes go from the last edit to the first: each range is then still valid
 * in old coordinates.
 */
function applyEdits(
  original: Text,
  descending: readonly ITextEdit[],
  cellId: string,
  startLine?: number
): { text: Text; changes: IContentChange[] } {
  let text = original;
  const changes: IContentChange[] = [];
  let lowestFrom = Infinity;
  for (const edit of descending) {
    if (edit.from < 0 || edit.from > edit.to || edit.to > lowestFrom) {
      throw new RangeError(`bad edit ${edit.from}-${edit.to} in ${cellId}`);
    }
    if (edit.to > text.length) {
      throw new RangeError(
        `edit ${edit.from}-${edit.to} past the end (${text.length}) of ${cellId}`
      );
    }
    lowestFrom = edit.from;
    if (startLine !== undefined) {
      changes.push({
        range: {
          start: positionIn(text, edit.from, startLine),
          end: positionIn(text, edit.to, startLine)
        },
        text: edit.insert
      });
    }
    text = text.replace(edit.from, edit.to, toText(edit.insert));
  }
  return { text, changes };
}

/**
 * Source edits moved to Lean's text of the same cell: each edit shifted left
 * by the length of the emptied magic lines before it. Null when an edit
 * touches a magic line (then the text Lean sees changes differently).
 */
function shiftPastMagics(
  source: Text,
  mask: IMagicMask,
  edits: readonly ITextEdit[]
): ITextEdit[] | null {
  if (mask.lines.length === 0) {
    return [...edits];
  }
  const magics = mask.lines.map(number => source.line(number + 1));
  const shifted: ITextEdit[] = [];
  for (const edit of edits) {
    let shift = 0;
    for (const line of magics) {
      if (edit.from <= line.to && edit.to >= line.from) {
        return null;
      }
      if (line.to < edit.from) {
        shift += line.length;
      }
    }
    shifted.push({ ...edit, from: edit.from - shift, to: edit.to - shift });
  }
  return shifted;
}

function toText(text: string): Text {
  return Text.of(text.split('\n'));
}

function positionIn(text: Text, offset: number, startLine: number): IPosition {
  const line = text.lineAt(offset);
  return { line: startLine + line.number - 1, character: offset - line.from };
}

function pointRange(position: IPosition): { start: IPosition; end: IPosition } {
  return { start: position, end: { ...position } };
}
