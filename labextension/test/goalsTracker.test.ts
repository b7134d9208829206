import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  IDocumentConnection,
  LeanDocument
} from '../src/document/leanDocument';
import { GoalsTracker } from '../src/goals/goalsTracker';
import { NotConnectedError } from '../src/lsp/projectConnection';

const URI = 'file:///p/.jupyter-lean/nb.ipynb.lean';

function setup() {
  const answers: Record<string, unknown> = {};
  let calls = 0;
  const connection: IDocumentConnection = {
    open: () => undefined,
    change: () => undefined,
    close: () => undefined,
    request: async <T>(method: string) => {
      calls++;
      const answer = answers[method];
      if (answer instanceof Error) {
        throw answer;
      }
      return answer as T;
    }
  };
  const document = new LeanDocument({
    uri: URI,
    connection,
    cells: [
      { id: 'c', text: 'example (p : Prop) (hp : p) : p := by\n  exact hp' }
    ]
  });
  const tracker = new GoalsTracker({ debounceMs: 50 });
  return { answers, document, tracker, calls: () => calls };
}

describe('GoalsTracker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fetches goals for the cursor after a pause', async () => {
    const { answers, document, tracker } = setup();
    answers['$/lean/plainGoal'] = {
      goals: ['p : Prop\nhp : p\n⊢ p'],
      rendered: ''
    };
    answers['$/lean/plainTermGoal'] = null;
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: []
    });
    tracker.setTarget({ document, cellId: 'c', offset: 40 });
    expect(tracker.state.kind).toBe('idle');
    await vi.advanceTimersByTimeAsync(50);
    expect(tracker.state).toMatchObject({
      kind: 'goals',
      position: { line: 1, character: 2 },
      goal: { goals: ['p : Prop\nhp : p\n⊢ p'] },
      stale: null
    });
  });

  it('marks goals stale when the document changes, then refreshes them', async () => {
    const { answers, document, tracker } = setup();
    answers['$/lean/plainGoal'] = { goals: ['⊢ p'], rendered: '' };
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: []
    });
    tracker.setTarget({ document, cellId: 'c', offset: 40 });
    await vi.advanceTimersByTimeAsync(50);
    document.editCell('c', [{ from: 0, to: 0, insert: ' ' }]);
    expect(tracker.state).toMatchObject({ kind: 'goals', stale: 'changed' });
    answers['$/lean/plainGoal'] = { goals: ['⊢ q'], rendered: '' };
    document.handleFileProgress({
      textDocument: { uri: URI, version: 2 },
      processing: []
    });
    await vi.advanceTimersByTimeAsync(50);
    expect(tracker.state).toMatchObject({
      kind: 'goals',
      stale: null,
      goal: { goals: ['⊢ q'] }
    });
  });

  it('says goals are stale while Lean still processes the part before the cursor', async () => {
    const { answers, document, tracker, calls } = setup();
    answers['$/lean/plainGoal'] = { goals: ['⊢ p'], rendered: '' };
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: [
        {
          range: {
            start: { line: 0, character: 0 },
            end: { line: 1, character: 10 }
          },
          kind: 1
        }
      ]
    });
    tracker.setTarget({ document, cellId: 'c', offset: 40 });
    await vi.advanceTimersByTimeAsync(50);
    expect(tracker.state).toMatchObject({ kind: 'goals', stale: 'processing' });
    const before = calls();
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: []
    });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls()).toBeGreaterThan(before);
    expect(tracker.state).toMatchObject({ kind: 'goals', stale: null });
  });

  it('shows only the answer to the latest cursor position', async () => {
    const { answers, document, tracker, calls } = setup();
    answers['$/lean/plainGoal'] = null;
    tracker.setTarget({ document, cellId: 'c', offset: 1 });
    tracker.setTarget({ document, cellId: 'c', offset: 2 });
    tracker.setTarget({ document, cellId: 'c', offset: 3 });
    await vi.advanceTimersByTimeAsync(50);
    expect(calls()).toBe(2); // one plainGoal + one plainTermGoal
    expect(tracker.state).toMatchObject({
      kind: 'goals',
      position: { line: 0, character: 3 }
    });
  });

  it('reports when not connected', async () => {
    const { answers, document, tracker } = setup();
    answers['$/lean/plainGoal'] = new NotConnectedError();
    tracker.setTarget({ document, cellId: 'c', offset: 1 });
    await vi.advanceTimersByTimeAsync(50);
    expect(tracker.state).toMatchObject({
      kind: 'error',
      message: 'Not connected to the Lean server.'
    });
    tracker.setTarget(null);
    expect(tracker.state.kind).toBe('idle');
  });
});
