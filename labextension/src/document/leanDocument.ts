import { ISignal, Signal } from '@lumino/signaling';

import { ISyncedDocument } from '../lsp/projectConnection';
import {
  ErrorCodes,
  hoverToMarkdown,
  ICompletionItem,
  ICompletionList,
  IContentChange,
  IHover,
  ILeanDiagnostic,
  ILeanFileProgressParams,
  IPlainGoal,
  IPlainTermGoal,
  IPosition,
  IPublishDiagnosticsParams,
  LeanFileProgressKind
} from '../lsp/protocol';
import { ResponseError } from '../lsp/jsonrpc';
import {
  countDiagnostics,
  diagnosticsByCell,
  ICellDiagnostic,
  IDiagnosticCounts
} from './diagnostics';
import { ITextEdit } from './textEdits';
import { ICellOffset, ICellSnapshot, VirtualDocument } from './virtualDocument';

/** The part of the project connection a document uses. */
export interface IDocumentConnection {
  open(document: ISyncedDocument): void;
  change(
    document: ISyncedDocument,
    version: number,
    changes: readonly IContentChange[]
  ): void;
  close(document: ISyncedDocument): void;
  request<T>(method: string, params: unknown, timeoutMs?: number): Promise<T>;
  restartDocument?(document: ISyncedDocument): void;
}

/** Where Lean is in elaborating the document, from `$/lean/fileProgress`. */
export interface IProgressState {
  /** Some part of the document is still being elaborated. */
  processing: boolean;
  /** Lean stopped on a fatal error (kind 2), e.g. a crashed worker. */
  fatal: boolean;
  /** First document line still being processed (0-based), when processing. */
  line: number | null;
  /** Document version the progress is about. */
  version: number;
}

/** Goals at one place, with the document version they were computed for. */
export interface IGoalsAtPosition {
  goal: IPlainGoal | null;
  termGoal: IPlainTermGoal | null;
  version: number;
}

export interface ILeanDocumentOptions {
  uri: string;
  cells: readonly ICellSnapshot[];
  connection: IDocumentConnection;
  /** Hide the kernel's `%` magic lines from Lean (notebooks). */
  maskMagics?: boolean;
}

/**
 * One Lean document (a notebook or a `.lean` file) synced with the server.
 *
 * The adapters feed it cell edits and structure changes; it keeps the
 * virtual document, bumps the version, sends incremental changes, and turns
 * what Lean sends back (diagnostics, progress, hover, completion, goals) into
 * cell terms. It has no JupyterLab or DOM dependency.
 */
export class LeanDocument implements ISyncedDocument {
  constructor(options: ILeanDocumentOptions) {
    this.uri = options.uri;
    this._connection = options.connection;
    this._content = new VirtualDocument(options.cells, {
      maskMagics: options.maskMagics
    });
  }

  readonly uri: string;

  /** The text as the server has it, and the cell/position mapping. */
  get content(): VirtualDocument {
    return this._content;
  }

  /** Version of the latest text sent (or to be sent on re-open). */
  get version(): number {
    return this._version;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Emitted when the version changes, i.e. after every edit. */
  get changed(): ISignal<this, number> {
    return this._changed;
  }

  get diagnosticsChanged(): ISignal<this, void> {
    return this._diagnosticsChanged;
  }

  get progressChanged(): ISignal<this, IProgressState> {
    return this._progressChanged;
  }

  get progress(): IProgressState {
    return this._progress;
  }

  get diagnosticCounts(): IDiagnosticCounts {
    return this._counts;
  }

  /** Whether diagnostics for the current version have arrived. */
  get diagnosticsAreCurrent(): boolean {
    return this._diagnosticsVersion === this._version;
  }

  /**
   * The latest accepted diagnostics as one full `publishDiagnostics`, null
   * before any: replayed to a listener that arrives late (the infoview).
   */
  get publishedDiagnostics(): IPublishDiagnosticsParams | null {
    if (this._diagnosticsVersion < 0) {
      return null;
    }
    return {
      uri: this.uri,
      version: this._diagnosticsVersion,
      diagnostics: [...this._diagnostics]
    };
  }

  /** Diagnostics of the latest accepted version placed in a cell. */
  cellDiagnostics(cellId: string): readonly ICellDiagnostic[] {
    return this._byCell.get(cellId) ?? [];
  }

  /** Open the document on the server (and keep it open across reconnects). */
  open(): void {
    this._connection.open(this);
  }

  /** Apply edits of one cell (old-text offsets, ascending, disjoint). */
  editCell(cellId: string, edits: readonly ITextEdit[]): void {
    this._send(this._content.editCell(cellId, edits));
  }

  /** Make a cell's text `text`, sending the smallest differing range. */
  setCellText(cellId: string, text: string): void {
    this._send(this._content.setCellText(cellId, text));
  }

  /** Bring membership, order and texts of the cells to `cells`. */
  setCells(cells: readonly ICellSnapshot[]): void {
    this._send(this._content.reconcile(cells));
  }

  /** Re-open on the server asking Lean to rebuild out-of-date imports. */
  restart(): void {
    this._connection.restartDocument?.(this);
  }

  toDocumentPosition(cellId: string, offset: number): IPosition {
    return this._content.toDocumentPosition(cellId, offset);
  }

  toCellOffset(position: IPosition): ICellOffset | null {
    return this._content.toCellOffset(position);
  }

  /** Markdown of the hover at a place, or null. */
  async hover(cellId: string, offset: number): Promise<string | null> {
    const hover = await this._requestAt<IHover | null>(
      'textDocument/hover',
      cellId,
      offset
    );
    return hoverToMarkdown(hover) || null;
  }

  async completion(
    cellId: string,
    offset: number
  ): Promise<ICompletionList | null> {
    const result = await this._requestAt<
      ICompletionList | ICompletionItem[] | null
    >('textDocument/completion', cellId, offset);
    if (Array.isArray(result)) {
      return { isIncomplete: false, items: result };
    }
    return result;
  }

  /** Fill in `detail`/`documentation` of a completion item. */
  async resolveCompletion(item: ICompletionItem): Promise<ICompletionItem> {
    return this._connection.request<ICompletionItem>(
      'completionItem/resolve',
      item
    );
  }

  /** `$/lean/plainGoal` and `$/lean/plainTermGoal` at a place, together. */
  async goals(cellId: string, offset: number): Promise<IGoalsAtPosition> {
    const version = this._version;
    const ask = async <T>(method: string): Promise<T | null> => {
      try {
        return await this._requestAt<T | null>(method, cellId, offset);
      } catch (error) {
        // An old server without one of the two requests: show the other.
        if (
          error instanceof ResponseError &&
          error.code === ErrorCodes.MethodNotFound
        ) {
          return null;
        }
        throw error;
      }
    };
    const [goal, termGoal] = await Promise.all([
      ask<IPlainGoal>('$/lean/plainGoal'),
      ask<IPlainTermGoal>('$/lean/plainTermGoal')
    ]);
    return { goal, termGoal, version };
  }

  openSnapshot(): { text: string; version: number } {
    return { text: this._content.getText(), version: this._version };
  }

  handleDiagnostics(params: IPublishDiagnosticsParams): void {
    if (this._isStale(params.version)) {
      return;
    }
    const version = params.version ?? this._version;
    let diagnostics: readonly ILeanDiagnostic[] = params.diagnostics;
    if (params.isIncremental && version === this._diagnosticsVersion) {
      diagnostics = [...this._diagnostics, ...params.diagnostics];
    }
    this._diagnostics = diagnostics;
    this._diagnosticsVersion = version;
    this._byCell = diagnosticsByCell(this._content, diagnostics);
    this._counts = countDiagnostics(diagnostics);
    this._diagnosticsChanged.emit();
  }

  handleFileProgress(params: ILeanFileProgressParams): void {
    const version = params.textDocument.version;
    if (this._isStale(version)) {
      return;
    }
    const ranges = params.processing ?? [];
    const fatal = ranges.some(
      entry => entry.kind === LeanFileProgressKind.FatalError
    );
    const running = ranges.filter(
      entry => entry.kind !== LeanFileProgressKind.FatalError
    );
    this._progress = {
      processing: running.length > 0,
      fatal,
      line: running.length
        ? Math.min(...running.map(entry => entry.range.start.line))
        : null,
      version: version ?? this._version
    };
    this._progressChanged.emit(this._progress);
  }

  handleReopened(): void {
    // The server re-elaborates after a re-open; fresh progress will follow.
    this._progressChanged.emit(this._progress);
  }

  /** Close the document on the server. */
  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._connection.close(this);
    Signal.clearData(this);
  }

  private _send(changes: IContentChange[]): void {
    if (changes.length === 0 || this._disposed) {
      return;
    }
    this._version++;
    this._connection.change(this, this._version, changes);
    this._changed.emit(this._version);
  }

  // Messages about versions older than the latest sent are outdated: the
  // text they describe no longer exists.
  private _isStale(version: number | null | undefined): boolean {
    return typeof version === 'number' && version < this._version;
  }

  private _requestAt<T>(
    method: string,
    cellId: string,
    offset: number
  ): Promise<T> {
    return this._connection.request<T>(method, {
      textDocument: { uri: this.uri },
      position: this._content.toDocumentPosition(cellId, offset)
    });
  }

  private readonly _connection: IDocumentConnection;
  private readonly _content: VirtualDocument;
  private readonly _changed = new Signal<this, number>(this);
  private readonly _diagnosticsChanged = new Signal<this, void>(this);
  private readonly _progressChanged = new Signal<this, IProgressState>(this);
  private _version = 1;
  private _disposed = false;
  private _diagnostics: readonly ILeanDiagnostic[] = [];
  private _diagnosticsVersion = -1;
  private _byCell = new Map<string, ICellDiagnostic[]>();
  private _counts: IDiagnosticCounts = { errors: 0, warnings: 0, infos: 0 };
  private _progress: IProgressState = {
    processing: true,
    fatal: false,
    line: 0,
    version: 1
  };
}
