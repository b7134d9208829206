import { Text } from '@codemirror/state';
import { describe, expect, it } from 'vitest';

import { blankMagics, magicMask } from '../src/document/magics';
import {
  ICellSnapshot,
  VirtualDocument
} from '../src/document/virtualDocument';
import { applyLspChanges, randomGenerator } from './helpers';

function leanText(source: string): string {
  const text = Text.of(source.split('\n'));
  return blankMagics(text, magicMask(text)).toString();
}

/**
 * The kernel's rule (lean_kernel/magics.py split_magics), line for line, on
 * plain strings: the oracle for the incremental bookkeeping below.
 */
function kernelSplit(code: string): string {
  const lines = code.split('\n');
  for (let number = 0; number < lines.length; number++) {
    const stripped = lines[number].trim();
    if (stripped.startsWith('%')) {
      lines[number] = '';
    } else if (stripped && !stripped.startsWith('--')) {
      break;
    }
  }
  return lines.join('\n');
}

describe('magic lines, as the kernel reads them', () => {
  it.each([
    ['%lsmagic', ''],
    ['%env\ndef x : N := N.z', '\ndef x : N := N.z'],
    ['  %timeout 5\n%goals on\n#check N', '\n\n#check N'],
    // Blank and comment lines may come between magics.
    [
      '-- setup\n\n%reset\n-- more\n%env\n#check N',
      '-- setup\n\n\n-- more\n\n#check N'
    ],
    // After the first line of code a % is Lean's (modulo), not a magic.
    ['#check N\n%env', '#check N\n%env'],
    ['def f := a\n  % b', 'def f := a\n  % b'],
    // A block comment is code for this rule, as for the kernel.
    ['/- doc -/\n%env', '/- doc -/\n%env'],
    ['', ''],
    ['\n\n', '\n\n']
  ])('%j -> %j', (source, expected) => {
    expect(leanText(source)).toBe(expected);
    expect(kernelSplit(source)).toBe(expected);
  });

  it("strips Python's whitespace, not JavaScript's", () => {
    // \x1c is whitespace to Python's str.strip(), \ufeff is not.
    expect(leanText('\x1c%env\nx')).toBe('\nx');
    expect(leanText('\ufeff%env\nx')).toBe('\ufeff%env\nx');
  });
});

describe('a notebook document with magics', () => {
  const cells: ICellSnapshot[] = [
    { id: 'a', text: '%lsmagic' },
    { id: 'b', text: '%env\n-- note\n%timeout 5\ndef x : N := N.z\n#check x' },
    { id: 'c', text: 'def y := 1 % 2' }
  ];

  it('gives Lean empty lines for them, keeping line numbers', () => {
    const doc = new VirtualDocument(cells, { maskMagics: true });
    expect(doc.getText()).toBe(
      '\n\n-- note\n\ndef x : N := N.z\n#check x\ndef y := 1 % 2'
    );
    expect(doc.cellText('b')).toBe(cells[1].text);
    expect(doc.lineCount).toBe(7);
    expect(doc.cellStartLine('c')).toBe(6);
  });

  it('leaves a .lean file (no masking) as it is', () => {
    const doc = new VirtualDocument([{ id: 'f', text: '%env\n#check x' }]);
    expect(doc.getText()).toBe('%env\n#check x');
  });

  it('maps positions of code lines as before, and magic lines to column 0', () => {
    const doc = new VirtualDocument(cells, { maskMagics: true });
    const source = cells[1].text;
    const xAt = source.indexOf('x :');
    expect(doc.toDocumentPosition('b', xAt)).toEqual({ line: 4, character: 4 });
    expect(doc.toCellOffset({ line: 4, character: 4 })).toEqual({
      cellId: 'b',
      offset: xAt
    });
    expect(doc.toDocumentPosition('b', 3)).toEqual({ line: 1, character: 0 });
    expect(doc.toCellOffset({ line: 1, character: 0 })).toEqual({
      cellId: 'b',
      offset: 0
    });
  });

  it('sends a keystroke below the magics as that keystroke, shifted', () => {
    const doc = new VirtualDocument(cells, { maskMagics: true });
    const end = cells[1].text.length;
    const changes = doc.editCell('b', [{ from: end, to: end, insert: '!' }]);
    expect(changes).toEqual([
      {
        range: {
          start: { line: 5, character: 8 },
          end: { line: 5, character: 8 }
        },
        text: '!'
      }
    ]);
  });

  it('blanks a line that becomes a magic and restores one that stops being one', () => {
    const doc = new VirtualDocument([{ id: 'a', text: 'env\n#check N' }], {
      maskMagics: true
    });
    let before = doc.getText();
    let changes = doc.editCell('a', [{ from: 0, to: 0, insert: '%' }]);
    expect(doc.getText()).toBe('\n#check N');
    expect(applyLspChanges(before, changes)).toBe(doc.getText());

    // Deleting the code line turns the `%` line below it into a magic.
    doc.setCellText('a', '#check N\n%env');
    expect(doc.getText()).toBe('#check N\n%env');
    before = doc.getText();
    changes = doc.editCell('a', [{ from: 0, to: 9, insert: '' }]);
    expect(doc.getText()).toBe('');
    expect(applyLspChanges(before, changes)).toBe('');

    before = doc.getText();
    changes = doc.editCell('a', [{ from: 0, to: 0, insert: 'def z := 0\n' }]);
    expect(doc.getText()).toBe('def z := 0\n%env');
    expect(applyLspChanges(before, changes)).toBe('def z := 0\n%env');
  });

  it('inserts and moves cells with their magics blanked', () => {
    const doc = new VirtualDocument(cells, { maskMagics: true });
    const before = doc.getText();
    const changes = doc.reconcile([
      cells[2],
      { id: 'd', text: '%goals\nx' },
      cells[0],
      cells[1]
    ]);
    expect(doc.getText()).toBe(
      [
        'def y := 1 % 2',
        '\nx',
        '',
        '\n-- note\n\ndef x : N := N.z\n#check x'
      ].join('\n')
    );
    expect(applyLspChanges(before, changes)).toBe(doc.getText());
  });

  it('matches the kernel on random edits around magic lines', () => {
    const random = randomGenerator(7);
    const alphabet = [
      '%',
      '%env',
      '-- ',
      '\n',
      ' ',
      'a',
      '𝔽',
      '\n%goals\n',
      'def'
    ];
    const start: ICellSnapshot[] = [
      { id: 'c0', text: '%env\nx' },
      { id: 'c1', text: '' },
      { id: 'c2', text: '-- c\n%lsmagic\n\n%goals on\ndef f := 1 % 2\n%x' },
      { id: 'c3', text: 'def y := 2' }
    ];
    const doc = new VirtualDocument(start, { maskMagics: true });
    for (let step = 0; step < 1500; step++) {
      const id = start[Math.floor(random() * start.length)].id;
      const text = doc.cellText(id);
      const points = [...text].reduce<number[]>(
        (acc, ch) => [...acc, acc[acc.length - 1] + ch.length],
        [0]
      );
      const pick = () => points[Math.floor(random() * points.length)];
      const [from, to] = [pick(), pick()].sort((x, y) => x - y);
      const edits = [
        {
          from,
          to: random() < 0.5 ? from : to,
          insert:
            random() < 0.3
              ? ''
              : alphabet[Math.floor(random() * alphabet.length)]
        }
      ];
      const before = doc.getText();
      const changes = doc.editCell(id, edits);
      const expected = start
        .map(cell => kernelSplit(doc.cellText(cell.id)))
        .join('\n');
      expect(doc.getText()).toBe(expected);
      expect(applyLspChanges(before, changes)).toBe(expected);
    }
  });
});
