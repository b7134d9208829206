import { IGoalsPayload } from './payload';
import { OutputView } from './outputView';
import { AskInfo, HOVER_DELAY_MS } from './subtermHover';
import { renderGoal } from './taggedText';

export type { AskInfo } from './subtermHover';
export {
  HOVER_DELAY_MS,
  HOVERED_CLASS,
  POPUP_CLASS,
  STATIC_NOTE
} from './subtermHover';

/**
 * A goals output: the goals laid out as in the infoview and, while the
 * output's Lean session lives, the type of the hovered subterm in a popup
 * (`SubtermHover`). Once the kernel says the session ended the view is
 * static: the same goals, no hovers, never an error.
 */
export class GoalsView extends OutputView {
  constructor(
    root: HTMLElement,
    payload: IGoalsPayload,
    ask: AskInfo | null,
    delayMs = HOVER_DELAY_MS
  ) {
    super(root, 'jl-goals', payload.title, ask, delayMs);
    const doc = root.ownerDocument;
    const refs = this._hover.collect;
    for (const goal of payload.goals) {
      root.appendChild(renderGoal(goal, refs, doc));
    }
    if (payload.termGoal !== null) {
      root.appendChild(renderGoal(payload.termGoal, refs, doc));
    }
    if (payload.goals.length === 0 && payload.termGoal === null) {
      const none = doc.createElement('div');
      none.className = 'jl-goal';
      none.textContent = 'no goals';
      root.appendChild(none);
    }
  }
}
