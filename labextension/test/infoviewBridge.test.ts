import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { InfoviewApi } from '@leanprover/infoview-api';

import { LeanDocument } from '../src/document/leanDocument';
import { GoalsTracker } from '../src/goals/goalsTracker';
import {
  IInfoviewHost,
  InfoviewBridge,
  KEEP_ALIVE_MS
} from '../src/infoview/bridge';
import { followCursor } from '../src/infoview/cursor';
import { infoviewAssets } from '../src/infoview/frame';
import { Backoff } from '../src/lsp/backoff';
import { LeanProjectConnection } from '../src/lsp/projectConnection';
import { CloseCodes } from '../src/lsp/sessionApi';
import { FakeApi, SocketRecorder } from './fakeServer';

const URI = 'file:///home/u/.jupyter-lean/nb.ipynb.lean';
const OTHER_URI = 'file:///home/u/.jupyter-lean/other.ipynb.lean';

/** One call the bridge made on the infoview: method name, then arguments. */
type InfoviewCall = {
  [K in keyof InfoviewApi]: [K, ...Parameters<InfoviewApi[K]>];
}[keyof InfoviewApi];

/** The infoview side: records every call the bridge makes. */
class FakeInfoview implements InfoviewApi {
  calls: InfoviewCall[] = [];
  initialize = this._record('initialize');
  gotServerNotification = this._record('gotServerNotification');
  sentClientNotification = this._record('sentClientNotification');
  serverRestarted = this._record('serverRestarted');
  serverStopped = this._record('serverStopped');
  changedCursorLocation = this._record('changedCursorLocation');
  changedInfoviewConfig = this._record('changedInfoviewConfig');
  requestedAction = this._record('requestedAction');
  clickedContextMenu = this._record('clickedContextMenu');
  runTestScript = this._record('runTestScript');
  getInfoviewHtml = async () => '';

  /** The arguments of each call of one method, in order. */
  named<K extends keyof InfoviewApi>(name: K): Parameters<InfoviewApi[K]>[] {
    return this.calls
      .filter(call => call[0] === name)
      .map(call => call.slice(1) as Parameters<InfoviewApi[K]>);
  }

  private _record<K extends keyof InfoviewApi>(name: K) {
    return async (...args: Parameters<InfoviewApi[K]>): Promise<void> => {
      this.calls.push([name, ...args] as unknown as InfoviewCall);
    };
  }

  clear(): void {
    this.calls = [];
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe('InfoviewBridge', () => {
  let api: FakeApi;
  let sockets: SocketRecorder;
  let connection: LeanProjectConnection;
  let document: LeanDocument;
  let goals: GoalsTracker;
  let host: IInfoviewHost & { revealed: unknown[]; inserted: unknown[] };
  let bridge: InfoviewBridge;
  let infoview: FakeInfoview;

  beforeEach(async () => {
    vi.useFakeTimers();
    api = new FakeApi();
    sockets = new SocketRecorder();
    connection = new LeanProjectConnection({
      project: 'default',
      rootUri: 'file:///home/u',
      api,
      socketFactory: sockets.factory,
      backoff: new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 })
    });
    // A notebook: a magic line and a header cell, then a proof.
    document = new LeanDocument({
      uri: URI,
      cells: [
        { id: 'c1', text: '%timeout 5\nprelude\ninductive N | z' },
        { id: 'c2', text: 'theorem t (q : Prop) (h : q) : q := by\n  ' }
      ],
      connection,
      maskMagics: true
    });
    goals = new GoalsTracker({ onlyWhenViewed: true });
    host = {
      revealed: [],
      inserted: [],
      connectionFor: uri => (uri === URI ? connection : null),
      publishedDiagnostics: () => {
        const published = document.publishedDiagnostics;
        return published ? [published] : [];
      },
      reveal: async location => {
        host.revealed.push(document.toCellOffset(location.range.start));
      },
      insertText: async (text, kind, at) => {
        host.inserted.push({ text, kind, at });
      },
      copyToClipboard: async () => undefined,
      restartFile: () => document.restart()
    };
    bridge = new InfoviewBridge(host);
    followCursor(goals, bridge);
    infoview = new FakeInfoview();
    document.open();
    await settle();
    sockets.last.open();
    sockets.last.answerInitialize('4.35.0');
    await settle();
  });

  afterEach(async () => {
    bridge.dispose();
    document.dispose();
    goals.dispose();
    await connection.dispose();
    vi.useRealTimers();
  });

  async function attachAtProof() {
    bridge.attach(infoview);
    goals.setTarget({ document, cellId: 'c2', offset: 41 });
    await settle();
  }

  describe('position mapping', () => {
    it('initializes at the cursor as a position in the virtual document', async () => {
      await attachAtProof();
      // Cell 2 starts on document line 3; offset 41 is its second line, column 2.
      const position = { line: 4, character: 2 };
      expect(infoview.named('initialize')).toEqual([
        [{ uri: URI, range: { start: position, end: position } }]
      ]);
      expect(infoview.named('serverRestarted')).toHaveLength(1);
      expect(infoview.named('serverRestarted')[0][0].serverInfo.version).toBe(
        '4.35.0'
      );
    });

    it('waits for a cursor in a Lean document before initializing', async () => {
      bridge.attach(infoview);
      await settle();
      expect(infoview.named('initialize')).toEqual([]);
      goals.setTarget({ document, cellId: 'c1', offset: 11 });
      expect(infoview.named('initialize')[0][0].range.start).toEqual({
        line: 1,
        character: 0
      });
    });

    it('moves the cursor when a cell above grows, and across cells', async () => {
      await attachAtProof();
      infoview.clear();
      document.editCell('c1', [{ from: 0, to: 0, insert: '-- a\n' }]);
      expect(infoview.named('changedCursorLocation')).toEqual([
        [
          {
            uri: URI,
            range: {
              start: { line: 5, character: 2 },
              end: { line: 5, character: 2 }
            }
          }
        ]
      ]);
      goals.setTarget({ document, cellId: 'c1', offset: 0 });
      expect(
        infoview.named('changedCursorLocation').at(-1)![0].range.start
      ).toEqual({ line: 0, character: 0 });
    });

    it('reveals a document position in its cell (go to definition)', async () => {
      await attachAtProof();
      await bridge.showDocument({
        uri: URI,
        selection: {
          start: { line: 3, character: 8 },
          end: { line: 3, character: 9 }
        }
      });
      expect(host.revealed).toEqual([{ cellId: 'c2', offset: 8 }]);
    });

    it('asks the host to insert text at a document position', async () => {
      await bridge.insertText('exact h', 'above', {
        textDocument: { uri: URI },
        position: { line: 4, character: 2 }
      });
      expect(host.inserted).toEqual([
        {
          text: 'exact h',
          kind: 'above',
          at: { uri: URI, position: { line: 4, character: 2 } }
        }
      ]);
    });
  });

  describe('notification forwarding', () => {
    const diagnostics = (version: number, message: string) => ({
      jsonrpc: '2.0',
      method: 'textDocument/publishDiagnostics',
      params: {
        uri: URI,
        version,
        diagnostics: [
          {
            range: {
              start: { line: 3, character: 0 },
              end: { line: 3, character: 7 }
            },
            severity: 1,
            message
          }
        ]
      }
    });

    it('forwards subscribed server notifications only', async () => {
      await attachAtProof();
      await bridge.subscribeServerNotifications('$/lean/fileProgress');
      sockets.last.receive({
        jsonrpc: '2.0',
        method: '$/lean/fileProgress',
        params: { textDocument: { uri: URI, version: 1 }, processing: [] }
      });
      sockets.last.receive({
        jsonrpc: '2.0',
        method: 'window/logMessage',
        params: { type: 3, message: 'hi' }
      });
      expect(infoview.named('gotServerNotification')).toEqual([
        [
          '$/lean/fileProgress',
          { textDocument: { uri: URI, version: 1 }, processing: [] }
        ]
      ]);
      // Counted: one of two subscribers leaving keeps it forwarded.
      await bridge.subscribeServerNotifications('$/lean/fileProgress');
      await bridge.unsubscribeServerNotifications('$/lean/fileProgress');
      infoview.clear();
      sockets.last.receive({
        jsonrpc: '2.0',
        method: '$/lean/fileProgress',
        params: { textDocument: { uri: URI, version: 1 }, processing: [] }
      });
      expect(infoview.named('gotServerNotification')).toHaveLength(1);
      await bridge.unsubscribeServerNotifications('$/lean/fileProgress');
      infoview.clear();
      sockets.last.receive({
        jsonrpc: '2.0',
        method: '$/lean/fileProgress',
        params: { textDocument: { uri: URI, version: 1 }, processing: [] }
      });
      expect(infoview.named('gotServerNotification')).toEqual([]);
    });

    it('replays the diagnostics that came before the infoview listened', async () => {
      sockets.last.receive(diagnostics(1, 'Type mismatch'));
      await attachAtProof();
      expect(infoview.named('gotServerNotification')).toEqual([]);
      await bridge.subscribeServerNotifications(
        'textDocument/publishDiagnostics'
      );
      // Not during the subscription call: the infoview listens right after.
      expect(infoview.named('gotServerNotification')).toEqual([]);
      await settle();
      expect(infoview.named('gotServerNotification')).toEqual([
        [
          'textDocument/publishDiagnostics',
          diagnostics(1, 'Type mismatch').params
        ]
      ]);
      sockets.last.receive(diagnostics(1, 'later'));
      expect(
        infoview.named('gotServerNotification').at(-1)![1].diagnostics[0]
          .message
      ).toBe('later');
    });

    it('forwards the client notifications it subscribed to', async () => {
      await attachAtProof();
      await bridge.subscribeClientNotifications('textDocument/didChange');
      document.editCell('c2', [{ from: 41, to: 41, insert: 'skip' }]);
      const sent = infoview.named('sentClientNotification');
      expect(sent).toHaveLength(1);
      expect(sent[0][0]).toBe('textDocument/didChange');
      expect(sent[0][1].textDocument).toEqual({ uri: URI, version: 2 });
      expect(sent[0][1].contentChanges[0].text).toBe('skip');
    });
  });

  describe('RPC relaying', () => {
    async function connectRpc(): Promise<string> {
      const created = bridge.createRpcSession(URI);
      await settle();
      const request = sockets.last.lastSent('$/lean/rpc/connect');
      expect(request.params).toEqual({ uri: URI });
      sockets.last.receive({
        jsonrpc: '2.0',
        id: request.id,
        result: { sessionId: '16045312431225806271' }
      });
      return created;
    }

    it('connects, calls, releases and keeps the session alive', async () => {
      await attachAtProof();
      const sessionId = await connectRpc();
      expect(sessionId).toBe('16045312431225806271');

      const params = {
        sessionId,
        method: 'Lean.Widget.getInteractiveGoals',
        params: {
          textDocument: { uri: URI },
          position: { line: 4, character: 2 }
        },
        textDocument: { uri: URI },
        position: { line: 4, character: 2 }
      };
      const call = bridge.sendClientRequest(URI, '$/lean/rpc/call', params);
      await settle();
      const sent = sockets.last.lastSent('$/lean/rpc/call');
      expect(sent.params).toEqual(params);
      const goalsResult = { goals: [{ type: { text: 'q' }, hyps: [] }] };
      sockets.last.receive({
        jsonrpc: '2.0',
        id: sent.id,
        result: goalsResult
      });
      await expect(call).resolves.toEqual(goalsResult);

      await bridge.sendClientNotification(URI, '$/lean/rpc/release', {
        uri: URI,
        sessionId,
        refs: [{ p: '1' }]
      });
      expect(sockets.last.sentWith('$/lean/rpc/release')).toHaveLength(1);

      await vi.advanceTimersByTimeAsync(KEEP_ALIVE_MS);
      expect(sockets.last.sentWith('$/lean/rpc/keepAlive')).toEqual([
        {
          jsonrpc: '2.0',
          method: '$/lean/rpc/keepAlive',
          params: { uri: URI, sessionId }
        }
      ]);
      await bridge.closeRpcSession(sessionId);
      await vi.advanceTimersByTimeAsync(3 * KEEP_ALIVE_MS);
      expect(sockets.last.sentWith('$/lean/rpc/keepAlive')).toHaveLength(1);
      expect(bridge.rpcSessionCount).toBe(0);
    });

    it('passes Lean errors through to the infoview', async () => {
      await attachAtProof();
      const sessionId = await connectRpc();
      const call = bridge.sendClientRequest(URI, '$/lean/rpc/call', {
        sessionId,
        method: 'Lean.Widget.getInteractiveGoals',
        params: {},
        textDocument: { uri: URI },
        position: { line: 0, character: 0 }
      });
      await settle();
      const sent = sockets.last.lastSent('$/lean/rpc/call');
      sockets.last.receive({
        jsonrpc: '2.0',
        id: sent.id,
        error: { code: -32900, message: 'Outdated RPC session' }
      });
      await expect(call).rejects.toMatchObject({ code: -32900 });
    });

    it('abandons a request the infoview aborts', async () => {
      await attachAtProof();
      const abort = new AbortController();
      const call = bridge.sendClientRequest(
        URI,
        'textDocument/hover',
        { textDocument: { uri: URI }, position: { line: 0, character: 0 } },
        { abortSignal: abort.signal }
      );
      abort.abort();
      await expect(call).rejects.toMatchObject({ code: -32800 });
    });

    it('refuses a document that is not open', async () => {
      await expect(bridge.createRpcSession(OTHER_URI)).rejects.toThrow(
        /no Lean document open/
      );
    });
  });

  describe('reconnection', () => {
    it('tells the infoview the server stopped and restarted, and drops stale RPC sessions', async () => {
      await attachAtProof();
      const created = bridge.createRpcSession(URI);
      await settle();
      const request = sockets.last.lastSent('$/lean/rpc/connect');
      sockets.last.receive({
        jsonrpc: '2.0',
        id: request.id,
        result: { sessionId: '7' }
      });
      await created;
      infoview.clear();

      // The socket drops: the session is resumed on a new socket.
      const first = sockets.last;
      first.drop(1006, 'network');
      expect(infoview.named('serverStopped')).toHaveLength(1);
      expect(infoview.named('serverStopped')[0][0]?.message).toMatch(
        /not connected/
      );
      expect(bridge.rpcSessionCount).toBe(0);
      await vi.advanceTimersByTimeAsync(100);
      expect(sockets.last).not.toBe(first);
      sockets.last.open();
      sockets.last.answerInitialize('4.35.0');
      await settle();
      // Cleared note, restart (the infoview drops and reconnects its RPC
      // sessions), the cursor again.
      const names = infoview.calls.map(call => call[0]);
      expect(names.slice(-3)).toEqual([
        'serverStopped',
        'serverRestarted',
        'changedCursorLocation'
      ]);
      expect(infoview.named('serverStopped').at(-1)).toEqual([undefined]);
      // No keepAlive for the old session on the new socket.
      await vi.advanceTimersByTimeAsync(2 * KEEP_ALIVE_MS);
      expect(sockets.last.sentWith('$/lean/rpc/keepAlive')).toEqual([]);

      // A new RPC session works on the new socket.
      const again = bridge.createRpcSession(URI);
      await settle();
      const second = sockets.last.lastSent('$/lean/rpc/connect');
      sockets.last.receive({
        jsonrpc: '2.0',
        id: second.id,
        result: { sessionId: '8' }
      });
      await expect(again).resolves.toBe('8');
    });

    it('recovers the same way when the Lean session was recreated', async () => {
      await attachAtProof();
      infoview.clear();
      const sessionsBefore = api.created.length;
      sockets.last.drop(CloseCodes.SessionEnded, 'culled');
      await settle();
      await vi.advanceTimersByTimeAsync(1000);
      expect(api.created.length).toBe(sessionsBefore + 1);
      sockets.last.open();
      sockets.last.answerInitialize('4.35.0');
      await settle();
      expect(infoview.named('serverRestarted')).toHaveLength(1);
      expect(infoview.named('changedCursorLocation').at(-1)![0].uri).toBe(URI);
    });
  });

  it('serves its files from the extension, with versioned URLs', () => {
    const assets = infoviewAssets(
      '/user/a/lab/extensions',
      'http://hub.example/user/a/lab/tree/x.ipynb',
      '0.12.0'
    );
    const folder =
      'http://hub.example/user/a/lab/extensions/@jupyter-lean/labextension/static/infoview-0.12.0/';
    expect(assets.loader).toBe(`${folder}loader.production.min.js?v=0.12.0`);
    expect(Object.keys(assets.imports).sort()).toEqual([
      '@leanprover/infoview',
      'react',
      'react-dom',
      'react/jsx-runtime'
    ]);
    for (const url of Object.values(assets.imports)) {
      expect(url.startsWith(folder)).toBe(true);
    }
  });
});
