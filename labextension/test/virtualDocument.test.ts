import { describe, expect, it } from 'vitest';

import {
  ICellSnapshot,
  VirtualDocument
} from '../src/document/virtualDocument';
import {
  applyLspChanges,
  offsetOf,
  positionOf,
  randomGenerator
} from './helpers';

const CELLS: ICellSnapshot[] = [
  { id: 'a', text: 'def a := 1' },
  { id: 'b', text: 'theorem t : True := by\n  trivial' },
  { id: 'c', text: '' },
  { id: 'd', text: '#check a\n' }
];

function joined(cells: readonly ICellSnapshot[]): string {
  return cells.map(cell => cell.text).join('\n');
}

function notebook(count: number): ICellSnapshot[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `cell${i}`,
    text: `def x${i} : Nat := ${i}\n#check x${i}`
  }));
}

describe('VirtualDocument text', () => {
  it('joins code cells in order with a newline', () => {
    const doc = new VirtualDocument(CELLS);
    expect(doc.getText()).toBe(joined(CELLS));
    expect(doc.lineCount).toBe(joined(CELLS).split('\n').length);
  });

  it('has one empty line when it has no cells', () => {
    const doc = new VirtualDocument([]);
    expect(doc.getText()).toBe('');
    expect(doc.lineCount).toBe(1);
    expect(doc.toCellOffset({ line: 0, character: 0 })).toBeNull();
  });
});

describe('position mapping between cells and the document', () => {
  it('maps every offset of every cell and back', () => {
    const doc = new VirtualDocument(CELLS);
    const text = joined(CELLS);
    let cellStart = 0;
    for (const cell of CELLS) {
      for (let offset = 0; offset <= cell.text.length; offset++) {
        const position = doc.toDocumentPosition(cell.id, offset);
        // Same as counting in the joined string.
        expect(position).toEqual(positionOf(text, cellStart + offset));
        expect(doc.toCellOffset(position)).toEqual({ cellId: cell.id, offset });
      }
      cellStart += cell.text.length + 1;
    }
  });

  it('gives each cell its first document line', () => {
    const doc = new VirtualDocument(CELLS);
    expect(CELLS.map(cell => doc.cellStartLine(cell.id))).toEqual([0, 1, 3, 4]);
  });

  it('counts columns in UTF-16 code units (astral characters count two)', () => {
    // 𝔽 (U+1D53D) is one code point but two UTF-16 code units, like in LSP.
    const cells = [
      { id: 'x', text: 'variable (𝔽 : Type)' },
      { id: 'y', text: 'example : 𝔽 = 𝔽 := rfl -- α 𝔽' }
    ];
    const doc = new VirtualDocument(cells);
    const offsetAfterF = 'example : 𝔽'.length;
    // 11 code points, but 12 UTF-16 code units: LSP counts 12.
    expect([...'example : 𝔽'].length).toBe(11);
    expect(offsetAfterF).toBe(12);
    expect(doc.toDocumentPosition('y', offsetAfterF)).toEqual({
      line: 1,
      character: 12
    });
    expect(doc.toCellOffset({ line: 1, character: 12 })).toEqual({
      cellId: 'y',
      offset: 12
    });

    const changes = doc.editCell('y', [
      { from: offsetAfterF, to: offsetAfterF, insert: 'ˣ' }
    ]);
    expect(changes).toEqual([
      {
        range: {
          start: { line: 1, character: 12 },
          end: { line: 1, character: 12 }
        },
        text: 'ˣ'
      }
    ]);
    expect(applyLspChanges(joined(cells), changes)).toBe(doc.getText());
  });

  it('clamps positions past the end of a line or the document', () => {
    const doc = new VirtualDocument(CELLS);
    expect(doc.toDocumentPosition('a', 99)).toEqual({ line: 0, character: 10 });
    expect(doc.toDocumentPosition('b', -1)).toEqual({ line: 1, character: 0 });
    expect(doc.toCellOffset({ line: 0, character: 999 })).toEqual({
      cellId: 'a',
      offset: 10
    });
    expect(doc.toCellOffset({ line: 99, character: 0 })).toEqual({
      cellId: 'd',
      offset: CELLS[3].text.length
    });
  });
});

describe('incremental changes of cell edits', () => {
  it('turns an edit into a range change in document coordinates', () => {
    const doc = new VirtualDocument(CELLS);
    const before = doc.getText();
    const changes = doc.editCell('b', [
      { from: 25, to: 32, insert: 'exact trivial' }
    ]);
    expect(changes).toEqual([
      {
        range: {
          start: { line: 2, character: 2 },
          end: { line: 2, character: 9 }
        },
        text: 'exact trivial'
      }
    ]);
    expect(doc.cellText('b')).toBe('theorem t : True := by\n  exact trivial');
    expect(applyLspChanges(before, changes)).toBe(doc.getText());
  });

  it('emits several edits of one transaction last-first, so each range is valid when applied', () => {
    const doc = new VirtualDocument(CELLS);
    const before = doc.getText();
    const changes = doc.editCell('b', [
      { from: 0, to: 7, insert: 'lemma' },
      { from: 22, to: 23, insert: '\n\n' },
      { from: 30, to: 32, insert: '' }
    ]);
    expect(changes.map(change => change.range.start.line)).toEqual([2, 1, 1]);
    expect(applyLspChanges(before, changes)).toBe(doc.getText());
    expect(doc.cellText('b')).toBe('lemma t : True := by\n\n  trivi');
  });

  it('keeps mapping right after edits that add and remove lines', () => {
    const doc = new VirtualDocument(CELLS);
    doc.editCell('a', [{ from: 10, to: 10, insert: '\n\n-- more' }]);
    expect(doc.cellStartLine('b')).toBe(3);
    expect(doc.cellStartLine('d')).toBe(6);
    doc.editCell('a', [{ from: 0, to: doc.cellText('a').length, insert: 'x' }]);
    expect(doc.cellStartLine('d')).toBe(4);
  });

  it('sends only the differing part when a cell is resynchronised', () => {
    const doc = new VirtualDocument(CELLS);
    const changes = doc.setCellText(
      'b',
      'theorem t : True := by\n  exact True.intro'
    );
    expect(changes).toHaveLength(1);
    expect(changes[0].text.length).toBeLessThanOrEqual(
      'exact True.intro'.length
    );
    expect(doc.setCellText('b', doc.cellText('b'))).toEqual([]);
  });

  it('matches a reference implementation on random edits (incl. astral text)', () => {
    const random = randomGenerator(42);
    const alphabet = ['a', 'b', ' ', '\n', '𝔽', 'α', ':=', '\n\n'];
    const cells: ICellSnapshot[] = Array.from({ length: 6 }, (_, i) => ({
      id: `c${i}`,
      text: i % 2 ? 'x\n𝔽y' : ''
    }));
    const doc = new VirtualDocument(cells);
    for (let step = 0; step < 500; step++) {
      const id = cells[Math.floor(random() * cells.length)].id;
      const text = doc.cellText(id);
      // Pick up to three disjoint edits on code-point boundaries.
      const points = [...text].reduce<number[]>(
        (acc, ch) => [...acc, acc[acc.length - 1] + ch.length],
        [0]
      );
      const picks = Array.from(
        { length: 1 + Math.floor(random() * 3) },
        () => points[Math.floor(random() * points.length)]
      ).sort((x, y) => x - y);
      const edits = [];
      let last = -1;
      for (let i = 0; i + 1 < picks.length + 1; i += 2) {
        const from = picks[i];
        const to = picks[i + 1] ?? from;
        if (from <= last) {
          continue;
        }
        const insert =
          random() < 0.3
            ? ''
            : alphabet[Math.floor(random() * alphabet.length)];
        edits.push({ from, to, insert });
        last = to;
      }
      const before = doc.getText();
      const changes = doc.editCell(id, edits);
      expect(applyLspChanges(before, changes)).toBe(doc.getText());
    }
  });
});

describe('a keystroke in a large notebook', () => {
  function keystrokeIn(cellCount: number) {
    const doc = new VirtualDocument(notebook(cellCount));
    const cellId = `cell${Math.floor(cellCount / 2)}`;
    const end = doc.cellText(cellId).length;
    const changes = doc.editCell(cellId, [{ from: end, to: end, insert: 'x' }]);
    return { doc, cellId, changes };
  }

  it('sends one small change in cell 50 of 100', () => {
    const { doc, cellId, changes } = keystrokeIn(100);
    expect(changes).toHaveLength(1);
    expect(changes[0].text).toBe('x');
    const line = doc.cellStartLine(cellId) + 1;
    expect(changes[0].range.start.line).toBe(line);
    const fullText = doc.getText();
    expect(offsetOf(fullText, changes[0].range.start)).toBe(
      fullText.split('\n').slice(0, line).join('\n').length +
        1 +
        '#check x50'.length
    );
  });

  it('sends the same number of bytes whatever the notebook size', () => {
    const sizes = [100, 1000, 5000].map(count => {
      const { changes } = keystrokeIn(count);
      // Line numbers aside, the payload is identical.
      return JSON.stringify(changes).replace(/\d+/g, '0').length;
    });
    expect(new Set(sizes).size).toBe(1);
    expect(sizes[0]).toBeLessThan(120);
  });
});

describe('cell insertion, removal and moves', () => {
  function check(before: ICellSnapshot[], after: ICellSnapshot[]) {
    const doc = new VirtualDocument(before);
    const changes = doc.reconcile(after);
    expect(doc.getText()).toBe(joined(after));
    expect(doc.cellIds).toEqual(after.map(cell => cell.id));
    expect(applyLspChanges(joined(before), changes)).toBe(joined(after));
    for (const change of changes) {
      // Incremental edits only: never the whole document.
      expect(change.range).toBeDefined();
    }
    return changes;
  }

  const [a, b, c, d] = CELLS;
  const e = { id: 'e', text: 'example : 1 = 1 := rfl' };

  it('inserts cells at the start, middle and end, and into an empty notebook', () => {
    expect(check([a, b], [e, a, b])).toHaveLength(1);
    expect(check([a, b], [a, e, b])).toHaveLength(1);
    expect(check([a, b], [a, b, e])).toHaveLength(1);
    expect(check([], [e])).toHaveLength(1);
    expect(check([], [a, e])).toHaveLength(2);
    const [change] = check([a, b, c, d], [a, b, e, c, d]);
    expect(change.text).toBe('\n' + e.text);
  });

  it('removes the first, a middle, the last and the only cell', () => {
    expect(check([a, b, d], [b, d])).toHaveLength(1);
    expect(check([a, b, d], [a, d])).toHaveLength(1);
    expect(check([a, b, d], [a, b])).toHaveLength(1);
    expect(check([a], [])).toHaveLength(1);
    expect(check([c], [])).toHaveLength(1);
  });

  it('moves a cell as one removal and one insertion of that cell only', () => {
    expect(check([a, b, c, d], [b, c, d, a])).toHaveLength(2);
    expect(check([a, b, c, d], [d, a, b, c])).toHaveLength(2);
    const changes = check([a, b, c, d], [a, c, b, d]);
    expect(changes).toHaveLength(2);
    const moved = changes.map(change => change.text).join('');
    expect(moved.length).toBeLessThanOrEqual(
      Math.max(b.text.length, c.text.length) + 1
    );
  });

  it('handles a move in a 100-cell notebook with a change independent of its size', () => {
    const cells = notebook(100);
    const moved = [...cells];
    const [cell] = moved.splice(50, 1);
    moved.splice(10, 0, cell);
    const changes = check(cells, moved);
    expect(changes).toHaveLength(2);
    expect(JSON.stringify(changes).length).toBeLessThan(300);
  });

  it('handles mixed insertions, removals, moves and text changes', () => {
    const random = randomGenerator(7);
    let cells = notebook(12);
    for (let round = 0; round < 200; round++) {
      const next = [...cells];
      const action = random();
      if (action < 0.3 && next.length) {
        next.splice(Math.floor(random() * next.length), 1);
      } else if (action < 0.6) {
        next.splice(Math.floor(random() * (next.length + 1)), 0, {
          id: `n${round}`,
          text: random() < 0.5 ? '' : `def n${round} := 𝔽\n`
        });
      } else if (next.length > 1) {
        const [moved] = next.splice(Math.floor(random() * next.length), 1);
        next.splice(Math.floor(random() * (next.length + 1)), 0, moved);
      }
      if (next.length && random() < 0.3) {
        const index = Math.floor(random() * next.length);
        next[index] = { ...next[index], text: next[index].text + 'z' };
      }
      check(cells, next);
      cells = next;
    }
  });
});
