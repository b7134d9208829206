import { ISignal, Signal } from '@lumino/signaling';

import { Backoff } from './backoff';
import { ConnectionClosedError, JsonRpcConnection } from './jsonrpc';
import {
  IContentChange,
  ILeanFileProgressParams,
  IPublishDiagnosticsParams
} from './protocol';
import {
  ApiError,
  CloseCodes,
  ILeanSessionApi,
  ILspSocket,
  ISessionStore,
  LspSocketFactory
} from './sessionApi';

/** A document kept open on the Lean server of a project. */
export interface ISyncedDocument {
  readonly uri: string;
  /** Current full text and version: sent as `didOpen` on every (re)connection. */
  openSnapshot(): { text: string; version: number };
  handleDiagnostics(params: IPublishDiagnosticsParams): void;
  handleFileProgress(params: ILeanFileProgressParams): void;
  /** Called after the document was opened again on a new connection. */
  handleReopened?(): void;
}

export type ConnectionPhase =
  /** Creating or attaching to the session, or waiting for `initialize`. */
  | 'starting'
  | 'ready'
  /** Lost (or never got) the connection; retrying after a delay. */
  | 'disconnected'
  | 'disposed';

export interface IConnectionStatus {
  phase: ConnectionPhase;
  sessionId: string | null;
  /** Why we are not ready, for the status bar. */
  message?: string;
  /** When disconnected: ms until the next attempt. */
  retryInMs?: number;
  /** `serverInfo.version` of the Lean server once initialized. */
  serverVersion?: string;
}

/** A JSON-RPC notification, as received from or sent to the server. */
export interface INotificationEvent {
  method: string;
  params: unknown;
}

/** A request was made while the connection was not ready. */
export class NotConnectedError extends Error {
  constructor() {
    super('not connected to the Lean server');
    this.name = 'NotConnectedError';
  }
}

export interface IProjectConnectionOptions {
  /** Project name as in `GET /lean/projects`. */
  project: string;
  /** `file://` URI of the project folder (the LSP root). */
  rootUri: string;
  api: ILeanSessionApi;
  socketFactory: LspSocketFactory;
  sessionStore?: ISessionStore;
  backoff?: Backoff;
  /** Default time limit of requests such as hover, in ms. */
  requestTimeoutMs?: number;
  /** Time limit of `initialize`; Lean may be starting up. */
  initializeTimeoutMs?: number;
  clientVersion?: string;
}

/**
 * The page's connection to the Lean server of one project: one session, one
 * WebSocket, shared by every open notebook and file of that project.
 *
 * It creates (or resumes) the session over REST, does the LSP handshake,
 * opens its documents, and when the socket drops it reconnects with backoff
 * to the same session, redoing the handshake and re-opening the documents
 * (the server answers `initialize` from cache and turns the re-open into a
 * full-text change). When the server says the session is gone (4404, 4410)
 * or taken over (4409) it starts a new one.
 */
export class LeanProjectConnection {
  constructor(options: IProjectConnectionOptions) {
    this.project = options.project;
    this.rootUri = options.rootUri;
    this._api = options.api;
    this._socketFactory = options.socketFactory;
    this._store = options.sessionStore ?? null;
    this._backoff = options.backoff ?? new Backoff();
    this._requestTimeoutMs = options.requestTimeoutMs ?? 30000;
    this._initializeTimeoutMs = options.initializeTimeoutMs ?? 120000;
    this._clientVersion = options.clientVersion;
  }

  readonly project: string;
  readonly rootUri: string;

  get status(): IConnectionStatus {
    return this._status;
  }

  get statusChanged(): ISignal<this, IConnectionStatus> {
    return this._statusChanged;
  }

  get isReady(): boolean {
    return this._status.phase === 'ready';
  }

  /** Every notification the server sends, after the documents saw it. */
  get notificationReceived(): ISignal<this, INotificationEvent> {
    return this._notificationReceived;
  }

  /** Every notification sent to the server (didOpen, didChange, didClose…). */
  get notificationSent(): ISignal<this, INotificationEvent> {
    return this._notificationSent;
  }

  /**
   * The result of `initialize` on the current socket, null while not ready.
   * A resumed session answers from its cache, so this is the same server's.
   */
  get initializeResult(): unknown {
    return this._initializeResult;
  }

  /** Number of documents open on this connection. */
  get documentCount(): number {
    return this._documents.size;
  }

  /** Begin connecting (idempotent). */
  start(): void {
    if (this._started || this._disposed) {
      return;
    }
    this._started = true;
    void this._connect();
  }

  /** Keep `document` open on the server from now on, across reconnects. */
  open(document: ISyncedDocument): void {
    this._documents.set(uriKey(document.uri), document);
    if (this.isReady) {
      this._sendOpen(document);
    }
    this.start();
  }

  /**
   * Send an incremental change. While disconnected it is dropped: the
   * re-open after reconnecting carries the full current text.
   */
  change(
    document: ISyncedDocument,
    version: number,
    changes: readonly IContentChange[]
  ): void {
    if (!this._rpc || !this._openOnSocket.has(document) || !changes.length) {
      return;
    }
    this._notify('textDocument/didChange', {
      textDocument: { uri: document.uri, version },
      contentChanges: changes
    });
  }

  /** Stop syncing `document` and tell the server. */
  close(document: ISyncedDocument): void {
    const key = uriKey(document.uri);
    if (this._documents.get(key) === document) {
      this._documents.delete(key);
    }
    if (this._rpc && this._openOnSocket.delete(document)) {
      this._notify('textDocument/didClose', {
        textDocument: { uri: document.uri }
      });
    }
  }

  /** Re-open a document asking Lean to rebuild its imports once. */
  restartDocument(document: ISyncedDocument): void {
    if (!this._rpc || !this._openOnSocket.has(document)) {
      return;
    }
    this._notify('textDocument/didClose', {
      textDocument: { uri: document.uri }
    });
    const { text, version } = document.openSnapshot();
    this._notify('textDocument/didOpen', {
      textDocument: { uri: document.uri, languageId: 'lean4', version, text },
      dependencyBuildMode: 'once'
    });
  }

  /** Send a request; rejects with NotConnectedError when not ready. */
  request<T>(method: string, params: unknown, timeoutMs?: number): Promise<T> {
    if (!this._rpc || !this.isReady) {
      return Promise.reject(new NotConnectedError());
    }
    return this._rpc.request<T>(
      method,
      params,
      timeoutMs ?? this._requestTimeoutMs
    );
  }

  /**
   * Send a notification (e.g. `$/lean/rpc/keepAlive`); false when not
   * ready, since a notification cannot wait for a later connection.
   */
  notify(method: string, params: unknown): boolean {
    if (!this._rpc || !this.isReady) {
      return false;
    }
    return this._notify(method, params);
  }

  /** Try to connect now instead of waiting for the backoff delay. */
  reconnectNow(): void {
    if (this._disposed || this._status.phase !== 'disconnected') {
      return;
    }
    this._clearRetry();
    void this._connect();
  }

  /**
   * Close the connection. With `deleteSession` the Lean server is stopped
   * too; without it the session stays for a later page to resume.
   */
  async dispose(options: { deleteSession?: boolean } = {}): Promise<void> {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._generation++;
    this._clearRetry();
    this._dropSocket(CloseCodes.Normal, 'closed by the client');
    const sessionId = this._sessionId;
    this._setStatus({ phase: 'disposed', sessionId: null });
    if (options.deleteSession && sessionId) {
      this._store?.set(this.project, null);
      try {
        await this._api.deleteSession(sessionId);
      } catch (error) {
        console.warn('jupyter-lean: could not delete session', error);
      }
    }
    Signal.clearData(this);
  }

  private async _connect(): Promise<void> {
    if (this._socket) {
      // A manual reconnect during an attempt: abandon that attempt's socket.
      this._dropSocket(CloseCodes.Normal, 'reconnecting');
    }
    const generation = ++this._generation;
    this._setStatus({
      phase: this._everReady ? 'disconnected' : 'starting',
      sessionId: this._sessionId,
      message: this._everReady ? 'reconnecting…' : 'starting Lean…'
    });
    let sessionId: string;
    try {
      sessionId = await this._ensureSession();
    } catch (error) {
      if (generation === this._generation && !this._disposed) {
        this._scheduleRetry(describeError(error));
      }
      return;
    }
    if (generation !== this._generation || this._disposed) {
      return;
    }
    let opened = false;
    let socket: ILspSocket | null = null;
    const rpc = new JsonRpcConnection(frame => socket!.send(frame), {
      defaultTimeoutMs: this._requestTimeoutMs
    });
    rpc.onNotification((method, params) => this._dispatch(method, params));
    // Server-to-client requests (registerCapability, semanticTokens/refresh,
    // inlayHint/refresh) need no action from us; null is what Lean expects.
    rpc.onRequest(() => null);
    this._rpc = rpc;
    socket = this._socketFactory(this._api.lspSocketUrl(sessionId), {
      onOpen: () => {
        if (generation === this._generation) {
          opened = true;
          void this._handshake(generation, rpc);
        }
      },
      onMessage: frame => {
        if (generation === this._generation) {
          rpc.receive(frame);
        }
      },
      onClose: (code, reason) => {
        if (generation === this._generation) {
          this._onSocketClosed(code, reason, opened);
        }
      }
    });
    this._socket = socket;
  }

  private async _handshake(
    generation: number,
    rpc: JsonRpcConnection
  ): Promise<void> {
    let result: { serverInfo?: { version?: string } } | null;
    try {
      result = await rpc.request(
        'initialize',
        this._initializeParams(),
        this._initializeTimeoutMs
      );
    } catch (error) {
      if (generation === this._generation && !this._disposed) {
        this._dropSocket(CloseCodes.Normal, 'initialize failed');
        this._scheduleRetry(`initialize failed: ${describeError(error)}`);
      }
      return;
    }
    if (generation !== this._generation || this._disposed) {
      return;
    }
    rpc.notify('initialized', {});
    this._initializeResult = result;
    this._openOnSocket.clear();
    for (const document of this._documents.values()) {
      this._sendOpen(document);
    }
    this._everReady = true;
    this._failedOpens = 0;
    this._backoff.reset();
    this._setStatus({
      phase: 'ready',
      sessionId: this._sessionId,
      serverVersion: result?.serverInfo?.version
    });
    for (const document of this._documents.values()) {
      document.handleReopened?.();
    }
  }

  private _onSocketClosed(
    code: number,
    reason: string,
    wasOpen: boolean
  ): void {
    this._initializeResult = null;
    this._rpc?.close(new ConnectionClosedError(`connection closed (${code})`));
    this._rpc = null;
    this._socket = null;
    this._openOnSocket.clear();
    if (this._disposed) {
      return;
    }
    let message: string;
    switch (code) {
      case CloseCodes.NoSuchSession:
      case CloseCodes.SessionEnded:
        // Culled, deleted or crashed: a fresh session is needed, at once.
        this._forgetSession();
        this._backoff.reset();
        message =
          code === CloseCodes.SessionEnded
            ? 'Lean session ended; starting a new one'
            : 'Lean session not found; starting a new one';
        break;
      case CloseCodes.Replaced:
        // Another client (e.g. a duplicated tab) took the session over;
        // taking it back would make the two fight, so start our own.
        this._forgetSession();
        message = 'session taken over by another tab; starting a new one';
        break;
      case CloseCodes.NotAuthorized:
        message = 'not authorized (log in again?)';
        break;
      case CloseCodes.TooLarge:
        message = 'message too large for the server';
        break;
      default:
        message = reason || `connection lost (${code})`;
        if (!wasOpen && ++this._failedOpens >= 2) {
          // The socket never opened twice in a row: the session may be gone
          // without the server being able to say so; check before retrying.
          this._verifySession = true;
        }
    }
    this._scheduleRetry(message);
  }

  private async _ensureSession(): Promise<string> {
    if (this._sessionId && this._verifySession) {
      this._verifySession = false;
      const session = await this._api.getSession(this._sessionId);
      if (!session || session.state === 'exited') {
        this._forgetSession();
      }
    }
    if (!this._sessionId) {
      this._sessionId = this._store?.get(this.project) ?? null;
    }
    if (this._sessionId) {
      return this._sessionId;
    }
    // Reuse one of our own sessions of this project that no client holds
    // (left by a closed tab) before starting another Lean server.
    let id = await this._findIdleSession();
    if (!id) {
      try {
        id = (await this._api.createSession(this.project)).id;
      } catch (error) {
        // At the per-user limit: one may have become idle meanwhile.
        const idle =
          error instanceof ApiError && error.status === 429
            ? await this._findIdleSession()
            : null;
        if (!idle) {
          throw error;
        }
        id = idle;
      }
    }
    this._sessionId = id;
    this._store?.set(this.project, id);
    return id;
  }

  private async _findIdleSession(): Promise<string | null> {
    let sessions;
    try {
      sessions = await this._api.listSessions();
    } catch {
      return null;
    }
    const idle = sessions.find(
      session =>
        session.project === this.project &&
        !session.connected &&
        session.state !== 'exited' &&
        !this._abandoned.has(session.id)
    );
    return idle?.id ?? null;
  }

  private _forgetSession(): void {
    if (this._sessionId) {
      this._abandoned.add(this._sessionId);
    }
    this._sessionId = null;
    this._store?.set(this.project, null);
  }

  private _scheduleRetry(message: string): void {
    this._clearRetry();
    const delay = this._backoff.next();
    this._setStatus({
      phase: 'disconnected',
      sessionId: this._sessionId,
      message,
      retryInMs: delay
    });
    this._retryTimer = setTimeout(() => {
      this._retryTimer = null;
      void this._connect();
    }, delay);
  }

  private _clearRetry(): void {
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
  }

  private _dropSocket(code: number, reason: string): void {
    this._initializeResult = null;
    const socket = this._socket;
    this._socket = null;
    this._rpc?.close();
    this._rpc = null;
    this._openOnSocket.clear();
    // Stale handlers are ignored by generation.
    this._generation++;
    try {
      socket?.close(code, reason);
    } catch {
      // already closed
    }
  }

  private _sendOpen(document: ISyncedDocument): void {
    if (!this._rpc) {
      return;
    }
    const { text, version } = document.openSnapshot();
    this._notify('textDocument/didOpen', {
      textDocument: { uri: document.uri, languageId: 'lean4', version, text },
      // Like VS Code: do not start a Lake build of the imports on open; the
      // "restart file" command asks for one explicitly.
      dependencyBuildMode: 'never'
    });
    this._openOnSocket.add(document);
  }

  private _notify(method: string, params: unknown): boolean {
    const sent = this._rpc?.notify(method, params) ?? false;
    if (sent) {
      this._notificationSent.emit({ method, params });
    }
    return sent;
  }

  private _dispatch(method: string, params: unknown): void {
    this._dispatchToDocuments(method, params);
    this._notificationReceived.emit({ method, params });
  }

  private _dispatchToDocuments(method: string, params: unknown): void {
    switch (method) {
      case 'textDocument/publishDiagnostics': {
        const diagnostics = params as IPublishDiagnosticsParams;
        this._documents
          .get(uriKey(diagnostics.uri))
          ?.handleDiagnostics(diagnostics);
        break;
      }
      case '$/lean/fileProgress': {
        const progress = params as ILeanFileProgressParams;
        this._documents
          .get(uriKey(progress.textDocument.uri))
          ?.handleFileProgress(progress);
        break;
      }
      default:
        // Other notifications ($/lean/ileanInfo…, window/logMessage) are
        // not used by the editors (the infoview may listen to them).
        break;
    }
  }

  private _initializeParams(): unknown {
    return {
      processId: null,
      clientInfo: {
        name: 'jupyter-lean labextension',
        version: this._clientVersion
      },
      rootUri: this.rootUri,
      workspaceFolders: [{ uri: this.rootUri, name: this.project }],
      capabilities: {
        textDocument: {
          synchronization: { dynamicRegistration: false, didSave: false },
          publishDiagnostics: { versionSupport: true },
          hover: { contentFormat: ['markdown', 'plaintext'] },
          completion: {
            completionItem: {
              snippetSupport: false,
              documentationFormat: ['markdown', 'plaintext'],
              resolveSupport: { properties: ['detail', 'documentation'] }
            }
          }
        },
        window: { showDocument: { support: false } },
        workspace: { applyEdit: false }
      },
      // hasWidgets: the infoview renders interactive messages and widgets.
      initializationOptions: { editDelay: 200, hasWidgets: true },
      trace: 'off'
    };
  }

  private _setStatus(status: IConnectionStatus): void {
    this._status = status;
    this._statusChanged.emit(status);
  }

  private readonly _api: ILeanSessionApi;
  private readonly _socketFactory: LspSocketFactory;
  private readonly _store: ISessionStore | null;
  private readonly _backoff: Backoff;
  private readonly _requestTimeoutMs: number;
  private readonly _initializeTimeoutMs: number;
  private readonly _clientVersion: string | undefined;
  private readonly _statusChanged = new Signal<this, IConnectionStatus>(this);
  private readonly _notificationReceived = new Signal<this, INotificationEvent>(
    this
  );
  private readonly _notificationSent = new Signal<this, INotificationEvent>(
    this
  );
  private _initializeResult: unknown = null;
  // Keyed by uriKey, because Lean may echo a URI with different escaping.
  private readonly _documents = new Map<string, ISyncedDocument>();
  // Documents that got a didOpen on the current socket.
  private readonly _openOnSocket = new Set<ISyncedDocument>();
  private _status: IConnectionStatus = { phase: 'starting', sessionId: null };
  private _sessionId: string | null = null;
  private _socket: ILspSocket | null = null;
  private _rpc: JsonRpcConnection | null = null;
  // Incremented whenever a socket is abandoned, so its late events are ignored.
  private _generation = 0;
  private _retryTimer: ReturnType<typeof setTimeout> | null = null;
  private _started = false;
  private _disposed = false;
  private _everReady = false;
  private _failedOpens = 0;
  private _verifySession = false;
  // Sessions we left (ended, gone, or taken over): never adopt them again.
  private readonly _abandoned = new Set<string>();
}

/** Compare URIs by their decoded form. */
export function uriKey(uri: string): string {
  try {
    return decodeURIComponent(uri);
  } catch {
    return uri;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
