import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  ConnectionClosedError,
  JsonRpcConnection,
  RequestTimeoutError,
  ResponseError
} from '../src/lsp/jsonrpc';

describe('JsonRpcConnection', () => {
  let sent: unknown[];
  let rpc: JsonRpcConnection;

  beforeEach(() => {
    vi.useFakeTimers();
    sent = [];
    rpc = new JsonRpcConnection(frame => sent.push(JSON.parse(frame)), {
      defaultTimeoutMs: 1000
    });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('numbers requests, always sends params, and matches responses by id', async () => {
    const first = rpc.request('textDocument/hover', { a: 1 });
    const second = rpc.request('shutdown');
    expect(sent).toEqual([
      { jsonrpc: '2.0', id: 1, method: 'textDocument/hover', params: { a: 1 } },
      { jsonrpc: '2.0', id: 2, method: 'shutdown', params: {} }
    ]);
    rpc.receive(JSON.stringify({ jsonrpc: '2.0', id: 2, result: null }));
    rpc.receive(
      JSON.stringify({ jsonrpc: '2.0', id: 1, result: { contents: 'x' } })
    );
    await expect(first).resolves.toEqual({ contents: 'x' });
    await expect(second).resolves.toBeNull();
    expect(rpc.pendingCount).toBe(0);
  });

  it('rejects with the error the server sent', async () => {
    const request = rpc.request('x');
    rpc.receive(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32801, message: 'closed file' }
      })
    );
    await expect(request).rejects.toEqual(
      new ResponseError(-32801, 'closed file')
    );
  });

  it('times out, tells the server to cancel, and ignores the late answer', async () => {
    const request = rpc.request('$/lean/plainGoal', {}, 500);
    const check = expect(request).rejects.toBeInstanceOf(RequestTimeoutError);
    vi.advanceTimersByTime(500);
    await check;
    expect(sent.at(-1)).toEqual({
      jsonrpc: '2.0',
      method: '$/cancelRequest',
      params: { id: 1 }
    });
    rpc.receive(JSON.stringify({ jsonrpc: '2.0', id: 1, result: 'late' }));
    expect(rpc.pendingCount).toBe(0);
  });

  it('answers server requests with what the handler returns', async () => {
    rpc.onRequest(() => null);
    rpc.receive(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'register_lean_watcher',
        method: 'client/registerCapability',
        params: {}
      })
    );
    await vi.runAllTimersAsync();
    expect(sent).toEqual([
      { jsonrpc: '2.0', id: 'register_lean_watcher', result: null }
    ]);
  });

  it('hands notifications to the handler', () => {
    const seen: unknown[] = [];
    rpc.onNotification((method, params) => seen.push([method, params]));
    rpc.receive(
      JSON.stringify({
        jsonrpc: '2.0',
        method: '$/lean/fileProgress',
        params: { processing: [] }
      })
    );
    rpc.receive('not json');
    expect(seen).toEqual([['$/lean/fileProgress', { processing: [] }]]);
  });

  it('rejects pending and later requests once closed', async () => {
    const pending = rpc.request('x');
    rpc.close();
    await expect(pending).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(rpc.request('y')).rejects.toBeInstanceOf(
      ConnectionClosedError
    );
    expect(rpc.notify('z')).toBe(false);
  });
});
