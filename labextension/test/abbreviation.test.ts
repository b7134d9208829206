import {
  EditorSelection,
  EditorState,
  Transaction,
  TransactionSpec
} from '@codemirror/state';
import { describe, expect, it } from 'vitest';

import { AbbreviationDriver, IEditorHost } from '../src/editor/abbreviation';
import { flush } from './helpers';

/** An editor without a DOM: a state, and transactions applied to it. */
class HeadlessEditor implements IEditorHost {
  constructor(doc = '') {
    this.state = EditorState.create({ doc, selection: { anchor: doc.length } });
    this.driver = new AbbreviationDriver(this);
  }

  state: EditorState;
  readonly driver: AbbreviationDriver;

  dispatch(spec: TransactionSpec): void {
    const transaction = this.state.update(spec);
    this.state = transaction.state;
    this.driver.handleTransaction(transaction);
  }

  /** Type text one character at a time, like a user. */
  async type(text: string): Promise<void> {
    for (const char of text) {
      const { from, to } = this.state.selection.main;
      this.dispatch({
        changes: { from, to, insert: char },
        selection: EditorSelection.cursor(from + char.length),
        userEvent: 'input.type'
      });
      await flush();
    }
  }

  async moveCursor(offset: number): Promise<void> {
    this.dispatch({
      selection: EditorSelection.cursor(offset),
      userEvent: 'select'
    });
    await flush();
  }

  get text(): string {
    return this.state.doc.toString();
  }

  get cursor(): number {
    return this.state.selection.main.head;
  }
}

describe('unicode input (AbbreviationRewriter on CodeMirror transactions)', () => {
  it('turns \\alpha followed by a space into α', async () => {
    const editor = new HeadlessEditor();
    await editor.type('\\alpha ');
    expect(editor.text).toBe('α ');
    expect(editor.cursor).toBe(2);
  });

  it('turns \\to into →', async () => {
    const editor = new HeadlessEditor('theorem t : p ');
    await editor.type('\\to q');
    expect(editor.text).toBe('theorem t : p → q');
  });

  it('turns \\N into ℕ', async () => {
    const editor = new HeadlessEditor('def n : ');
    await editor.type('\\N ');
    expect(editor.text).toBe('def n : ℕ ');
  });

  it('leaves unknown abbreviations as they are', async () => {
    const editor = new HeadlessEditor();
    await editor.type('\\Wxyz done');
    expect(editor.text).toBe('\\Wxyz done');
    expect(editor.driver.trackedRanges()).toEqual([]);
  });

  it('underlines (tracks) an abbreviation while it is typed, then replaces it', async () => {
    const editor = new HeadlessEditor('x ');
    await editor.type('\\al');
    expect(editor.driver.trackedRanges()).toEqual([{ from: 2, to: 5 }]);
    await editor.type('pha');
    await editor.type(')');
    expect(editor.text).toBe('x α)');
    expect(editor.driver.trackedRanges()).toEqual([]);
  });

  it('replaces an abbreviation when the cursor leaves it', async () => {
    const editor = new HeadlessEditor('ab');
    await editor.moveCursor(1);
    await editor.type('\\to');
    await editor.moveCursor(0);
    expect(editor.text).toBe('a→b');
  });

  it('places the cursor inside bracket pairs such as \\<>', async () => {
    const editor = new HeadlessEditor();
    await editor.type('\\<>');
    expect(editor.text).toBe('⟨⟩');
    expect(editor.cursor).toBe(1);
    await editor.type('a');
    expect(editor.text).toBe('⟨a⟩');
  });

  it('works after astral characters (UTF-16 offsets)', async () => {
    const editor = new HeadlessEditor('𝔽 ');
    await editor.type('\\beta ');
    expect(editor.text).toBe('𝔽 β ');
  });

  it('does not replace a backslash typed by someone else', async () => {
    const editor = new HeadlessEditor();
    // A remote (collaborative) change carries no user event.
    editor.dispatch({
      changes: { from: 0, insert: '\\' },
      annotations: Transaction.remote.of(true)
    });
    editor.dispatch({
      changes: { from: 1, insert: 'alpha ' },
      annotations: Transaction.remote.of(true)
    });
    await flush();
    expect(editor.text).toBe('\\alpha ');
  });
});
