import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { Backoff } from '../src/lsp/backoff';
import {
  ISyncedDocument,
  LeanProjectConnection,
  NotConnectedError
} from '../src/lsp/projectConnection';
import {
  ILeanFileProgressParams,
  IPublishDiagnosticsParams
} from '../src/lsp/protocol';
import { ApiError } from '../src/lsp/sessionApi';
import { FakeApi, MemoryStore, SocketRecorder } from './fakeServer';

class FakeDocument implements ISyncedDocument {
  constructor(
    readonly uri: string,
    public text: string,
    public version = 1
  ) {}
  diagnostics: IPublishDiagnosticsParams[] = [];
  progress: ILeanFileProgressParams[] = [];
  reopened = 0;
  openSnapshot() {
    return { text: this.text, version: this.version };
  }
  handleDiagnostics(params: IPublishDiagnosticsParams) {
    this.diagnostics.push(params);
  }
  handleFileProgress(params: ILeanFileProgressParams) {
    this.progress.push(params);
  }
  handleReopened() {
    this.reopened++;
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe('LeanProjectConnection', () => {
  let api: FakeApi;
  let sockets: SocketRecorder;
  let store: MemoryStore;
  let connection: LeanProjectConnection;
  let statuses: string[];

  beforeEach(() => {
    vi.useFakeTimers();
    api = new FakeApi();
    sockets = new SocketRecorder();
    store = new MemoryStore();
    connection = new LeanProjectConnection({
      project: 'default',
      rootUri: 'file:///home/u',
      api,
      socketFactory: sockets.factory,
      sessionStore: store,
      backoff: new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 })
    });
    statuses = [];
    connection.statusChanged.connect((_, status) =>
      statuses.push(status.phase)
    );
  });

  afterEach(async () => {
    await connection.dispose();
    vi.useRealTimers();
  });

  async function connectReady() {
    connection.start();
    await settle();
    sockets.last.open();
    sockets.last.answerInitialize();
    await settle();
  }

  it('creates a session, handshakes in Lean order and opens documents', async () => {
    const doc = new FakeDocument(
      'file:///home/u/.jupyter-lean/nb.ipynb.lean',
      'def a := 1'
    );
    connection.open(doc);
    await settle();
    expect(api.created).toEqual(['s1']);
    expect(store.get('default')).toBe('s1');
    const socket = sockets.last;
    expect(socket.url).toBe('ws://server/lean/sessions/s1/lsp?token=t');
    socket.open();
    // initialize first, with params; nothing else before its answer.
    expect(socket.sent.map(m => m.method)).toEqual(['initialize']);
    expect(socket.sent[0].params.rootUri).toBe('file:///home/u');
    socket.answerInitialize();
    await settle();
    expect(socket.sent.map(m => m.method)).toEqual([
      'initialize',
      'initialized',
      'textDocument/didOpen'
    ]);
    expect(socket.sent[1].params).toEqual({});
    expect(socket.sent[2].params.textDocument).toEqual({
      uri: doc.uri,
      languageId: 'lean4',
      version: 1,
      text: 'def a := 1'
    });
    expect(connection.status.phase).toBe('ready');
    expect(connection.status.serverVersion).toBe('0.3.0');
    expect(statuses).toContain('starting');
  });

  it('sends changes of open documents and routes notifications by URI', async () => {
    const doc = new FakeDocument('file:///home/u/My%20Notebook.lean', '');
    connection.open(doc);
    await connectReady();
    connection.change(doc, 2, [
      {
        range: {
          start: { line: 0, character: 0 },
          end: { line: 0, character: 0 }
        },
        text: 'x'
      }
    ]);
    expect(sockets.last.sentWith('textDocument/didChange')[0].params).toEqual({
      textDocument: { uri: doc.uri, version: 2 },
      contentChanges: [
        {
          range: {
            start: { line: 0, character: 0 },
            end: { line: 0, character: 0 }
          },
          text: 'x'
        }
      ]
    });
    // Lean may escape the URI differently.
    sockets.last.receive({
      jsonrpc: '2.0',
      method: 'textDocument/publishDiagnostics',
      params: {
        uri: 'file:///home/u/My Notebook.lean',
        version: 2,
        diagnostics: []
      }
    });
    sockets.last.receive({
      jsonrpc: '2.0',
      method: '$/lean/fileProgress',
      params: { textDocument: { uri: doc.uri, version: 2 }, processing: [] }
    });
    expect(doc.diagnostics).toHaveLength(1);
    expect(doc.progress).toHaveLength(1);
    connection.close(doc);
    expect(sockets.last.sentWith('textDocument/didClose')[0].params).toEqual({
      textDocument: { uri: doc.uri }
    });
  });

  it('answers server requests with null', async () => {
    await connectReady();
    sockets.last.receive({
      jsonrpc: '2.0',
      id: 'register_lean_watcher',
      method: 'client/registerCapability',
      params: {}
    });
    sockets.last.receive({
      jsonrpc: '2.0',
      id: 0,
      method: 'workspace/semanticTokens/refresh',
      params: {}
    });
    await settle();
    expect(sockets.last.sent.filter(m => 'result' in m)).toEqual([
      { jsonrpc: '2.0', id: 'register_lean_watcher', result: null },
      { jsonrpc: '2.0', id: 0, result: null }
    ]);
  });

  it('rejects requests while not ready', async () => {
    await expect(
      connection.request('textDocument/hover', {})
    ).rejects.toBeInstanceOf(NotConnectedError);
  });

  it('reconnects to the same session with backoff and re-opens documents with current text', async () => {
    const doc = new FakeDocument('file:///home/u/a.lean', 'v1');
    connection.open(doc);
    await connectReady();
    const first = sockets.last;
    first.drop(1006);
    expect(connection.status.phase).toBe('disconnected');
    expect(connection.status.retryInMs).toBe(100);
    // Edits while disconnected are not sent...
    doc.text = 'v2';
    doc.version = 5;
    connection.change(doc, 5, [
      {
        range: {
          start: { line: 0, character: 0 },
          end: { line: 0, character: 2 }
        },
        text: 'v2'
      }
    ]);
    await vi.advanceTimersByTimeAsync(100);
    const second = sockets.last;
    expect(second).not.toBe(first);
    expect(second.url).toContain('/s1/');
    expect(api.created).toEqual(['s1']);
    second.open();
    second.answerInitialize();
    await settle();
    // ...the re-open carries them (the server maps it to a full-text change).
    expect(second.sent.map(m => m.method)).toEqual([
      'initialize',
      'initialized',
      'textDocument/didOpen'
    ]);
    expect(second.sent[2].params.textDocument).toMatchObject({
      text: 'v2',
      version: 5
    });
    expect(doc.reopened).toBe(2);
    expect(connection.status.phase).toBe('ready');
  });

  it('backs off exponentially while the server is unreachable', async () => {
    await connectReady();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      sockets.last.drop(1006);
      delays.push(connection.status.retryInMs!);
      await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000]);
  });

  for (const code of [4404, 4410, 4409]) {
    it(`starts a new session after close code ${code}`, async () => {
      const doc = new FakeDocument('file:///home/u/a.lean', 'x');
      connection.open(doc);
      await connectReady();
      sockets.last.drop(code);
      expect(store.get('default')).toBeNull();
      await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
      expect(api.created).toEqual(['s1', 's2']);
      expect(sockets.last.url).toContain('/s2/');
      sockets.last.open();
      sockets.last.answerInitialize();
      await settle();
      expect(sockets.last.sentWith('textDocument/didOpen')).toHaveLength(1);
    });
  }

  it('resumes the session remembered for this tab', async () => {
    api.sessions.set('old', { id: 'old', project: 'default', state: 'ready' });
    store.set('default', 'old');
    await connectReady();
    expect(api.created).toEqual([]);
    expect(sockets.last.url).toContain('/old/');
  });

  it('adopts an idle session of the project (left by a closed tab) instead of starting Lean again', async () => {
    api.sessions.set('other', {
      id: 'other',
      project: 'mathlib',
      state: 'ready',
      connected: false
    });
    api.sessions.set('busy', {
      id: 'busy',
      project: 'default',
      state: 'ready',
      connected: true
    });
    api.sessions.set('gone', {
      id: 'gone',
      project: 'default',
      state: 'exited',
      connected: false
    });
    api.sessions.set('idle', {
      id: 'idle',
      project: 'default',
      state: 'ready',
      connected: false
    });
    await connectReady();
    expect(api.created).toEqual([]);
    expect(sockets.last.url).toContain('/idle/');
    expect(store.get('default')).toBe('idle');
  });

  it('adopts an idle session of the project when at the per-user limit', async () => {
    api.sessions.set('idle', {
      id: 'idle',
      project: 'default',
      state: 'ready',
      connected: false
    });
    api.sessions.set('busy', {
      id: 'busy',
      project: 'default',
      state: 'ready',
      connected: true
    });
    api.createError = new ApiError(429, 'too many sessions');
    await connectReady();
    expect(sockets.last.url).toContain('/idle/');
  });

  it('reports a failing session creation and retries', async () => {
    api.createError = new ApiError(503, 'Lean is not installed');
    connection.start();
    await settle();
    expect(connection.status).toMatchObject({
      phase: 'disconnected',
      message: 'Lean is not installed'
    });
    api.createError = null;
    await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    expect(sockets.sockets).toHaveLength(1);
  });

  it('checks the session when the socket cannot open twice, and replaces a vanished one', async () => {
    await connectReady();
    sockets.last.drop(1006);
    await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    sockets.last.drop(1006); // never opened
    await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    api.sessions.clear(); // culled while we were away
    sockets.last.drop(1006); // never opened again
    await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    expect(api.created).toEqual(['s1', 's2']);
    expect(sockets.last.url).toContain('/s2/');
  });

  it('retries when initialize fails', async () => {
    connection.start();
    await settle();
    sockets.last.open();
    const init = sockets.last.sentWith('initialize')[0];
    sockets.last.receive({
      jsonrpc: '2.0',
      id: init.id,
      error: { code: -32603, message: 'boom' }
    });
    await settle();
    expect(connection.status.phase).toBe('disconnected');
    expect(sockets.last.closed).not.toBeNull();
  });

  it('reconnects at once on request, abandoning an attempt in flight', async () => {
    await connectReady();
    sockets.last.drop(1006);
    await vi.advanceTimersByTimeAsync(connection.status.retryInMs!);
    const inFlight = sockets.last; // created, not yet open
    connection.reconnectNow();
    await settle();
    expect(inFlight.closed?.code).toBe(1000);
    expect(sockets.sockets).toHaveLength(3);
    sockets.last.open();
    sockets.last.answerInitialize();
    await settle();
    expect(connection.status.phase).toBe('ready');
  });

  it('deletes the session when disposed with deleteSession', async () => {
    await connectReady();
    await connection.dispose({ deleteSession: true });
    expect(api.sessions.size).toBe(0);
    expect(sockets.last.closed?.code).toBe(1000);
    expect(store.get('default')).toBeNull();
  });
});
