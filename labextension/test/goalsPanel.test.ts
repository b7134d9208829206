// @vitest-environment jsdom
import './domShims';

import { Widget } from '@lumino/widgets';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { GoalsPanel, describeTarget } from '../src/goals/goalsPanel';
import { GoalsTracker } from '../src/goals/goalsTracker';
import { scriptedDocument } from './scriptedConnection';

const HEAD = 'prelude\ninductive N | z | s (n : N)';
const PROOF = 'theorem t (n : N) : N := by\n  intro';
const GOAL = 'n : N\n⊢ N';

function setup() {
  const { document, connection } = scriptedDocument([
    { id: 'head', text: HEAD },
    { id: 'proof', text: PROOF }
  ]);
  connection.answers.set('$/lean/plainGoal', { goals: [GOAL], rendered: '' });
  connection.answers.set('$/lean/plainTermGoal', {
    goal: 'N',
    range: {
      start: { line: 3, character: 2 },
      end: { line: 3, character: 7 }
    }
  });
  // Lean has elaborated the whole document.
  document.handleFileProgress({
    textDocument: { uri: document.uri, version: document.version },
    processing: []
  });
  const tracker = new GoalsTracker({ debounceMs: 10, onlyWhenViewed: true });
  return { document, connection, tracker };
}

function texts(panel: GoalsPanel, selector: string): string[] {
  return [...panel.node.querySelectorAll(selector)].map(
    element => element.textContent ?? ''
  );
}

describe('the Lean Goals panel', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => {
    vi.useRealTimers();
    document.body.replaceChildren();
  });

  it('invites the user to place the cursor while there is none', () => {
    const { tracker } = setup();
    const panel = new GoalsPanel(tracker);
    expect(panel.title.label).toBe('Lean Goals');
    expect(panel.node.dataset.state).toBe('idle');
    expect(texts(panel, '.jp-Lean-goals-note')).toEqual([
      'Place the cursor in a Lean notebook cell or .lean file to see its goals.'
    ]);
    panel.dispose();
  });

  it('asks for goals only while shown', async () => {
    const { document, connection, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(50);
    expect(connection.requests).toEqual([]);

    Widget.attach(panel, window.document.body);
    expect(tracker.active).toBe(true);
    await vi.advanceTimersByTimeAsync(50);
    expect(connection.requests.map(request => request.method)).toContain(
      '$/lean/plainGoal'
    );

    panel.hide();
    expect(tracker.active).toBe(false);
    panel.show();
    expect(tracker.active).toBe(true);
    Widget.detach(panel);
    expect(tracker.active).toBe(false);
    panel.dispose();
  });

  it('shows the tactic state and the expected type at the cursor', async () => {
    const { document, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    Widget.attach(panel, window.document.body);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    expect(panel.node.dataset.state).toBe('idle');
    await vi.advanceTimersByTimeAsync(10);
    expect(panel.node.dataset.state).toBe('goals');
    expect(texts(panel, '.jp-Lean-goals-header')).toEqual([
      'Code cell 2, line 2:8'
    ]);
    expect(texts(panel, '.jp-Lean-goals-heading')).toEqual([
      'Tactic state: 1 goal',
      'Expected type'
    ]);
    expect(texts(panel, 'pre.jp-Lean-goal')).toEqual([GOAL]);
    expect(texts(panel, 'pre.jp-Lean-termGoal')).toEqual(['N']);
    const stale = panel.node.querySelector<HTMLElement>(
      '.jp-Lean-goals-stale'
    )!;
    expect(stale.hidden).toBe(true);
    panel.dispose();
  });

  it('counts goals and says when there are none', async () => {
    const { document, connection, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    Widget.attach(panel, window.document.body);
    connection.answers.set('$/lean/plainGoal', {
      goals: ['⊢ N', '⊢ N'],
      rendered: ''
    });
    connection.answers.set('$/lean/plainTermGoal', null);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    expect(texts(panel, '.jp-Lean-goals-heading')).toEqual([
      'Tactic state: 2 goals'
    ]);

    connection.answers.set('$/lean/plainGoal', { goals: [], rendered: '' });
    tracker.refresh();
    await vi.advanceTimersByTimeAsync(0);
    expect(texts(panel, '.jp-Lean-goals-heading')).toEqual(['No goals']);

    connection.answers.set('$/lean/plainGoal', null);
    tracker.refresh();
    await vi.advanceTimersByTimeAsync(0);
    expect(texts(panel, '.jp-Lean-goals-note')).toEqual([
      'No goals at the cursor.'
    ]);
    panel.dispose();
  });

  it('marks the goals outdated when the document changes', async () => {
    const { document, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    Widget.attach(panel, window.document.body);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    document.editCell('head', [{ from: 0, to: 0, insert: '-- x\n' }]);
    expect(panel.node.dataset.stale).toBe('changed');
    const stale = panel.node.querySelector<HTMLElement>(
      '.jp-Lean-goals-stale'
    )!;
    expect(stale.hidden).toBe(false);
    expect(stale.textContent).toMatch(/^Outdated/);
    // The previous goals stay while new ones load.
    expect(texts(panel, 'pre.jp-Lean-goal')).toEqual([GOAL]);
    await vi.advanceTimersByTimeAsync(10);
    expect(panel.node.dataset.stale).toBeUndefined();
    panel.dispose();
  });

  it('says when Lean is still processing up to the cursor', async () => {
    const { document, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    Widget.attach(panel, window.document.body);
    document.handleFileProgress({
      textDocument: { uri: document.uri, version: document.version },
      processing: [
        {
          range: {
            start: { line: 1, character: 0 },
            end: { line: 4, character: 0 }
          }
        }
      ]
    });
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    expect(panel.node.dataset.stale).toBe('processing');
    expect(texts(panel, '.jp-Lean-goals-stale')).toEqual([
      'Lean is still processing the file up to here; the goals may change.'
    ]);
    panel.dispose();
  });

  it('shows why the goals could not be fetched', async () => {
    const { document, connection, tracker } = setup();
    const panel = new GoalsPanel(tracker);
    Widget.attach(panel, window.document.body);
    connection.answers.set('$/lean/plainGoal', new Error('timed out'));
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    expect(panel.node.dataset.state).toBe('error');
    expect(texts(panel, '.jp-Lean-goals-error')).toEqual([
      'Could not get the goals: timed out'
    ]);
    panel.dispose();
  });

  it('swaps in highlighted code when the highlighter is done', async () => {
    const { document, tracker } = setup();
    const highlighted: string[] = [];
    const panel = new GoalsPanel(tracker, async (code, element) => {
      highlighted.push(code);
      element.innerHTML = `<span class="cm-keyword">${code.length}</span>`;
    });
    Widget.attach(panel, window.document.body);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    expect(highlighted).toEqual([GOAL, 'N']);
    const goal = panel.node.querySelector('pre.jp-Lean-goal')!;
    expect(goal.querySelector('.cm-keyword')!.textContent).toBe(
      String(GOAL.length)
    );
    panel.dispose();
  });

  it('keeps the plain code when highlighting fails', async () => {
    const { document, tracker } = setup();
    const panel = new GoalsPanel(tracker, async () => {
      throw new Error('no language');
    });
    Widget.attach(panel, window.document.body);
    tracker.setTarget({ document, cellId: 'proof', offset: 35 });
    await vi.advanceTimersByTimeAsync(10);
    expect(texts(panel, 'pre.jp-Lean-goal')).toEqual([GOAL]);
    panel.dispose();
  });
});

describe('where the cursor is, in words', () => {
  it('names the code cell and the line and column in it, 1-based', () => {
    const { document } = setup();
    expect(describeTarget({ document, cellId: 'proof', offset: 0 })).toBe(
      'Code cell 2, line 1:1'
    );
    expect(describeTarget({ document, cellId: 'head', offset: 9 })).toBe(
      'Code cell 1, line 2:2'
    );
  });

  it('names only the line in a file', () => {
    const { document } = scriptedDocument([{ id: 'file', text: HEAD }]);
    expect(describeTarget({ document, cellId: 'file', offset: 9 })).toBe(
      'Line 2:2'
    );
  });

  it('says nothing without a target, or for a gone cell or document', () => {
    const { document } = setup();
    expect(describeTarget(null)).toBe('');
    expect(describeTarget({ document, cellId: 'gone', offset: 0 })).toBe('');
    document.dispose();
    expect(describeTarget({ document, cellId: 'proof', offset: 0 })).toBe('');
  });
});
