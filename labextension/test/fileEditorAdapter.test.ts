// @vitest-environment jsdom
import { YFile } from '@jupyter/ydoc';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { PageConfig } from '@jupyterlab/coreutils';
import { Signal } from '@lumino/signaling';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { LeanDocument } from '../src/document/leanDocument';
import { LeanEditorRegistry } from '../src/editor/editorRegistry';
import { GoalsTracker } from '../src/goals/goalsTracker';
import { ILeanServices } from '../src/jupyter/documentAdapter';
import { FileLeanAdapter } from '../src/jupyter/fileEditorAdapter';
import { LeanConnections } from '../src/jupyter/leanConnections';
import {
  IHealthModel,
  ILeanServerApi,
  IProjectModel
} from '../src/lsp/sessionApi';
import { FakeApi, SocketRecorder } from './fakeServer';

const TEXT = 'prelude\ninductive N | z';

class ServerApi extends FakeApi implements ILeanServerApi {
  async projects(): Promise<IProjectModel[]> {
    return [{ name: 'default', path: '/home/alice', lakefile: false }];
  }
  async health(): Promise<IHealthModel> {
    return { status: 'ok', lean: { found: true } };
  }
}

/** The parts of a file's document context the adapter uses. */
class FakeContext {
  readonly pathChanged = new Signal<this, string>(this);
  readonly disposed = new Signal<this, void>(this);
  readonly model = { sharedModel: new YFile() };
  readonly ready: Promise<void>;
  private _ready!: () => void;

  constructor(public path: string) {
    this.model.sharedModel.setSource(TEXT);
    this.ready = new Promise(resolve => (this._ready = resolve));
  }

  get localPath(): string {
    return this.path;
  }

  open(): void {
    this._ready();
  }

  rename(path: string): void {
    this.path = path;
    this.pathChanged.emit(path);
  }

  close(): void {
    this.disposed.emit();
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe('a .lean file in the file editor', () => {
  let api: ServerApi;
  let sockets: SocketRecorder;
  let services: ILeanServices;
  let context: FakeContext;
  let adapter: FileLeanAdapter;
  let documents: (LeanDocument | null)[];

  beforeEach(async () => {
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
  });

  async function openFile(path: string) {
    context = new FakeContext(path);
    adapter = new FileLeanAdapter(
      context as unknown as DocumentRegistry.CodeContext,
      services
    );
    documents = [];
    adapter.documentChanged.connect((_, document) => documents.push(document));
    context.open();
    await settle();
    if (sockets.sockets.length) {
      sockets.last.open();
      sockets.last.answerInitialize();
      await settle();
    }
  }

  function opened(): unknown[] {
    return sockets.last
      .sentWith('textDocument/didOpen')
      .map(message => message.params.textDocument);
  }

  it('opens the file in Lean under its server path once ready', async () => {
    await openFile('src/Main.lean');
    expect(adapter.document).not.toBeNull();
    expect(adapter.connection?.project).toBe('default');
    expect(documents).toEqual([adapter.document]);
    expect(opened()).toEqual([
      {
        uri: 'file:///home/alice/src/Main.lean',
        languageId: 'lean4',
        version: 1,
        text: TEXT
      }
    ]);
    const handle = services.registry.get(context.model);
    expect(handle?.cellId).toBe('file');
    expect(handle?.document).toBe(adapter.document);
  });

  it('leaves other files alone', async () => {
    await openFile('notes.txt');
    expect(adapter.document).toBeNull();
    expect(sockets.sockets).toEqual([]);
    expect(services.registry.get(context.model)).toBeUndefined();
  });

  it('sends each edit of the shared model as an incremental change', async () => {
    await openFile('Main.lean');
    context.model.sharedModel.updateSource(TEXT.length, TEXT.length, ' | s');
    context.model.sharedModel.updateSource(0, 0, '-- hi\n');
    const changes = sockets.last
      .sentWith('textDocument/didChange')
      .map(message => message.params);
    expect(changes).toEqual([
      {
        textDocument: { uri: 'file:///home/alice/Main.lean', version: 2 },
        contentChanges: [
          {
            range: {
              start: { line: 1, character: 15 },
              end: { line: 1, character: 15 }
            },
            text: ' | s'
          }
        ]
      },
      {
        textDocument: { uri: 'file:///home/alice/Main.lean', version: 3 },
        contentChanges: [
          {
            range: {
              start: { line: 0, character: 0 },
              end: { line: 0, character: 0 }
            },
            text: '-- hi\n'
          }
        ]
      }
    ]);
    expect(adapter.document!.content.getText()).toBe('-- hi\n' + TEXT + ' | s');
  });

  it('edits the file in place for the infoview', async () => {
    await openFile('Main.lean');
    const source = adapter.editableSource('file')!;
    source.updateSource(0, 0, '-- from the infoview\n');
    expect(context.model.sharedModel.getSource()).toMatch(
      /^-- from the infoview\n/
    );
    expect(adapter.document!.content.getText()).toMatch(
      /^-- from the infoview\n/
    );
    expect(adapter.editableSource('other')).toBeNull();
  });

  it('reopens under the new name when renamed, and closes when no longer .lean', async () => {
    await openFile('Main.lean');
    const first = adapter.document!;
    services.goals.setTarget({ document: first, cellId: 'file', offset: 0 });
    context.rename('Renamed.lean');
    await settle();
    expect(first.isDisposed).toBe(true);
    expect(services.goals.target).toBeNull();
    expect(adapter.document).not.toBe(first);
    expect(adapter.document!.uri).toBe('file:///home/alice/Renamed.lean');
    expect(
      sockets.last
        .sentWith('textDocument/didClose')
        .map(message => message.params.textDocument)
    ).toEqual([{ uri: 'file:///home/alice/Main.lean' }]);

    context.rename('Renamed.txt');
    await settle();
    expect(adapter.document).toBeNull();
    expect(adapter.connection).toBeNull();
    expect(services.registry.get(context.model)).toBeUndefined();
    expect(documents.at(-1)).toBeNull();
  });

  it('closes the document and releases the session when the file is closed', async () => {
    await openFile('Main.lean');
    const document = adapter.document!;
    context.close();
    expect(adapter.isDisposed).toBe(true);
    expect(document.isDisposed).toBe(true);
    // No more edits are followed.
    context.model.sharedModel.updateSource(0, 0, 'x');
    expect(sockets.last.sentWith('textDocument/didChange')).toEqual([]);
    expect(api.sessions.size).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(api.sessions.size).toBe(0);
  });
});
