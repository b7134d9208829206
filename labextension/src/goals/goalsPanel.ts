import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { GoalsState, GoalsTracker, IGoalsTarget } from './goalsTracker';

/** Highlights Lean code into an element (JupyterLab's language registry). */
export type CodeHighlighter = (
  code: string,
  element: HTMLElement
) => Promise<void>;

const STALE_TEXT = {
  changed: 'Outdated: the document changed since these goals were computed.',
  processing:
    'Lean is still processing the file up to here; the goals may change.'
} as const;

/**
 * The "Lean Goals" side panel: the tactic state and expected type at the
 * cursor of the last active Lean editor, with a note when they are stale.
 */
export class GoalsPanel extends Widget {
  constructor(
    private readonly _tracker: GoalsTracker,
    private readonly _highlight: CodeHighlighter | null = null
  ) {
    super();
    this.addClass('jp-Lean-goals');
    this.title.label = 'Lean Goals';
    this.title.caption = 'Lean goals at the cursor';
    this._header = document.createElement('div');
    this._header.className = 'jp-Lean-goals-header';
    this._staleNote = document.createElement('div');
    this._staleNote.className = 'jp-Lean-goals-stale';
    this._body = document.createElement('div');
    this._body.className = 'jp-Lean-goals-body';
    this.node.append(this._header, this._staleNote, this._body);
    _tracker.stateChanged.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    this._tracker.setViewing(this, false);
    this._tracker.stateChanged.disconnect(this._render, this);
    super.dispose();
  }

  // The tracker asks Lean for goals only while a goals view is visible.
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._tracker.setViewing(this, true);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      this._tracker.setViewing(this, true);
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._tracker.setViewing(this, false);
  }

  protected onBeforeDetach(msg: Message): void {
    this._tracker.setViewing(this, false);
    super.onBeforeDetach(msg);
  }

  private _render(): void {
    const state = this._tracker.state;
    const rendering = ++this._rendering;
    this._header.textContent = describeTarget(this._tracker.target);
    const stale = state.kind === 'goals' ? state.stale : null;
    this._staleNote.textContent = stale ? STALE_TEXT[stale] : '';
    this._staleNote.hidden = !stale;
    this.node.dataset.state = state.kind;
    if (stale) {
      this.node.dataset.stale = stale;
    } else {
      delete this.node.dataset.stale;
    }
    // Keep showing the previous goals while loading: no flicker per keystroke.
    if (state.kind === 'loading' && this._body.childElementCount > 0) {
      return;
    }
    this._body.replaceChildren(...this._content(state, rendering));
  }

  private _content(state: GoalsState, rendering: number): HTMLElement[] {
    switch (state.kind) {
      case 'idle':
        return [
          note(
            'Place the cursor in a Lean notebook cell or .lean file to see its goals.'
          )
        ];
      case 'loading':
        return [note('Loading…')];
      case 'error':
        return [note(state.message, 'jp-Lean-goals-error')];
      case 'goals': {
        const sections: HTMLElement[] = [];
        if (state.goal) {
          const goals = state.goal.goals;
          sections.push(
            heading(
              goals.length === 0
                ? 'No goals'
                : `Tactic state: ${goals.length} goal${goals.length === 1 ? '' : 's'}`
            ),
            ...goals.map(goal => this._code(goal, 'jp-Lean-goal', rendering))
          );
        }
        if (state.termGoal) {
          sections.push(
            heading('Expected type'),
            this._code(state.termGoal.goal, 'jp-Lean-termGoal', rendering)
          );
        }
        return sections.length ? sections : [note('No goals at the cursor.')];
      }
    }
  }

  private _code(
    text: string,
    className: string,
    rendering: number
  ): HTMLElement {
    const pre = document.createElement('pre');
    pre.className = className;
    pre.textContent = text;
    if (this._highlight) {
      const highlighted = document.createElement('pre');
      highlighted.className = className;
      // Swap in the highlighted copy only if nothing newer was rendered.
      void this._highlight(text, highlighted).then(
        () => {
          if (rendering === this._rendering && pre.isConnected) {
            pre.replaceWith(highlighted);
          }
        },
        () => undefined
      );
    }
    return pre;
  }

  private readonly _header: HTMLElement;
  private readonly _staleNote: HTMLElement;
  private readonly _body: HTMLElement;
  private _rendering = 0;
}

/** "Cell 3, line 2:5" (notebook) or "Line 12:5" (file), 1-based. */
export function describeTarget(target: IGoalsTarget | null): string {
  if (
    !target ||
    target.document.isDisposed ||
    !target.document.content.hasCell(target.cellId)
  ) {
    return '';
  }
  const content = target.document.content;
  const position = content.toDocumentPosition(target.cellId, target.offset);
  const line = position.line - content.cellStartLine(target.cellId) + 1;
  const where = `${line}:${position.character + 1}`;
  if (content.cellCount === 1) {
    return `Line ${where}`;
  }
  const cell = content.cellIds.indexOf(target.cellId) + 1;
  return `Code cell ${cell}, line ${where}`;
}

function heading(text: string): HTMLElement {
  const element = document.createElement('div');
  element.className = 'jp-Lean-goals-heading';
  element.textContent = text;
  return element;
}

function note(text: string, className = 'jp-Lean-goals-note'): HTMLElement {
  const element = document.createElement('div');
  element.className = className;
  element.textContent = text;
  return element;
}
