import { ISignal, Signal } from '@lumino/signaling';

import { IProgressState, LeanDocument } from '../document/leanDocument';
import { NotConnectedError } from '../lsp/projectConnection';
import {
  ErrorCodes,
  IPlainGoal,
  IPlainTermGoal,
  IPosition
} from '../lsp/protocol';
import { ResponseError } from '../lsp/jsonrpc';

/** The place whose goals are shown: the cursor of the last active Lean editor. */
export interface IGoalsTarget {
  document: LeanDocument;
  cellId: string;
  offset: number;
}

/** Why shown goals may no longer be right. */
export type StaleReason =
  /** The document was edited after the goals were fetched. */
  | 'changed'
  /** Lean has not finished elaborating up to the cursor. */
  | 'processing';

export type GoalsState =
  | { kind: 'idle' }
  | { kind: 'loading'; position: IPosition }
  | {
      kind: 'goals';
      position: IPosition;
      goal: IPlainGoal | null;
      termGoal: IPlainTermGoal | null;
      stale: StaleReason | null;
    }
  | { kind: 'error'; position: IPosition | null; message: string };

export interface IGoalsTrackerOptions {
  /** Wait this long after the cursor stops before asking Lean, in ms. */
  debounceMs?: number;
  /**
   * Fetch only while some view shows the goals (see `setViewing`); by
   * default goals are always fetched.
   */
  onlyWhenViewed?: boolean;
}

/**
 * Follows the cursor, fetches `$/lean/plainGoal` and `$/lean/plainTermGoal`
 * (debounced, only the latest answer counts) and says when what it shows is
 * stale: the document changed since, or Lean is still processing the part
 * before the cursor. It refetches when the text changes and when processing
 * finishes.
 */
export class GoalsTracker {
  constructor(options: IGoalsTrackerOptions = {}) {
    this._debounceMs = options.debounceMs ?? 150;
    this._onlyWhenViewed = options.onlyWhenViewed ?? false;
  }

  get state(): GoalsState {
    return this._state;
  }

  get stateChanged(): ISignal<this, GoalsState> {
    return this._stateChanged;
  }

  get target(): IGoalsTarget | null {
    return this._target;
  }

  /** Emitted on every cursor report, fetching or not (the infoview follows it). */
  get targetChanged(): ISignal<this, IGoalsTarget | null> {
    return this._targetChanged;
  }

  /** Whether goals are fetched (with `onlyWhenViewed`: while shown). */
  get active(): boolean {
    return !this._onlyWhenViewed || this._viewers.size > 0;
  }

  /** A view starts or stops showing the goals. */
  setViewing(viewer: object, viewing: boolean): void {
    const wasActive = this.active;
    if (viewing) {
      this._viewers.add(viewer);
    } else {
      this._viewers.delete(viewer);
    }
    if (this.active && !wasActive && this._target) {
      this._schedule(0);
    } else if (!this.active && wasActive) {
      this._clearTimer();
      this._request++;
    }
  }

  /** The cursor moved to `target` (or left all Lean editors: null). */
  setTarget(target: IGoalsTarget | null): void {
    if (target?.document !== this._target?.document) {
      this._watch(target?.document ?? null);
    }
    this._target = target;
    this._targetChanged.emit(target);
    if (!target) {
      this._clearTimer();
      this._request++;
      this._setState({ kind: 'idle' });
      return;
    }
    this._schedule();
  }

  /** Fetch again now (e.g. the panel was opened). */
  refresh(): void {
    this._schedule(0);
  }

  dispose(): void {
    this._clearTimer();
    this._watch(null);
    Signal.clearData(this);
  }

  private _watch(document: LeanDocument | null): void {
    if (this._watched) {
      this._watched.changed.disconnect(this._onDocumentChanged, this);
      this._watched.progressChanged.disconnect(this._onProgress, this);
    }
    this._watched = document;
    if (document) {
      document.changed.connect(this._onDocumentChanged, this);
      document.progressChanged.connect(this._onProgress, this);
    }
  }

  private _onDocumentChanged(): void {
    if (this._target?.document.isDisposed) {
      this.setTarget(null);
      return;
    }
    this._updateStaleness();
    this._schedule();
  }

  private _onProgress(_: LeanDocument, progress: IProgressState): void {
    const wasStaleByProcessing =
      this._state.kind === 'goals' && this._state.stale === 'processing';
    this._updateStaleness();
    if (wasStaleByProcessing && !progress.processing) {
      this._schedule(0);
    }
  }

  private _updateStaleness(): void {
    if (this._state.kind !== 'goals' || !this._target) {
      return;
    }
    const stale = this._staleReason(this._target, this._fetchedVersion);
    if (stale !== this._state.stale) {
      this._setState({ ...this._state, stale });
    }
  }

  private _staleReason(
    target: IGoalsTarget,
    fetchedVersion: number
  ): StaleReason | null {
    const document = target.document;
    if (document.version !== fetchedVersion) {
      return 'changed';
    }
    const progress = document.progress;
    if (progress.processing) {
      const cursorLine = this._position(target)?.line ?? 0;
      if (progress.line === null || progress.line <= cursorLine) {
        return 'processing';
      }
    }
    return null;
  }

  private _schedule(delay = this._debounceMs): void {
    this._clearTimer();
    if (!this.active) {
      return;
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this._fetch();
    }, delay);
  }

  private async _fetch(): Promise<void> {
    const target = this._target;
    if (
      !target ||
      target.document.isDisposed ||
      !target.document.content.hasCell(target.cellId)
    ) {
      return;
    }
    const position = this._position(target);
    if (!position) {
      return;
    }
    const request = ++this._request;
    if (this._state.kind !== 'goals') {
      this._setState({ kind: 'loading', position });
    }
    try {
      const result = await target.document.goals(target.cellId, target.offset);
      if (request !== this._request) {
        return;
      }
      this._fetchedVersion = result.version;
      this._setState({
        kind: 'goals',
        position,
        goal: result.goal,
        termGoal: result.termGoal,
        stale: this._staleReason(target, result.version)
      });
    } catch (error) {
      if (request !== this._request) {
        return;
      }
      if (
        error instanceof ResponseError &&
        error.code === ErrorCodes.ContentModified
      ) {
        return; // the text changed under the request; a new one follows
      }
      this._setState({
        kind: 'error',
        position,
        message:
          error instanceof NotConnectedError
            ? 'Not connected to the Lean server.'
            : `Could not get the goals: ${(error as Error).message ?? error}`
      });
    }
  }

  private _position(target: IGoalsTarget): IPosition | null {
    try {
      return target.document.toDocumentPosition(target.cellId, target.offset);
    } catch {
      return null; // the cell is gone or the offset is past its end
    }
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _setState(state: GoalsState): void {
    this._state = state;
    this._stateChanged.emit(state);
  }

  private readonly _debounceMs: number;
  private readonly _stateChanged = new Signal<this, GoalsState>(this);
  private readonly _targetChanged = new Signal<this, IGoalsTarget | null>(this);
  private readonly _onlyWhenViewed: boolean;
  private readonly _viewers = new Set<object>();
  private _state: GoalsState = { kind: 'idle' };
  private _target: IGoalsTarget | null = null;
  private _watched: LeanDocument | null = null;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  // Number of the latest request: older answers are dropped.
  private _request = 0;
  private _fetchedVersion = -1;
}
