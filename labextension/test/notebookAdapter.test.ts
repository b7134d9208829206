// @vitest-environment jsdom
import './domShims';
import type { ICellModel } from '@jupyterlab/cells';
import { PageConfig } from '@jupyterlab/coreutils';
import { NotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { LeanEditorRegistry } from '../src/editor/editorRegistry';
import { GoalsTracker } from '../src/goals/goalsTracker';
import { ILeanServices } from '../src/jupyter/documentAdapter';
import { LeanConnections } from '../src/jupyter/leanConnections';
import { NotebookLeanAdapter } from '../src/jupyter/notebookAdapter';
import {
  IHealthModel,
  ILeanServerApi,
  IProjectModel
} from '../src/lsp/sessionApi';
import { FakeApi, SocketRecorder } from './fakeServer';

const URI = 'file:///home/alice/.jupyter-lean/proofs.ipynb.lean';

class ServerApi extends FakeApi implements ILeanServerApi {
  async projects(): Promise<IProjectModel[]> {
    return [{ name: 'default', path: '/home/alice', lakefile: false }];
  }
  async health(): Promise<IHealthModel> {
    return { status: 'ok', lean: { found: true } };
  }
}

/**
 * The parts of a notebook panel the adapter uses: its context (a real
 * NotebookModel over a YNotebook) and its session context.
 */
class FakeNotebookPanel {
  readonly model = new NotebookModel();
  readonly context = {
    path: 'proofs.ipynb',
    localPath: 'proofs.ipynb',
    model: this.model,
    ready: new Promise<void>(resolve => (this._ready = resolve)),
    pathChanged: new Signal<unknown, string>(this),
    disposed: new Signal<unknown, void>(this)
  };
  readonly sessionContext = {
    kernelChanged: new Signal<unknown, unknown>(this),
    session: null as { kernel: { name: string } | null } | null,
    specsManager: { specs: null }
  };
  private _ready!: () => void;

  open(): void {
    this._ready();
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

// @jupyter/ydoc builds each cell's Yjs type before adding it to the
// notebook's Y.Doc, and Yjs warns about that; only those warnings are muted.
const YDOC_NOISE = /Invalid access: Add Yjs type|\[yjs#509\]/;

function muteYdocNoise(): void {
  const warn = console.warn.bind(console);
  vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    if (!YDOC_NOISE.test(args.map(String).join(' '))) {
      warn(...args);
    }
  });
}

describe('a Lean notebook', () => {
  let api: ServerApi;
  let sockets: SocketRecorder;
  let services: ILeanServices;
  let panel: FakeNotebookPanel;
  let adapter: NotebookLeanAdapter;

  beforeEach(() => {
    muteYdocNoise();
    vi.useFakeTimers();
    PageConfig.setOption('serverRoot', '');
    api = new ServerApi();
    sockets = new SocketRecorder();
    services = {
      connections: new LeanConnections({
        api,
        socketFactory: sockets.factory,
        releaseDelayMs: 1000
      }),
      registry: new LeanEditorRegistry(),
      goals: new GoalsTracker()
    };
  });

  afterEach(async () => {
    adapter.dispose();
    await vi.advanceTimersByTimeAsync(1000);
    services.goals.dispose();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  function cells(): ICellModel[] {
    return [...panel.model.cells];
  }

  async function openNotebook(options: {
    lean: boolean;
    sources: { type: 'code' | 'markdown'; source: string }[];
  }) {
    panel = new FakeNotebookPanel();
    const shared = panel.model.sharedModel;
    shared.insertCells(
      0,
      options.sources.map(({ type, source }) => ({ cell_type: type, source }))
    );
    if (options.lean) {
      panel.model.setMetadata('kernelspec', {
        name: 'lean4',
        display_name: 'Lean 4',
        language: 'lean4'
      });
    }
    adapter = new NotebookLeanAdapter(
      panel as unknown as NotebookPanel,
      services
    );
    panel.open();
    await settle();
    if (sockets.sockets.length) {
      sockets.last.open();
      sockets.last.answerInitialize();
      await settle();
    }
  }

  function lastText(): string {
    return adapter.document!.content.getText();
  }

  it('opens its code cells, joined, as one Lean document', async () => {
    await openNotebook({
      lean: true,
      sources: [
        { type: 'code', source: 'prelude' },
        { type: 'markdown', source: '# Naturals' },
        { type: 'code', source: 'inductive N | z' }
      ]
    });
    const opened = sockets.last
      .sentWith('textDocument/didOpen')
      .map(message => message.params.textDocument);
    expect(opened).toEqual([
      {
        uri: URI,
        languageId: 'lean4',
        version: 1,
        text: 'prelude\ninductive N | z'
      }
    ]);
    // Every code cell's editor is bound, the markdown cell's is not.
    const [first, markdown, last] = cells();
    expect(services.registry.get(first)?.document).toBe(adapter.document);
    expect(services.registry.get(markdown)).toBeUndefined();
    expect(services.registry.get(last)?.document).toBe(adapter.document);
  });

  it('leaves a notebook of another language alone', async () => {
    await openNotebook({
      lean: false,
      sources: [{ type: 'code', source: 'print(1)' }]
    });
    expect(adapter.document).toBeNull();
    expect(sockets.sockets).toEqual([]);
    expect(services.registry.get(cells()[0])).toBeUndefined();
  });

  it('becomes a Lean document when its metadata says Lean', async () => {
    await openNotebook({
      lean: false,
      sources: [{ type: 'code', source: 'prelude' }]
    });
    panel.model.setMetadata('language_info', { name: 'lean4' });
    await settle();
    sockets.last.open();
    sockets.last.answerInitialize();
    await settle();
    expect(adapter.document?.uri).toBe(URI);
    expect(lastText()).toBe('prelude');
  });

  it('follows the kernel: a Lean kernel makes it Lean, another kernel does not', async () => {
    await openNotebook({
      lean: false,
      sources: [{ type: 'code', source: 'prelude' }]
    });
    panel.sessionContext.session = { kernel: { name: 'lean4' } };
    panel.sessionContext.kernelChanged.emit({});
    await settle();
    sockets.last.open();
    sockets.last.answerInitialize();
    await settle();
    expect(adapter.document?.uri).toBe(URI);

    panel.sessionContext.session = { kernel: { name: 'python3' } };
    panel.sessionContext.kernelChanged.emit({});
    await settle();
    expect(adapter.document).toBeNull();
    expect(services.registry.get(cells()[0])).toBeUndefined();
  });

  it('follows edits of a cell as incremental changes', async () => {
    await openNotebook({
      lean: true,
      sources: [
        { type: 'code', source: 'prelude' },
        { type: 'code', source: 'inductive N | z' }
      ]
    });
    cells()[1].sharedModel.updateSource(15, 15, ' | s (n : N)');
    const changes = sockets.last
      .sentWith('textDocument/didChange')
      .map(message => message.params.contentChanges);
    expect(changes).toEqual([
      [
        {
          range: {
            start: { line: 1, character: 15 },
            end: { line: 1, character: 15 }
          },
          text: ' | s (n : N)'
        }
      ]
    ]);
    expect(lastText()).toBe('prelude\ninductive N | z | s (n : N)');
  });

  it('follows cells added and deleted', async () => {
    await openNotebook({
      lean: true,
      sources: [
        { type: 'code', source: 'prelude' },
        { type: 'code', source: 'universe u' }
      ]
    });
    const shared = panel.model.sharedModel;
    shared.insertCell(1, { cell_type: 'code', source: 'inductive N | z' });
    await settle();
    expect(lastText()).toBe('prelude\ninductive N | z\nuniverse u');
    const added = cells()[1];
    expect(services.registry.get(added)?.document).toBe(adapter.document);
    // The new cell's edits are followed too.
    added.sharedModel.updateSource(0, 0, '-- N\n');
    expect(lastText()).toBe('prelude\n-- N\ninductive N | z\nuniverse u');

    shared.deleteCell(2);
    await settle();
    expect(lastText()).toBe('prelude\n-- N\ninductive N | z');

    const removed = cells()[1];
    shared.deleteCell(1);
    await settle();
    expect(lastText()).toBe('prelude');
    expect(services.registry.get(removed)).toBeUndefined();
  });

  it('follows cells moved and turned into markdown', async () => {
    await openNotebook({
      lean: true,
      sources: [
        { type: 'code', source: 'prelude' },
        { type: 'code', source: 'universe u' },
        { type: 'code', source: 'inductive N | z' }
      ]
    });
    const shared = panel.model.sharedModel;
    shared.moveCell(2, 1);
    await settle();
    expect(lastText()).toBe('prelude\ninductive N | z\nuniverse u');

    // JupyterLab changes a cell's type by replacing the cell.
    const code = cells()[2];
    shared.transact(() => {
      shared.deleteCell(2);
      shared.insertCell(2, { cell_type: 'markdown', source: 'universe u' });
    });
    await settle();
    expect(lastText()).toBe('prelude\ninductive N | z');
    expect(services.registry.get(code)).toBeUndefined();
    expect(services.registry.get(cells()[2])).toBeUndefined();
    // The moved cell is still followed.
    cells()[1].sharedModel.updateSource(15, 15, ' | s (n : N)');
    expect(lastText()).toBe('prelude\ninductive N | z | s (n : N)');
  });

  it('maps cell keys to notebook indices and edits cells in place', async () => {
    await openNotebook({
      lean: true,
      sources: [
        { type: 'markdown', source: '# Title' },
        { type: 'code', source: 'prelude' },
        { type: 'code', source: 'universe u' }
      ]
    });
    const key = services.registry.get(cells()[2])!.cellId;
    expect(adapter.cellIndex(key)).toBe(2);
    expect(adapter.cellIndex('nope')).toBe(-1);
    adapter.editableSource(key)!.updateSource(0, 0, '-- hi\n');
    expect(cells()[2].sharedModel.getSource()).toBe('-- hi\nuniverse u');
    expect(lastText()).toBe('prelude\n-- hi\nuniverse u');
    expect(adapter.editableSource('nope')).toBeNull();
  });

  it('masks magic lines from Lean', async () => {
    await openNotebook({
      lean: true,
      sources: [{ type: 'code', source: '%project default\nprelude' }]
    });
    const [opened] = sockets.last.sentWith('textDocument/didOpen');
    const text = (opened.params.textDocument as { text: string }).text;
    expect(text.split('\n')).toHaveLength(2);
    expect(text).not.toContain('%project');
    expect(text.endsWith('\nprelude')).toBe(true);
  });

  it('closes the document and stops following cells when the notebook closes', async () => {
    await openNotebook({
      lean: true,
      sources: [{ type: 'code', source: 'prelude' }]
    });
    const document = adapter.document!;
    const [cell] = cells();
    panel.context.disposed.emit();
    expect(adapter.isDisposed).toBe(true);
    expect(document.isDisposed).toBe(true);
    expect(services.registry.get(cell)).toBeUndefined();
    cell.sharedModel.updateSource(0, 0, 'x');
    expect(sockets.last.sentWith('textDocument/didChange')).toEqual([]);
    expect(
      sockets.last
        .sentWith('textDocument/didClose')
        .map(message => message.params.textDocument)
    ).toEqual([{ uri: URI }]);
  });
});
