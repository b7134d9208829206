import { describe, expect, it } from 'vitest';

import {
  IDocumentConnection,
  LeanDocument
} from '../src/document/leanDocument';
import { ISyncedDocument } from '../src/lsp/projectConnection';
import {
  IContentChange,
  ITextDocumentPositionParams
} from '../src/lsp/protocol';
import { ResponseError } from '../src/lsp/jsonrpc';

class RecordingConnection implements IDocumentConnection {
  opened: ISyncedDocument[] = [];
  changes: { version: number; changes: readonly IContentChange[] }[] = [];
  closed = 0;
  requests: { method: string; params: unknown }[] = [];
  answers = new Map<string, unknown>();

  open(document: ISyncedDocument) {
    this.opened.push(document);
  }
  change(
    _: ISyncedDocument,
    version: number,
    changes: readonly IContentChange[]
  ) {
    this.changes.push({ version, changes });
  }
  close() {
    this.closed++;
  }
  async request<T>(method: string, params: unknown): Promise<T> {
    this.requests.push({ method, params });
    const answer = this.answers.get(method);
    if (answer instanceof Error) {
      throw answer;
    }
    return answer as T;
  }
}

const URI = 'file:///root/.jupyter-lean/nb.ipynb.lean';

function makeDocument() {
  const connection = new RecordingConnection();
  const document = new LeanDocument({
    uri: URI,
    connection,
    cells: [
      { id: 'c1', text: 'def a : Nat := 1' },
      { id: 'c2', text: 'theorem t (p : Prop) (hp : p) : p := by\n  skip' },
      { id: 'c3', text: '#check a' }
    ]
  });
  return { connection, document };
}

const range = (l1: number, c1: number, l2: number, c2: number) => ({
  start: { line: l1, character: c1 },
  end: { line: l2, character: c2 }
});

describe('LeanDocument', () => {
  it('opens with version 1 and the joined text', () => {
    const { connection, document } = makeDocument();
    document.open();
    expect(connection.opened).toEqual([document]);
    expect(document.openSnapshot()).toEqual({
      text: 'def a : Nat := 1\ntheorem t (p : Prop) (hp : p) : p := by\n  skip\n#check a',
      version: 1
    });
  });

  it('bumps the version once per edit and sends incremental changes', () => {
    const { connection, document } = makeDocument();
    document.editCell('c3', [{ from: 8, to: 8, insert: 'b' }]);
    document.setCells([
      { id: 'c1', text: 'def a : Nat := 1' },
      { id: 'c3', text: '#check ab' }
    ]);
    expect(connection.changes.map(c => c.version)).toEqual([2, 3]);
    expect(connection.changes[0].changes).toEqual([
      { range: range(3, 8, 3, 8), text: 'b' }
    ]);
    expect(document.version).toBe(3);
    // Nothing changed: nothing sent, no new version.
    document.setCellText('c3', '#check ab');
    expect(document.version).toBe(3);
  });

  it('places diagnostics in cells using fullRange, clipped to the cell, without silent ones', () => {
    const { document } = makeDocument();
    let emitted = 0;
    document.diagnosticsChanged.connect(() => emitted++);
    document.handleDiagnostics({
      uri: URI,
      version: 1,
      diagnostics: [
        {
          range: range(1, 37, 2, 0),
          fullRange: range(1, 37, 2, 6),
          severity: 1,
          message: 'unsolved goals\np : Prop\nhp : p\n⊢ p'
        },
        { range: range(0, 4, 0, 5), severity: 2, message: 'unused' },
        { range: range(3, 0, 3, 6), severity: 3, message: 'a : Nat' },
        {
          range: range(1, 0, 1, 7),
          severity: 3,
          message: 'Goals accomplished!',
          isSilent: true
        },
        { range: range(0, 0, 9, 0), severity: 1, message: 'runs past its cell' }
      ]
    });
    expect(emitted).toBe(1);
    expect(document.cellDiagnostics('c2')).toEqual([
      {
        from: 37,
        to: 46,
        severity: 'error',
        message: 'unsolved goals\np : Prop\nhp : p\n⊢ p',
        source: undefined
      }
    ]);
    expect(document.cellDiagnostics('c1')).toEqual([
      {
        from: 4,
        to: 5,
        severity: 'warning',
        message: 'unused',
        source: undefined
      },
      {
        from: 0,
        to: 16,
        severity: 'error',
        message: 'runs past its cell',
        source: undefined
      }
    ]);
    expect(document.cellDiagnostics('c3')[0]).toMatchObject({
      from: 0,
      to: 6,
      severity: 'info'
    });
    expect(document.diagnosticCounts).toEqual({
      errors: 2,
      warnings: 1,
      infos: 1
    });
    expect(document.diagnosticsAreCurrent).toBe(true);
  });

  it('ignores diagnostics and progress for versions older than the latest sent', () => {
    const { document } = makeDocument();
    document.editCell('c3', [{ from: 0, to: 0, insert: ' ' }]); // version 2
    document.handleDiagnostics({
      uri: URI,
      version: 1,
      diagnostics: [{ range: range(0, 0, 0, 1), message: 'old' }]
    });
    expect(document.cellDiagnostics('c1')).toEqual([]);
    expect(document.diagnosticsAreCurrent).toBe(false);
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: []
    });
    expect(document.progress.processing).toBe(true);
    document.handleDiagnostics({
      uri: URI,
      version: 2,
      diagnostics: [{ range: range(0, 0, 0, 1), message: 'new' }]
    });
    expect(document.cellDiagnostics('c1').map(d => d.message)).toEqual(['new']);
  });

  it('replaces diagnostics per version, so fixed errors disappear', () => {
    const { document } = makeDocument();
    document.handleDiagnostics({
      uri: URI,
      version: 1,
      diagnostics: [{ range: range(3, 0, 3, 1), severity: 1, message: 'e' }]
    });
    expect(document.cellDiagnostics('c3')).toHaveLength(1);
    document.editCell('c3', [{ from: 0, to: 0, insert: '-- ' }]);
    document.handleDiagnostics({ uri: URI, version: 2, diagnostics: [] });
    expect(document.cellDiagnostics('c3')).toEqual([]);
    expect(document.diagnosticCounts.errors).toBe(0);
  });

  it('tracks file progress and fatal errors', () => {
    const { document } = makeDocument();
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: [{ range: range(2, 0, 3, 8), kind: 1 }]
    });
    expect(document.progress).toEqual({
      processing: true,
      fatal: false,
      line: 2,
      version: 1
    });
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: []
    });
    expect(document.progress.processing).toBe(false);
    document.handleFileProgress({
      textDocument: { uri: URI, version: 1 },
      processing: [{ range: range(0, 0, 3, 8), kind: 2 }]
    });
    expect(document.progress).toMatchObject({ processing: false, fatal: true });
  });

  it('asks for hover, completion and goals at document positions', async () => {
    const { connection, document } = makeDocument();
    connection.answers.set('textDocument/hover', {
      contents: { kind: 'markdown', value: '```lean\na : Nat\n```' }
    });
    connection.answers.set('$/lean/plainGoal', {
      goals: ['p : Prop\nhp : p\n⊢ p'],
      rendered: ''
    });
    connection.answers.set(
      '$/lean/plainTermGoal',
      new ResponseError(-32601, 'no handler')
    );
    connection.answers.set('textDocument/completion', [{ label: 'a' }]);
    expect(await document.hover('c3', 7)).toBe('```lean\na : Nat\n```');
    expect(connection.requests[0]).toEqual({
      method: 'textDocument/hover',
      params: {
        textDocument: { uri: URI },
        position: { line: 3, character: 7 }
      }
    });
    const goals = await document.goals('c2', 42);
    expect(goals).toEqual({
      goal: { goals: ['p : Prop\nhp : p\n⊢ p'], rendered: '' },
      termGoal: null,
      version: 1
    });
    const lastParams = connection.requests.at(-1)!
      .params as ITextDocumentPositionParams;
    expect(lastParams.position).toEqual({
      line: 2,
      character: 2
    });
    expect(await document.completion('c3', 8)).toEqual({
      isIncomplete: false,
      items: [{ label: 'a' }]
    });
  });

  it('closes on dispose and sends nothing after', () => {
    const { connection, document } = makeDocument();
    document.dispose();
    expect(connection.closed).toBe(1);
    document.editCell('c1', [{ from: 0, to: 0, insert: 'x' }]);
    expect(connection.changes).toEqual([]);
  });
});
