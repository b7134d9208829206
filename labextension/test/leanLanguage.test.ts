import { StringStream } from '@codemirror/language';
import { describe, expect, it } from 'vitest';

import { ILeanStreamState, leanStreamParser } from '../src/editor/leanLanguage';

/** Tokens of each line as [text, style] pairs, null styles dropped. */
function tokenize(source: string): [string, string][][] {
  const state: ILeanStreamState = leanStreamParser.startState!(2);
  return source.split('\n').map(line => {
    const tokens: [string, string][] = [];
    if (line === '') {
      leanStreamParser.blankLine?.(state, 2);
      return tokens;
    }
    const stream = new StringStream(line, 2, 2);
    while (!stream.eol()) {
      const style = leanStreamParser.token(stream, state);
      if (stream.pos === stream.start) {
        throw new Error(`no progress at ${stream.pos} in ${line}`);
      }
      if (style) {
        tokens.push([stream.current(), style]);
      }
      stream.start = stream.pos;
    }
    return tokens;
  });
}

describe('Lean 4 highlighting', () => {
  it('highlights declarations, names, types and numbers', () => {
    expect(tokenize('def double (n : Nat) : Nat := 2 * n')[0]).toEqual([
      ['def', 'keyword'],
      ['double', 'def'],
      ['(', 'bracket'],
      ['n', 'variableName'],
      [':', 'operator'],
      ['Nat', 'typeName'],
      [')', 'bracket'],
      [':', 'operator'],
      ['Nat', 'typeName'],
      [':=', 'operator'],
      ['2', 'number'],
      ['*', 'operator'],
      ['n', 'variableName']
    ]);
  });

  it('reads commands, tactics, sorry and unicode', () => {
    const [line1, line2] = tokenize(
      '#check ∀ α : Type, α → α\ntheorem t : 𝔽 := by simp; sorry'
    );
    expect(line1.slice(0, 3)).toEqual([
      ['#check', 'keyword'],
      ['∀', 'keyword'],
      ['α', 'variableName']
    ]);
    expect(line1).toContainEqual(['→', 'operator']);
    expect(line2).toContainEqual(['t', 'def']);
    expect(line2).toContainEqual(['𝔽', 'variableName']);
    expect(line2).toContainEqual(['simp', 'builtin']);
    expect(line2).toContainEqual(['sorry', 'invalid']);
  });

  it('handles nested block comments across lines, strings and chars', () => {
    const lines = tokenize(
      '/- a /- nested -/\nstill comment -/ def x := "s\\"tr" ++ \'c\'\n-- line'
    );
    expect(lines[0]).toEqual([['/- a /- nested -/', 'comment']]);
    expect(lines[1][0]).toEqual(['still comment -/', 'comment']);
    expect(lines[1]).toContainEqual(['"s\\"tr"', 'string']);
    expect(lines[1]).toContainEqual(["'c'", 'string']);
    expect(lines[2]).toEqual([['-- line', 'comment']]);
  });

  it('reads dotted names, primes and attributes', () => {
    const [line] = tokenize("@[simp] theorem Nat.add_zero' : x = x.succ");
    expect(line[0]).toEqual(['@[', 'meta']);
    expect(line).toContainEqual(["Nat.add_zero'", 'def']);
    expect(line).toContainEqual(['x.succ', 'variableName']);
  });
});
