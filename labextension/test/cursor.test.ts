import { describe, expect, it } from 'vitest';

import { GoalsTracker } from '../src/goals/goalsTracker';
import { followCursor } from '../src/infoview/cursor';
import { ILocation } from '../src/infoview/bridge';
import { scriptedDocument } from './scriptedConnection';

function setup() {
  const { document } = scriptedDocument([
    { id: 'head', text: 'prelude\ninductive N | z' },
    { id: 'proof', text: 'theorem t : N := by\n  intro' }
  ]);
  const goals = new GoalsTracker({ onlyWhenViewed: true });
  const cursors: ILocation[] = [];
  followCursor(goals, {
    setCursor: location => {
      if (location) {
        cursors.push(location);
      }
    }
  });
  const lines = () => cursors.map(location => location.range.start.line);
  return { document, goals, cursors, lines };
}

describe('the infoview follows the cursor', () => {
  it('as a position in the Lean document', () => {
    const { document, goals, cursors } = setup();
    goals.setTarget({ document, cellId: 'proof', offset: 22 });
    const position = { line: 3, character: 2 };
    expect(cursors).toEqual([
      { uri: document.uri, range: { start: position, end: position } }
    ]);
  });

  it('when a cell above grows, the cursor staying put in its cell', () => {
    const { document, goals, lines } = setup();
    goals.setTarget({ document, cellId: 'proof', offset: 22 });
    document.editCell('head', [{ from: 0, to: 0, insert: '-- a\n-- b\n' }]);
    expect(lines()).toEqual([3, 5]);
  });

  it('keeps its place outside Lean documents and for gone cells', () => {
    const { document, goals, cursors } = setup();
    goals.setTarget({ document, cellId: 'proof', offset: 0 });
    goals.setTarget(null);
    goals.setTarget({ document, cellId: 'gone', offset: 0 });
    expect(cursors).toHaveLength(1);
  });

  it('stops watching a document the cursor left', () => {
    const first = setup();
    const { document: other } = scriptedDocument(
      [{ id: 'file', text: 'prelude' }],
      'file:///home/u/Other.lean'
    );
    first.goals.setTarget({
      document: first.document,
      cellId: 'proof',
      offset: 0
    });
    first.goals.setTarget({ document: other, cellId: 'file', offset: 7 });
    first.document.editCell('head', [{ from: 0, to: 0, insert: '\n' }]);
    expect(first.cursors.map(location => location.uri)).toEqual([
      first.document.uri,
      'file:///home/u/Other.lean'
    ]);
  });
});
