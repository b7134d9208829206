// @vitest-environment jsdom
import { ServerConnection } from '@jupyterlab/services';
import { afterEach, describe, expect, it, vi } from 'vitest';

import {
  browserSocketFactory,
  LeanServerApi,
  TabSessionStore
} from '../src/jupyter/serverApi';
import { ApiError } from '../src/lsp/sessionApi';

interface IRecordedRequest {
  url: string;
  method: string;
  body: string | null;
  token: string | null;
}

/** The server side: answers each request with `respond`, records it. */
function serverApi(
  respond: (request: IRecordedRequest) => Response | Promise<Response>,
  token = 'secret'
) {
  const requests: IRecordedRequest[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    const recorded = {
      // Without the cache-busting query ServerConnection adds.
      url: request.url.replace(/\?\d+$/, ''),
      method: request.method,
      body: request.method === 'GET' ? null : await request.text(),
      token: request.headers.get('Authorization')
    };
    requests.push(recorded);
    return respond(recorded);
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/user/alice/',
    wsUrl: 'ws://localhost:8888/user/alice/',
    token,
    fetch
  });
  return { api: new LeanServerApi(settings), requests };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

const SESSION = { id: 's1', project: 'default', state: 'ready' };

describe("the server extension's routes", () => {
  it('creates a session with the Jupyter token', async () => {
    const { api, requests } = serverApi(() => json(SESSION, 201));
    await expect(api.createSession('default')).resolves.toEqual(SESSION);
    expect(requests).toEqual([
      {
        url: 'http://localhost:8888/user/alice/lean/sessions',
        method: 'POST',
        body: JSON.stringify({ project: 'default' }),
        token: 'token secret'
      }
    ]);
  });

  it('gets, lists and deletes sessions by their escaped id', async () => {
    const { api, requests } = serverApi(request =>
      request.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : json(request.url.endsWith('sessions') ? [SESSION] : SESSION)
    );
    await expect(api.getSession('a/b')).resolves.toEqual(SESSION);
    await expect(api.listSessions()).resolves.toEqual([SESSION]);
    await expect(api.deleteSession('s1')).resolves.toBeUndefined();
    expect(requests.map(request => [request.method, request.url])).toEqual([
      ['GET', 'http://localhost:8888/user/alice/lean/sessions/a%2Fb'],
      ['GET', 'http://localhost:8888/user/alice/lean/sessions'],
      ['DELETE', 'http://localhost:8888/user/alice/lean/sessions/s1']
    ]);
  });

  it('reads health and projects', async () => {
    const health = { status: 'ok', lean: { found: true, version: '4.35.0' } };
    const projects = [
      { name: 'default', path: '/home/alice', lakefile: false }
    ];
    const { api } = serverApi(request =>
      json(request.url.endsWith('health') ? health : projects)
    );
    await expect(api.health()).resolves.toEqual(health);
    await expect(api.projects()).resolves.toEqual(projects);
  });

  it('answers null for a session the server does not know', async () => {
    const { api } = serverApi(() => json({ message: 'no such session' }, 404));
    await expect(api.getSession('gone')).resolves.toBeNull();
  });

  it("fails with the status and the server's message", async () => {
    const { api } = serverApi(() =>
      json({ message: 'too many sessions (limit 4)' }, 429)
    );
    const error = await api.createSession('default').catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 429,
      message: 'too many sessions (limit 4)',
      name: 'ApiError'
    });
  });

  it('keeps the status text when the error body is not JSON', async () => {
    const { api } = serverApi(
      () =>
        new Response('<html>proxy error</html>', {
          status: 502,
          statusText: 'Bad Gateway'
        })
    );
    await expect(api.listSessions()).rejects.toMatchObject({
      status: 502,
      message: 'Bad Gateway'
    });
    const { api: bare } = serverApi(() => new Response('', { status: 500 }));
    await expect(bare.listSessions()).rejects.toMatchObject({
      message: 'HTTP 500'
    });
  });

  it('fails with status 0 when the server cannot be reached', async () => {
    const { api } = serverApi(() => {
      throw new TypeError('Failed to fetch');
    });
    const error = await api.health().catch(e => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(0);
    expect(error.message).toContain('cannot reach the Jupyter server');
  });

  it('puts the token in the LSP socket URL only when there is one', () => {
    const { api } = serverApi(() => json(null), 'a b');
    expect(api.lspSocketUrl('s 1')).toBe(
      'ws://localhost:8888/user/alice/lean/sessions/s%201/lsp?token=a%20b'
    );
    const { api: cookie } = serverApi(() => json(null), '');
    expect(cookie.lspSocketUrl('s1')).toBe(
      'ws://localhost:8888/user/alice/lean/sessions/s1/lsp'
    );
  });
});

/** Stands in for the browser's WebSocket. */
class FakeWebSocket {
  static last: FakeWebSocket;
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  sent: string[] = [];
  closed: [number | undefined, string | undefined] | null = null;
  constructor(readonly url: string) {
    FakeWebSocket.last = this;
  }
  send(frame: string): void {
    this.sent.push(frame);
  }
  close(code?: number, reason?: string): void {
    this.closed = [code, reason];
  }
}

describe('the browser socket', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('passes text frames, opening and closing through', () => {
    vi.stubGlobal('WebSocket', FakeWebSocket);
    const events: unknown[][] = [];
    const socket = browserSocketFactory('ws://server/lsp', {
      onOpen: () => events.push(['open']),
      onMessage: frame => events.push(['message', frame]),
      onClose: (code, reason) => events.push(['close', code, reason])
    });
    const browser = FakeWebSocket.last;
    expect(browser.url).toBe('ws://server/lsp');
    browser.onopen!();
    browser.onmessage!({ data: '{"jsonrpc":"2.0"}' });
    browser.onmessage!({ data: new ArrayBuffer(2) }); // binary: not LSP
    socket.send('frame');
    socket.close(1000, 'done');
    browser.onclose!({ code: 1000, reason: 'done' });
    expect(browser.sent).toEqual(['frame']);
    expect(browser.closed).toEqual([1000, 'done']);
    expect(events).toEqual([
      ['open'],
      ['message', '{"jsonrpc":"2.0"}'],
      ['close', 1000, 'done']
    ]);
  });
});

describe("this tab's session ids", () => {
  afterEach(() => {
    window.sessionStorage.clear();
    vi.restoreAllMocks();
  });

  it('remembers a session per project and server, and forgets it', () => {
    const store = new TabSessionStore('/user/alice/');
    const other = new TabSessionStore('/user/bob/');
    expect(store.get('default')).toBeNull();
    store.set('default', 's1');
    store.set('mathlib', 's2');
    expect(store.get('default')).toBe('s1');
    expect(store.get('mathlib')).toBe('s2');
    expect(other.get('default')).toBeNull();
    store.set('default', null);
    expect(store.get('default')).toBeNull();
    expect(window.sessionStorage.length).toBe(1);
  });

  it('works without storage (disabled by the browser)', () => {
    const refuse = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    vi.spyOn(Storage.prototype, 'getItem').mockImplementation(refuse);
    vi.spyOn(Storage.prototype, 'setItem').mockImplementation(refuse);
    vi.spyOn(Storage.prototype, 'removeItem').mockImplementation(refuse);
    const store = new TabSessionStore('/');
    expect(() => store.set('default', 's1')).not.toThrow();
    expect(() => store.set('default', null)).not.toThrow();
    expect(store.get('default')).toBeNull();
  });
});
