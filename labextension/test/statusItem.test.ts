// @vitest-environment jsdom
import './domShims';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { LeanDocument } from '../src/document/leanDocument';
import { Backoff } from '../src/lsp/backoff';
import { LeanProjectConnection } from '../src/lsp/projectConnection';
import { DiagnosticSeverity } from '../src/lsp/protocol';
import { LeanStatusItem } from '../src/status/statusItem';
import { FakeApi, SocketRecorder } from './fakeServer';

const URI = 'file:///home/u/Main.lean';
const settle = () => vi.advanceTimersByTimeAsync(0);

describe('the Lean status bar item', () => {
  let sockets: SocketRecorder;
  let connection: LeanProjectConnection;
  let document: LeanDocument;
  let item: LeanStatusItem;

  beforeEach(() => {
    vi.useFakeTimers();
    sockets = new SocketRecorder();
    connection = new LeanProjectConnection({
      project: 'default',
      rootUri: 'file:///home/u',
      api: new FakeApi(),
      socketFactory: sockets.factory,
      backoff: new Backoff({ initialMs: 100, jitter: 0 })
    });
    document = new LeanDocument({
      uri: URI,
      cells: [{ id: 'file', text: 'prelude\ntheorem t : N := x' }],
      connection
    });
    item = new LeanStatusItem();
  });

  afterEach(async () => {
    item.dispose();
    document.dispose();
    await connection.dispose();
    vi.useRealTimers();
  });

  async function connectReady() {
    document.open();
    await settle();
    sockets.last.open();
    sockets.last.answerInitialize('4.35.0');
    await settle();
  }

  function finishElaborating(errors: number) {
    document.handleFileProgress({
      textDocument: { uri: URI, version: document.version },
      processing: []
    });
    document.handleDiagnostics({
      uri: URI,
      version: document.version,
      diagnostics: Array.from({ length: errors }, () => ({
        range: {
          start: { line: 1, character: 17 },
          end: { line: 1, character: 18 }
        },
        severity: DiagnosticSeverity.Error,
        message: 'unknown identifier'
      }))
    });
  }

  it('has nothing to report without a Lean document', () => {
    expect(item.hasSource).toBe(false);
    expect(item.node.classList.contains('jp-Lean-status')).toBe(true);
    expect(item.node.textContent).toBe('Lean: starting…');
  });

  it("follows the document's connection, progress and diagnostics", async () => {
    item.setSource(document, connection);
    expect(item.hasSource).toBe(true);
    expect(item.node.dataset.kind).toBe('starting');
    await connectReady();
    document.handleFileProgress({
      textDocument: { uri: URI, version: document.version },
      processing: [
        {
          range: {
            start: { line: 1, character: 0 },
            end: { line: 2, character: 0 }
          }
        }
      ]
    });
    expect(item.node.textContent).toBe('Lean: processing line 2 of 2');
    finishElaborating(2);
    expect(item.node.textContent).toBe('Lean: 2 errors');
    expect(item.node.dataset.kind).toBe('errors');
    expect(item.view.kind).toBe('errors');
    finishElaborating(0);
    expect(item.node.textContent).toBe('Lean: ready');
    expect(item.node.title).toContain('4.35.0');
  });

  it('says when the connection drops', async () => {
    item.setSource(document, connection);
    await connectReady();
    sockets.last.drop(1006, 'network');
    expect(item.node.textContent).toBe('Lean: disconnected');
    expect(item.node.title).toMatch(/retrying in 1 s$/);
  });

  it('says when the server has no Lean, whatever the document', () => {
    item.setSource(document, connection);
    item.setHealth({
      status: 'degraded',
      lean: { found: false, command: 'lean', version: null }
    });
    expect(item.node.dataset.kind).toBe('missing');
    expect(item.node.textContent).toBe('Lean: missing');
    item.setHealth(null);
    expect(item.node.dataset.kind).toBe('starting');
  });

  it('stops following a document it no longer shows', async () => {
    item.setSource(document, connection);
    await connectReady();
    item.setSource(null, null);
    expect(item.hasSource).toBe(false);
    const shown = item.view;
    finishElaborating(3);
    sockets.last.drop(1006, 'network');
    expect(item.view).toBe(shown);
  });

  it('reports on the connection alone once the document is closed', async () => {
    item.setSource(document, connection);
    await connectReady();
    finishElaborating(1);
    document.dispose();
    item.setHealth(null); // any update renders again
    expect(item.node.textContent).toBe('Lean: ready');
  });
});
