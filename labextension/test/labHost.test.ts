import { describe, expect, it, vi } from 'vitest';

import { LabInfoviewHost } from '../src/infoview/labHost';
import { LeanDocumentAdapter } from '../src/jupyter/documentAdapter';
import { NotebookLeanAdapter } from '../src/jupyter/notebookAdapter';
import { IPosition } from '../src/lsp/protocol';
import { positionOf } from './helpers';

const NOTEBOOK_URI = 'file:///home/alice/.jupyter-lean/proofs.ipynb.lean';
const FILE_URI = 'file:///home/alice/src/My%20Main.lean';

/** A Lean document whose cells are given texts, one after the other. */
class FakeDocument {
  constructor(
    readonly uri: string,
    private readonly _cells: [string, string][],
    readonly publishedDiagnostics: unknown = null
  ) {}

  readonly restart = vi.fn();

  toCellOffset(position: IPosition): { cellId: string; offset: number } | null {
    let line = position.line;
    for (const [cellId, text] of this._cells) {
      const lines = text.split('\n');
      if (line < lines.length) {
        const before = lines.slice(0, line).join('\n');
        const offset = (line ? before.length + 1 : 0) + position.character;
        return { cellId, offset };
      }
      line -= lines.length;
    }
    return null;
  }
}

/** A cell's text the infoview may edit. */
class FakeSource {
  constructor(public text: string) {}
  getSource(): string {
    return this.text;
  }
  updateSource(start: number, end: number, text: string): void {
    this.text = this.text.slice(0, start) + text + this.text.slice(end);
  }
}

/** An editor that records where the cursor went and whether it has focus. */
class FakeEditor {
  constructor(private readonly _text: string) {}
  cursor: { line: number; column: number } | null = null;
  focused = false;
  getPositionAt(offset: number): { line: number; column: number } {
    const { line, character } = positionOf(this._text, offset);
    return { line, column: character };
  }
  setCursorPosition(position: { line: number; column: number }): void {
    this.cursor = position;
  }
  focus(): void {
    this.focused = true;
  }
}

interface IFakeAdapter {
  document: FakeDocument | null;
  connection: unknown;
  documentContext: object;
  sources: Map<string, FakeSource>;
  editableSource(cellId: string): FakeSource | null;
}

function fileAdapter(document: FakeDocument | null, text = ''): IFakeAdapter {
  const sources = new Map([['file', new FakeSource(text)]]);
  return {
    document,
    connection: { project: 'default' },
    documentContext: {},
    sources,
    editableSource: cellId => sources.get(cellId) ?? null
  };
}

/** A notebook adapter (the host tells notebooks by their class). */
function notebookAdapter(
  document: FakeDocument,
  cells: [string, string][]
): IFakeAdapter & NotebookLeanAdapter {
  const sources = new Map(
    cells.map(([id, text]) => [id, new FakeSource(text)])
  );
  const adapter = Object.create(NotebookLeanAdapter.prototype);
  Object.defineProperties(adapter, {
    document: { value: document },
    connection: { value: { project: 'default' } },
    documentContext: { value: {} },
    sources: { value: sources }
  });
  adapter.editableSource = (cellId: string) => sources.get(cellId) ?? null;
  adapter.cellIndex = (cellId: string) =>
    // A markdown cell comes first in the notebook.
    cells.findIndex(([id]) => id === cellId) + (sources.has(cellId) ? 1 : 0);
  return adapter;
}

function setup(adapters: IFakeAdapter[]) {
  const opened: FakeEditor[] = [];
  const app = {
    commands: {
      execute: vi.fn(async (command: string) => {
        if (command !== 'docmanager:open') {
          return undefined;
        }
        const editor = new FakeEditor('');
        opened.push(editor);
        return { content: { editor } };
      })
    },
    shell: { activateById: vi.fn() }
  };
  const notebookPanels: unknown[] = [];
  const fileWidgets: unknown[] = [];
  const goals = { target: null as unknown };
  const copied: string[] = [];
  const host = new LabInfoviewHost({
    app: app as never,
    adapters: () => adapters as unknown as LeanDocumentAdapter[],
    notebooks: {
      find: (test: (panel: never) => boolean) =>
        notebookPanels.find(panel => test(panel as never))
    } as never,
    fileEditors: {
      find: (test: (widget: never) => boolean) =>
        fileWidgets.find(widget => test(widget as never))
    } as never,
    goals: goals as never,
    connections: {
      placement: async () => ({
        project: { name: 'default', path: '/home/alice', lakefile: false },
        serverRoot: '/home/alice'
      })
    } as never,
    copyToClipboard: text => copied.push(text)
  });
  return { host, app, notebookPanels, fileWidgets, goals, copied, opened };
}

const NOTEBOOK_CELLS: [string, string][] = [
  ['cell-1', 'prelude'],
  ['cell-2', 'inductive N\n  | z\n  | s (n : N)']
];

describe('the infoview host', () => {
  it('finds the connection of a document by its URI, however escaped', () => {
    const file = fileAdapter(new FakeDocument(FILE_URI, [['file', '']]));
    const closed = fileAdapter(null);
    const { host } = setup([closed, file]);
    expect(host.connectionFor(FILE_URI)).toBe(file.connection);
    expect(host.connectionFor('file:///home/alice/src/My Main.lean')).toBe(
      file.connection
    );
    expect(host.connectionFor('file:///home/alice/Other.lean')).toBeNull();
  });

  it('collects the diagnostics Lean published for each open document', () => {
    const published = { uri: FILE_URI, diagnostics: [] };
    const { host } = setup([
      fileAdapter(new FakeDocument(FILE_URI, [['file', '']], published)),
      fileAdapter(new FakeDocument(NOTEBOOK_URI, [['cell-1', '']])),
      fileAdapter(null)
    ]);
    expect(host.publishedDiagnostics()).toEqual([published]);
  });

  it('reveals a position of a notebook in its cell, in edit mode', async () => {
    const adapter = notebookAdapter(
      new FakeDocument(NOTEBOOK_URI, NOTEBOOK_CELLS),
      NOTEBOOK_CELLS
    );
    const { host, app, notebookPanels } = setup([adapter]);
    const editors = [
      new FakeEditor('# N'),
      ...NOTEBOOK_CELLS.map(([, text]) => new FakeEditor(text))
    ];
    const notebook = {
      activeCellIndex: 0,
      mode: 'command',
      widgets: editors.map(editor => ({ editor })),
      scrollToItem: vi.fn(async () => undefined)
    };
    notebookPanels.push(
      { id: 'other', context: {}, content: {} },
      { id: 'proofs', context: adapter.documentContext, content: notebook }
    );
    await host.reveal({
      uri: NOTEBOOK_URI,
      range: {
        start: { line: 3, character: 4 },
        end: { line: 3, character: 5 }
      }
    });
    await vi.waitFor(() => expect(editors[2].focused).toBe(true));
    expect(app.shell.activateById).toHaveBeenCalledWith('proofs');
    expect(notebook.activeCellIndex).toBe(2);
    expect(notebook.mode).toBe('edit');
    expect(notebook.scrollToItem).toHaveBeenCalledWith(2);
    // Line 3 of the document is line 2 of the second code cell.
    expect(editors[2].cursor).toEqual({ line: 2, column: 4 });
    expect(editors[1].cursor).toBeNull();
  });

  it('reveals a position of an open .lean file in its editor', async () => {
    const adapter = fileAdapter(
      new FakeDocument(FILE_URI, [['file', 'prelude\nuniverse u']])
    );
    const { host, app, fileWidgets } = setup([adapter]);
    const editor = new FakeEditor('prelude\nuniverse u');
    fileWidgets.push({
      id: 'main',
      context: adapter.documentContext,
      content: { editor }
    });
    await host.reveal({
      uri: FILE_URI,
      range: {
        start: { line: 1, character: 9 },
        end: { line: 1, character: 10 }
      }
    });
    expect(app.shell.activateById).toHaveBeenCalledWith('main');
    expect(editor.cursor).toEqual({ line: 1, column: 9 });
    expect(editor.focused).toBe(true);
    expect(app.commands.execute).not.toHaveBeenCalled();
  });

  it('opens a project file that is not open at the position', async () => {
    const { host, app, opened } = setup([]);
    await host.reveal({
      uri: 'file:///home/alice/Lib/Nat%20Basic.lean',
      range: {
        start: { line: 12, character: 2 },
        end: { line: 12, character: 8 }
      }
    });
    expect(app.commands.execute).toHaveBeenCalledWith('docmanager:open', {
      path: 'Lib/Nat Basic.lean',
      factory: 'Editor'
    });
    expect(opened[0].cursor).toEqual({ line: 12, column: 2 });
    expect(opened[0].focused).toBe(true);
  });

  it('does not open files outside the server root or not on disk', async () => {
    const { host, app } = setup([]);
    const range = {
      start: { line: 0, character: 0 },
      end: { line: 0, character: 0 }
    };
    await host.reveal({ uri: 'file:///usr/lib/lean/Init.lean', range });
    await host.reveal({ uri: 'https://example.com/Init.lean', range });
    await host.reveal({ uri: 'not a uri', range });
    expect(app.commands.execute).not.toHaveBeenCalled();
  });

  it('inserts text at a position of a cell, or on its own line above', async () => {
    const adapter = notebookAdapter(
      new FakeDocument(NOTEBOOK_URI, NOTEBOOK_CELLS),
      NOTEBOOK_CELLS
    );
    const { host } = setup([adapter]);
    const at = { uri: NOTEBOOK_URI, position: { line: 3, character: 6 } };
    await host.insertText('(m : N) ', 'here', at);
    expect(adapter.sources.get('cell-2')!.text).toBe(
      'inductive N\n  | z\n  | s (m : N) (n : N)'
    );
    await host.insertText('-- the successor\n-- of n', 'above', at);
    expect(adapter.sources.get('cell-2')!.text).toBe(
      'inductive N\n  | z\n  -- the successor\n  -- of n\n  | s (m : N) (n : N)'
    );
    expect(adapter.sources.get('cell-1')!.text).toBe('prelude');
  });

  it('inserts at the goals cursor when no position is given', async () => {
    const document = new FakeDocument(FILE_URI, [['file', 'prelude\n']]);
    const adapter = fileAdapter(document, 'prelude\n');
    const { host, goals } = setup([adapter]);
    await host.insertText('universe u', 'here');
    expect(adapter.sources.get('file')!.text).toBe('prelude\n');
    goals.target = { document, cellId: 'file', offset: 8 };
    await host.insertText('universe u', 'here');
    expect(adapter.sources.get('file')!.text).toBe('prelude\nuniverse u');
  });

  it('inserts nothing where there is no such document or cell', async () => {
    const adapter = fileAdapter(
      new FakeDocument(FILE_URI, [['file', 'prelude']]),
      'prelude'
    );
    const { host } = setup([adapter]);
    await host.insertText('x', 'here', {
      uri: 'file:///home/alice/Other.lean',
      position: { line: 0, character: 0 }
    });
    await host.insertText('x', 'here', {
      uri: FILE_URI,
      position: { line: 5, character: 0 }
    });
    expect(adapter.sources.get('file')!.text).toBe('prelude');
  });

  it('copies to the clipboard and restarts a document by URI', async () => {
    const document = new FakeDocument(FILE_URI, [['file', '']]);
    const { host, copied } = setup([fileAdapter(document)]);
    await host.copyToClipboard('N.s N.z');
    expect(copied).toEqual(['N.s N.z']);
    host.restartFile('file:///home/alice/Other.lean');
    expect(document.restart).not.toHaveBeenCalled();
    host.restartFile(FILE_URI);
    expect(document.restart).toHaveBeenCalledTimes(1);
  });
});
