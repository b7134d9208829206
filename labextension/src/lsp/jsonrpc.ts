/**
 * A JSON-RPC 2.0 endpoint over any "send one text frame" transport.
 *
 * It numbers requests, matches responses, times requests out (and tells the
 * server with `$/cancelRequest`, so Lean stops the work), and answers requests
 * the server sends us. It knows nothing about WebSockets: the project
 * connection feeds it frames and closes it when the socket goes away.
 */

export type JsonRpcId = number | string;

export interface IJsonRpcError {
  code: number;
  message: string;
  data?: unknown;
}

interface IRawMessage {
  jsonrpc?: string;
  id?: JsonRpcId | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: IJsonRpcError;
}

/** The server answered a request with a JSON-RPC error. */
export class ResponseError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown
  ) {
    super(message);
    this.name = 'ResponseError';
  }
}

/** No response arrived within the request's time limit. */
export class RequestTimeoutError extends Error {
  constructor(method: string, timeoutMs: number) {
    super(`${method} timed out after ${timeoutMs} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** The transport closed before the response arrived, or was already closed. */
export class ConnectionClosedError extends Error {
  constructor(message = 'connection closed') {
    super(message);
    this.name = 'ConnectionClosedError';
  }
}

export type NotificationHandler = (method: string, params: unknown) => void;
export type RequestHandler = (method: string, params: unknown) => unknown;

interface IPendingRequest {
  method: string;
  resolve: (value: unknown) => void;
  reject: (reason: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

export interface IJsonRpcOptions {
  /** Default time limit of a request in ms; 0 means none. */
  defaultTimeoutMs?: number;
}

export class JsonRpcConnection {
  constructor(
    private readonly _send: (frame: string) => void,
    options: IJsonRpcOptions = {}
  ) {
    this._defaultTimeoutMs = options.defaultTimeoutMs ?? 30000;
  }

  /** Whether `close` was called. */
  get isClosed(): boolean {
    return this._closed;
  }

  /** Number of requests still waiting for a response. */
  get pendingCount(): number {
    return this._pending.size;
  }

  /** Called for every notification the server sends. */
  onNotification(handler: NotificationHandler): void {
    this._notificationHandler = handler;
  }

  /**
   * Called for every request the server sends; its return value (or the
   * value its promise resolves to) is the result. Throw a ResponseError to
   * answer with an error.
   */
  onRequest(handler: RequestHandler): void {
    this._requestHandler = handler;
  }

  /**
   * Send a request. Lean treats a request without `params` as fatal, so
   * `params` defaults to `{}`.
   */
  request<T>(
    method: string,
    params: unknown = {},
    timeoutMs: number = this._defaultTimeoutMs
  ): Promise<T> {
    if (this._closed) {
      return Promise.reject(new ConnectionClosedError());
    }
    const id = this._nextId++;
    return new Promise<T>((resolve, reject) => {
      const pending: IPendingRequest = {
        method,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: null
      };
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          this._pending.delete(id);
          // Tell Lean to stop; its answer (-32800) is then ignored.
          this._trySend({
            jsonrpc: '2.0',
            method: '$/cancelRequest',
            params: { id }
          });
          reject(new RequestTimeoutError(method, timeoutMs));
        }, timeoutMs);
      }
      this._pending.set(id, pending);
      if (!this._trySend({ jsonrpc: '2.0', id, method, params })) {
        this._settle(id);
        reject(new ConnectionClosedError());
      }
    });
  }

  /** Send a notification (with `params`, which Lean requires); false if it could not be sent. */
  notify(method: string, params: unknown = {}): boolean {
    if (this._closed) {
      return false;
    }
    return this._trySend({ jsonrpc: '2.0', method, params });
  }

  /** Feed one incoming frame. Malformed frames are reported and dropped. */
  receive(frame: string): void {
    let message: IRawMessage;
    try {
      message = JSON.parse(frame) as IRawMessage;
    } catch {
      console.warn('jupyter-lean: dropped a frame that is not JSON');
      return;
    }
    if (typeof message !== 'object' || message === null) {
      return;
    }
    const hasId = message.id !== undefined && message.id !== null;
    if (typeof message.method === 'string') {
      if (hasId) {
        this._answerServerRequest(
          message.id as JsonRpcId,
          message.method,
          message.params
        );
      } else {
        this._notificationHandler?.(message.method, message.params);
      }
      return;
    }
    if (hasId) {
      const pending = this._settle(message.id as JsonRpcId);
      if (!pending) {
        return; // a response to a request that already timed out
      }
      if (message.error) {
        pending.reject(
          new ResponseError(
            message.error.code,
            message.error.message,
            message.error.data
          )
        );
      } else {
        pending.resolve(message.result ?? null);
      }
    }
  }

  /** Reject every pending request; later requests reject at once. */
  close(reason: Error = new ConnectionClosedError()): void {
    if (this._closed) {
      return;
    }
    this._closed = true;
    for (const id of [...this._pending.keys()]) {
      this._settle(id)?.reject(reason);
    }
  }

  private _settle(id: JsonRpcId): IPendingRequest | undefined {
    const pending = this._pending.get(id);
    if (pending) {
      this._pending.delete(id);
      if (pending.timer !== null) {
        clearTimeout(pending.timer);
      }
    }
    return pending;
  }

  private async _answerServerRequest(
    id: JsonRpcId,
    method: string,
    params: unknown
  ): Promise<void> {
    try {
      const handler = this._requestHandler;
      if (!handler) {
        throw new ResponseError(-32601, `No handler for ${method}`);
      }
      const result = await handler(method, params);
      this._sendResponse({ jsonrpc: '2.0', id, result: result ?? null });
    } catch (error) {
      const code = error instanceof ResponseError ? error.code : -32603;
      this._sendResponse({
        jsonrpc: '2.0',
        id,
        error: { code, message: String((error as Error).message ?? error) }
      });
    }
  }

  private _sendResponse(message: IRawMessage): void {
    if (!this._closed) {
      this._trySend(message);
    }
  }

  private _trySend(message: IRawMessage): boolean {
    try {
      this._send(JSON.stringify(message));
      return true;
    } catch (error) {
      console.warn('jupyter-lean: could not send', message.method, error);
      return false;
    }
  }

  private readonly _defaultTimeoutMs: number;
  private readonly _pending = new Map<JsonRpcId, IPendingRequest>();
  private _nextId = 1;
  private _closed = false;
  private _notificationHandler: NotificationHandler | null = null;
  private _requestHandler: RequestHandler | null = null;
}
