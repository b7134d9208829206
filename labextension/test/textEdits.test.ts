import { describe, expect, it } from 'vitest';

import { editsFromDelta, minimalEdit } from '../src/document/textEdits';

function applyEdits(
  text: string,
  edits: { from: number; to: number; insert: string }[]
) {
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.from - a.from)) {
    result = result.slice(0, edit.from) + edit.insert + result.slice(edit.to);
  }
  return result;
}

describe('editsFromDelta (Yjs source changes)', () => {
  it('reads a typed character', () => {
    expect(editsFromDelta([{ retain: 5 }, { insert: 'x' }])).toEqual([
      { from: 5, to: 5, insert: 'x' }
    ]);
  });

  it('merges a delete and an insert at the same place into one replacement', () => {
    expect(
      editsFromDelta([{ retain: 2 }, { delete: 3 }, { insert: 'αβ' }])
    ).toEqual([{ from: 2, to: 5, insert: 'αβ' }]);
    expect(editsFromDelta([{ insert: 'new' }, { delete: 4 }])).toEqual([
      { from: 0, to: 4, insert: 'new' }
    ]);
  });

  it('keeps separate places separate, in old-text offsets', () => {
    const delta = [
      { retain: 1 },
      { delete: 1 },
      { retain: 2 },
      { insert: 'yy' },
      { retain: 1 },
      { delete: 2 }
    ];
    const edits = editsFromDelta(delta);
    expect(edits).toEqual([
      { from: 1, to: 2, insert: '' },
      { from: 4, to: 4, insert: 'yy' },
      { from: 5, to: 7, insert: '' }
    ]);
    expect(applyEdits('0123456789', edits)).toBe('023yy4789');
  });

  it('ignores empty operations', () => {
    expect(
      editsFromDelta([{ retain: 3 }, { insert: '' }, { delete: 0 }])
    ).toEqual([]);
  });
});

describe('minimalEdit', () => {
  it('keeps the common prefix and suffix', () => {
    expect(minimalEdit('def a := 1', 'def ab := 1')).toEqual({
      from: 5,
      to: 5,
      insert: 'b'
    });
    expect(minimalEdit('same', 'same')).toBeNull();
    expect(minimalEdit('', 'new')).toEqual({ from: 0, to: 0, insert: 'new' });
  });

  it('never splits a surrogate pair', () => {
    // 𝔽 and 𝔾 share their high surrogate.
    const edit = minimalEdit('x𝔽y', 'x𝔾y')!;
    expect(edit).toEqual({ from: 1, to: 3, insert: '𝔾' });
    const edit2 = minimalEdit('a𝔽', 'a𝔽𝔽')!;
    expect(applyEdits('a𝔽', [edit2])).toBe('a𝔽𝔽');
  });
});
