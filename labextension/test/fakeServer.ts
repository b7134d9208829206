import {
  ApiError,
  ILeanSessionApi,
  ILspSocket,
  ILspSocketHandlers,
  ISessionModel,
  ISessionStore,
  LspSocketFactory
} from '../src/lsp/sessionApi';

/** A JSON-RPC message the client sent, as the tests read it. */
export interface ISentMessage {
  jsonrpc: string;
  /** Requests and responses only. */
  id: number;
  /** Requests and notifications only. */
  method: string;
  params: Record<string, unknown>;
  result?: unknown;
}

/** A socket the test drives: it records frames and can be opened or closed. */
export class FakeSocket implements ILspSocket {
  constructor(
    readonly url: string,
    private readonly _handlers: ILspSocketHandlers
  ) {}

  readonly sent: ISentMessage[] = [];
  closed: { code?: number; reason?: string } | null = null;

  send(frame: string): void {
    if (this.closed) {
      throw new Error('socket closed');
    }
    this.sent.push(JSON.parse(frame));
  }

  close(code?: number, reason?: string): void {
    this.closed = { code, reason };
  }

  // --- server side ---
  open(): void {
    this._handlers.onOpen();
  }

  receive(message: unknown): void {
    this._handlers.onMessage(JSON.stringify(message));
  }

  drop(code: number, reason = ''): void {
    this.closed = { code, reason };
    this._handlers.onClose(code, reason);
  }

  /** Messages with a given method. */
  sentWith(method: string): ISentMessage[] {
    return this.sent.filter(message => message.method === method);
  }

  /** The last message with a given method; fails the test if there is none. */
  lastSent(method: string): ISentMessage {
    const message = this.sentWith(method).at(-1);
    if (!message) {
      throw new Error(`nothing sent with method ${method}`);
    }
    return message;
  }

  /** Answer the pending `initialize`. */
  answerInitialize(version = '0.3.0'): void {
    const request = this.lastSent('initialize');
    this.receive({
      jsonrpc: '2.0',
      id: request.id,
      result: {
        capabilities: {},
        serverInfo: { name: 'Lean 4 Server', version }
      }
    });
  }
}

/** Session REST routes, in memory. */
export class FakeApi implements ILeanSessionApi {
  sessions = new Map<string, ISessionModel>();
  created: string[] = [];
  createError: ApiError | null = null;
  private _next = 1;

  async createSession(project: string): Promise<ISessionModel> {
    if (this.createError) {
      throw this.createError;
    }
    const id = `s${this._next++}`;
    const session = { id, project, state: 'ready', connected: false };
    this.sessions.set(id, session);
    this.created.push(id);
    return session;
  }

  async getSession(id: string): Promise<ISessionModel | null> {
    return this.sessions.get(id) ?? null;
  }

  async listSessions(): Promise<ISessionModel[]> {
    return [...this.sessions.values()];
  }

  async deleteSession(id: string): Promise<void> {
    this.sessions.delete(id);
  }

  lspSocketUrl(sessionId: string): string {
    return `ws://server/lean/sessions/${sessionId}/lsp?token=t`;
  }
}

export class SocketRecorder {
  readonly sockets: FakeSocket[] = [];
  readonly factory: LspSocketFactory = (url, handlers) => {
    const socket = new FakeSocket(url, handlers);
    this.sockets.push(socket);
    return socket;
  };

  get last(): FakeSocket {
    return this.sockets[this.sockets.length - 1];
  }
}

export class MemoryStore implements ISessionStore {
  readonly values = new Map<string, string>();
  get(project: string): string | null {
    return this.values.get(project) ?? null;
  }
  set(project: string, sessionId: string | null): void {
    if (sessionId) {
      this.values.set(project, sessionId);
    } else {
      this.values.delete(project);
    }
  }
}
