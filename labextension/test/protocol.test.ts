import { describe, expect, it } from 'vitest';

import { hoverToMarkdown } from '../src/lsp/protocol';

describe('hover text', () => {
  it('is empty without a hover', () => {
    expect(hoverToMarkdown(null)).toBe('');
    expect(hoverToMarkdown(undefined)).toBe('');
  });

  it("takes Lean's Markdown as it is", () => {
    expect(
      hoverToMarkdown({
        contents: { kind: 'markdown', value: '```lean\nN.z : N\n```\n***\ndoc' }
      })
    ).toBe('```lean\nN.z : N\n```\n***\ndoc');
  });

  it('fences plain text so it is not read as Markdown', () => {
    expect(
      hoverToMarkdown({ contents: { kind: 'plaintext', value: 'a * b * c' } })
    ).toBe('```\na * b * c\n```');
  });

  it('joins marked strings with rules, code in its language', () => {
    expect(
      hoverToMarkdown({
        contents: [{ language: 'lean', value: 'N : Type' }, 'the naturals']
      })
    ).toBe('```lean\nN : Type\n```\n\n---\n\nthe naturals');
  });

  it('trims what is left around the text', () => {
    expect(hoverToMarkdown({ contents: ['', '  x  '] })).toBe('---\n\n  x');
  });
});
