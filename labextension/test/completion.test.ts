// @vitest-environment jsdom
import {
  Completion,
  CompletionContext,
  CompletionResult
} from '@codemirror/autocomplete';
import { EditorState } from '@codemirror/state';
import { describe, expect, it } from 'vitest';

import {
  completionType,
  leanCompletionSource,
  MarkdownRenderer
} from '../src/editor/completion';
import { ILeanCellHandle } from '../src/editor/editorRegistry';
import {
  ICompletionItem,
  ITextDocumentPositionParams
} from '../src/lsp/protocol';
import { scriptedDocument } from './scriptedConnection';

const HEAD = 'prelude\ninductive N | z | s (n : N)';

/** A cell `proof` after a header cell; `|` marks the cursor. */
function setup(proofWithCursor: string) {
  const pos = proofWithCursor.indexOf('|');
  const proof = proofWithCursor.replace('|', '');
  const { document, connection } = scriptedDocument([
    { id: 'head', text: HEAD },
    { id: 'proof', text: proof }
  ]);
  const handle: ILeanCellHandle = {
    document,
    cellId: 'proof',
    cursorActivity: () => undefined
  };
  const rendered: string[] = [];
  const renderMarkdown: MarkdownRenderer = async markdown => {
    rendered.push(markdown);
    const element = window.document.createElement('div');
    element.className = 'markdown';
    element.textContent = markdown;
    return element;
  };
  const source = leanCompletionSource(handle, renderMarkdown);
  const complete = (explicit = false) =>
    source(
      new CompletionContext(EditorState.create({ doc: proof }), pos, explicit)
    ) as Promise<CompletionResult | null>;
  return { connection, complete, rendered, pos };
}

function items(...labels: string[]): ICompletionItem[] {
  return labels.map(label => ({ label, kind: 3 }));
}

async function info(option: Completion): Promise<HTMLElement | null> {
  const info = option.info as (completion: Completion) => Promise<Node | null>;
  return (await info(option)) as HTMLElement | null;
}

describe('Lean completion in an editor', () => {
  it('asks Lean at the cursor, as a document position', async () => {
    const { connection, complete } = setup('def f := N.s|');
    connection.answers.set('textDocument/completion', {
      isIncomplete: false,
      items: items('s', 'succ')
    });
    const result = await complete();
    const request = connection.requests[0];
    expect(request.method).toBe('textDocument/completion');
    expect((request.params as ITextDocumentPositionParams).position).toEqual({
      line: 2,
      character: 12
    });
    // Replaces the last part of the dotted name being typed.
    expect(result!.from).toBe(11);
    expect(result!.options.map(option => option.label)).toEqual(['s', 'succ']);
    expect(result!.options[0].type).toBe('function');
  });

  it('stays quiet while no name is typed, unless asked', async () => {
    const { connection, complete, pos } = setup('def f := |');
    expect(await complete()).toBeNull();
    expect(connection.requests).toEqual([]);
    connection.answers.set('textDocument/completion', items('N'));
    const result = await complete(true);
    expect(result!.from).toBe(pos);
    expect(result!.options.map(option => option.label)).toEqual(['N']);
  });

  it('has nothing to offer when Lean has nothing or fails', async () => {
    const { connection, complete } = setup('def f := N|');
    connection.answers.set('textDocument/completion', {
      isIncomplete: false,
      items: []
    });
    expect(await complete()).toBeNull();
    connection.answers.set('textDocument/completion', null);
    expect(await complete()).toBeNull();
    connection.answers.set('textDocument/completion', new Error('timed out'));
    expect(await complete()).toBeNull();
  });

  it("starts where Lean's own edit starts, and inserts its text", async () => {
    const { connection, complete } = setup('def f := N.|');
    connection.answers.set('textDocument/completion', {
      isIncomplete: false,
      items: [
        {
          label: 'z',
          textEdit: {
            newText: 'N.z',
            range: {
              start: { line: 2, character: 9 },
              end: { line: 2, character: 11 }
            }
          }
        },
        { label: 's', insertText: 's (n := _)' },
        { label: 'rec' }
      ]
    });
    const result = await complete();
    expect(result!.from).toBe(9);
    expect(result!.options.map(option => option.apply)).toEqual([
      'N.z',
      's (n := _)',
      'rec'
    ]);
  });

  it('keeps a complete list while the name grows, not an incomplete one', async () => {
    const { connection, complete } = setup('def f := N.s|');
    connection.answers.set('textDocument/completion', {
      isIncomplete: false,
      items: items('succ')
    });
    const validFor = (await complete())!.validFor as RegExp;
    expect(validFor.test('suc')).toBe(true);
    expect(validFor.test('s.x')).toBe(false);
    expect(validFor.test('s ')).toBe(false);
    connection.answers.set('textDocument/completion', {
      isIncomplete: true,
      items: items('succ')
    });
    expect((await complete())!.validFor).toBeUndefined();
  });

  it('fills the detail pane from completionItem/resolve', async () => {
    const { connection, complete, rendered } = setup('def f := N.s|');
    connection.answers.set('textDocument/completion', items('s'));
    connection.answers.set('completionItem/resolve', {
      label: 's',
      detail: 'N → N',
      documentation: { kind: 'markdown', value: 'The **successor**.' }
    });
    const [option] = (await complete())!.options;
    const node = await info(option);
    expect(connection.requests.at(-1)!.method).toBe('completionItem/resolve');
    expect(node!.querySelector('pre')!.textContent).toBe('s : N → N');
    expect(rendered).toEqual(['The **successor**.']);
    expect(node!.querySelector('.markdown')).not.toBeNull();
  });

  it('fences plain-text documentation, and shows what it has when resolve fails', async () => {
    const { connection, complete, rendered } = setup('def f := N.s|');
    connection.answers.set('textDocument/completion', [
      { label: 's', documentation: { kind: 'plaintext', value: 'a * b' } },
      { label: 'z' }
    ]);
    connection.answers.set('completionItem/resolve', new Error('gone'));
    const [withDocs, bare] = (await complete())!.options;
    const node = await info(withDocs);
    expect(node!.querySelector('pre')).toBeNull();
    expect(rendered).toEqual(['```\na * b\n```']);
    expect(await info(bare)).toBeNull();
  });
});

describe('completion kinds', () => {
  it("map LSP item kinds to CodeMirror's icons", () => {
    expect(completionType(2)).toBe('method');
    expect(completionType(3)).toBe('function');
    expect(completionType(5)).toBe('property');
    expect(completionType(6)).toBe('variable');
    expect(completionType(7)).toBe('class');
    expect(completionType(8)).toBe('interface');
    expect(completionType(9)).toBe('namespace');
    expect(completionType(13)).toBe('enum');
    expect(completionType(14)).toBe('keyword');
    expect(completionType(21)).toBe('constant');
    expect(completionType(25)).toBe('type');
    expect(completionType(1)).toBe('text');
    expect(completionType(undefined)).toBe('text');
  });
});
