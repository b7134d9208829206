import type {
  ClientRequestOptions,
  EditorApi,
  InfoviewApi,
  InfoviewConfig,
  TextInsertKind
} from '@leanprover/infoview-api';
import { ISignal } from '@lumino/signaling';

import type {
  IConnectionStatus,
  INotificationEvent
} from '../lsp/projectConnection';
import { IPosition, IRange } from '../lsp/protocol';

/** What the bridge needs of a project connection (LeanProjectConnection). */
export interface IBridgeConnection {
  readonly isReady: boolean;
  readonly initializeResult: unknown;
  readonly statusChanged: ISignal<IBridgeConnection, IConnectionStatus>;
  readonly notificationReceived: ISignal<IBridgeConnection, INotificationEvent>;
  readonly notificationSent: ISignal<IBridgeConnection, INotificationEvent>;
  request<T>(method: string, params: unknown, timeoutMs?: number): Promise<T>;
  notify(method: string, params: unknown): boolean;
}

/** A place in a Lean document, as the infoview names it. */
export interface ILocation {
  uri: string;
  range: IRange;
}

/** What the bridge needs of JupyterLab: documents, editors, clipboard. */
export interface IInfoviewHost {
  /** The connection serving the document `uri`, if it is open. */
  connectionFor(uri: string): IBridgeConnection | null;
  /** The latest full `publishDiagnostics` of every open Lean document. */
  publishedDiagnostics(): unknown[];
  /** Show `uri` at `range` in its editor (cell, notebook or file). */
  reveal(location: ILocation): Promise<void>;
  /** Insert text at `position` of `uri`, or at the cursor. */
  insertText(
    text: string,
    kind: TextInsertKind,
    at?: { uri: string; position: IPosition }
  ): Promise<void>;
  copyToClipboard(text: string): Promise<void>;
  restartFile(uri: string): void;
  saveConfig?(config: InfoviewConfig): Promise<void>;
}

const DIAGNOSTICS = 'textDocument/publishDiagnostics';

/** How often an open RPC session is kept alive (Lean drops it after ~30 s). */
export const KEEP_ALIVE_MS = 10000;

interface IRpcSession {
  uri: string;
  connection: IBridgeConnection;
}

/**
 * The infoview's `EditorApi` over the page's project connections, and the
 * editor events it needs: the cursor (already a document position: the
 * notebook is one virtual Lean document), server and client notifications,
 * server (re)starts.
 *
 * Notifications come from every connection the infoview can be asked
 * about; it filters by URI itself. RPC sessions are kept alive here, and
 * when a connection becomes ready again (a resumed or a new Lean session)
 * the infoview is told the server restarted, which makes it drop its RPC
 * sessions and connect new ones: no page reload.
 */
export class InfoviewBridge implements EditorApi {
  constructor(private readonly _host: IInfoviewHost) {}

  /** The infoview, once rendered; events before that are remembered. */
  attach(infoview: InfoviewApi): void {
    this._infoview = infoview;
    this._initialized = false;
    setTimeout(() => this._replayDiagnostics(), 0);
    if (this._cursor) {
      this._initialize(infoview, this._cursor);
    }
  }

  get infoview(): InfoviewApi | null {
    return this._infoview;
  }

  /** The cursor moved (null: not in a Lean document). */
  setCursor(location: ILocation | null): void {
    if (location && this._cursor && sameLocation(location, this._cursor)) {
      return;
    }
    this._cursor = location;
    const infoview = this._infoview;
    if (infoview && location && !this._initialized) {
      this._initialize(infoview, location);
      return;
    }
    if (location) {
      this._setActive(this._host.connectionFor(location.uri), false);
    }
    if (this._initialized) {
      void infoview?.changedCursorLocation(location ?? undefined);
    }
  }

  /** A connection appeared (a document of a new project opened). */
  watch(connection: IBridgeConnection): void {
    if (this._watched.has(connection)) {
      return;
    }
    this._watched.add(connection);
    connection.notificationReceived.connect(this._onServerNotification, this);
    connection.notificationSent.connect(this._onClientNotification, this);
    connection.statusChanged.connect(this._onStatus, this);
  }

  unwatch(connection: IBridgeConnection): void {
    if (!this._watched.delete(connection)) {
      return;
    }
    connection.notificationReceived.disconnect(
      this._onServerNotification,
      this
    );
    connection.notificationSent.disconnect(this._onClientNotification, this);
    connection.statusChanged.disconnect(this._onStatus, this);
    this._dropRpcSessions(connection);
    if (this._active === connection) {
      this._active = null;
    }
  }

  dispose(): void {
    for (const connection of [...this._watched]) {
      this.unwatch(connection);
    }
    this._infoview = null;
  }

  // --- EditorApi ---

  async saveConfig(config: InfoviewConfig): Promise<void> {
    await this._host.saveConfig?.(config);
  }

  async sendClientRequest(
    uri: string,
    method: string,
    params: unknown,
    options?: ClientRequestOptions
  ): Promise<unknown> {
    const connection = this._connection(uri);
    const request = connection.request(method, params);
    if (!options?.abortSignal) {
      return request;
    }
    // The answer of an abandoned request is not wanted; Lean finishes it.
    const signal = options.abortSignal;
    return new Promise((resolve, reject) => {
      const onAbort = () =>
        reject(Object.assign(new Error('request cancelled'), { code: -32800 }));
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      request.then(resolve, reject).finally(() => {
        signal.removeEventListener('abort', onAbort);
      });
    });
  }

  async sendClientNotification(
    uri: string,
    method: string,
    params: unknown
  ): Promise<void> {
    this._host.connectionFor(uri)?.notify(method, params);
  }

  async subscribeServerNotifications(method: string): Promise<void> {
    const count = this._serverSubscriptions.get(method) ?? 0;
    this._serverSubscriptions.set(method, count + 1);
    if (count === 0 && method === DIAGNOSTICS) {
      // Diagnostics that arrived before the infoview listened. It starts
      // listening right after subscribing (same effect), and may subscribe
      // while rendering, before `attach` gave us its API: replay later.
      this._replayPending = true;
      setTimeout(() => this._replayDiagnostics(), 0);
    }
  }

  async unsubscribeServerNotifications(method: string): Promise<void> {
    decrement(this._serverSubscriptions, method);
  }

  async subscribeClientNotifications(method: string): Promise<void> {
    this._clientSubscriptions.set(
      method,
      (this._clientSubscriptions.get(method) ?? 0) + 1
    );
  }

  async unsubscribeClientNotifications(method: string): Promise<void> {
    decrement(this._clientSubscriptions, method);
  }

  async copyToClipboard(text: string): Promise<void> {
    await this._host.copyToClipboard(text);
  }

  async insertText(
    text: string,
    kind: TextInsertKind,
    pos?: { textDocument: { uri: string }; position: IPosition }
  ): Promise<void> {
    await this._host.insertText(
      text,
      kind,
      pos ? { uri: pos.textDocument.uri, position: pos.position } : undefined
    );
  }

  async applyEdit(): Promise<void> {
    // Workspace edits come from user widgets; not supported here yet.
    throw new Error('jupyter-lean: applying workspace edits is not supported');
  }

  async showDocument(show: { uri: string; selection?: IRange }): Promise<void> {
    await this._host.reveal({
      uri: show.uri,
      range: show.selection ?? emptyRange()
    });
  }

  async restartFile(uri: string): Promise<void> {
    this._host.restartFile(uri);
  }

  async createRpcSession(uri: string): Promise<string> {
    const connection = this._connection(uri);
    const { sessionId } = await connection.request<{ sessionId: string }>(
      '$/lean/rpc/connect',
      { uri }
    );
    this._rpcSessions.set(sessionId, { uri, connection });
    this._startKeepAlive();
    return sessionId;
  }

  async closeRpcSession(sessionId: string): Promise<void> {
    // Like VS Code: stop keeping it alive and let Lean expire it.
    this._rpcSessions.delete(sessionId);
    if (this._rpcSessions.size === 0) {
      this._stopKeepAlive();
    }
  }

  /** Number of RPC sessions kept alive (for tests and the status). */
  get rpcSessionCount(): number {
    return this._rpcSessions.size;
  }

  // --- internals ---

  private _replayDiagnostics(): void {
    const infoview = this._infoview;
    if (!infoview || !this._replayPending) {
      return;
    }
    this._replayPending = false;
    for (const params of this._host.publishedDiagnostics()) {
      void infoview.gotServerNotification(DIAGNOSTICS, params);
    }
  }

  // The infoview wants one `initialize` with a real cursor before anything.
  private _initialize(infoview: InfoviewApi, location: ILocation): void {
    this._initialized = true;
    void infoview.initialize(location);
    this._setActive(this._host.connectionFor(location.uri), true);
  }

  private _connection(uri: string): IBridgeConnection {
    const connection = this._host.connectionFor(uri);
    if (!connection) {
      throw new Error(`jupyter-lean: no Lean document open for ${uri}`);
    }
    return connection;
  }

  /**
   * Follow the connection of the cursor's document: the infoview shows one
   * server at a time, so switching to a document of another project is a
   * server (re)start for it.
   */
  private _setActive(
    connection: IBridgeConnection | null,
    force: boolean
  ): void {
    if (!connection || (!force && connection === this._active)) {
      return;
    }
    this._active = connection;
    this.watch(connection);
    if (connection.isReady) {
      this._announceRestart(connection);
    }
  }

  private _announceRestart(connection: IBridgeConnection): void {
    const infoview = this._infoview;
    const result = connection.initializeResult;
    if (!infoview || !result || !this._initialized) {
      return;
    }
    // Clears a "server stopped" note, then resets the infoview's RPC state.
    void infoview.serverStopped(undefined);
    void infoview.serverRestarted(result as never);
    if (this._cursor) {
      void infoview.changedCursorLocation(this._cursor);
    }
  }

  private _onStatus(
    connection: IBridgeConnection,
    status: IConnectionStatus
  ): void {
    if (status.phase === 'ready') {
      if (connection === this._active) {
        this._announceRestart(connection);
      }
      return;
    }
    if (status.phase === 'disposed') {
      this.unwatch(connection);
      return;
    }
    // Lean-side RPC sessions do not outlive the socket we made them on
    // for sure (the session may be recreated); the infoview reconnects
    // after the restart announcement.
    this._dropRpcSessions(connection);
    if (
      connection === this._active &&
      status.phase === 'disconnected' &&
      this._infoview
    ) {
      void this._infoview.serverStopped({
        message: 'The Lean server is not connected; reconnecting…',
        reason: status.message ?? ''
      });
    }
  }

  private _onServerNotification(
    _: IBridgeConnection,
    { method, params }: INotificationEvent
  ): void {
    if (this._serverSubscriptions.has(method)) {
      void this._infoview?.gotServerNotification(method, params);
    }
  }

  private _onClientNotification(
    _: IBridgeConnection,
    { method, params }: INotificationEvent
  ): void {
    if (this._clientSubscriptions.has(method)) {
      void this._infoview?.sentClientNotification(method, params);
    }
  }

  private _dropRpcSessions(connection: IBridgeConnection): void {
    for (const [id, session] of this._rpcSessions) {
      if (session.connection === connection) {
        this._rpcSessions.delete(id);
      }
    }
    if (this._rpcSessions.size === 0) {
      this._stopKeepAlive();
    }
  }

  private _startKeepAlive(): void {
    if (this._keepAliveTimer !== null) {
      return;
    }
    this._keepAliveTimer = setInterval(() => {
      for (const [sessionId, { uri, connection }] of this._rpcSessions) {
        connection.notify('$/lean/rpc/keepAlive', { uri, sessionId });
      }
    }, KEEP_ALIVE_MS);
  }

  private _stopKeepAlive(): void {
    if (this._keepAliveTimer !== null) {
      clearInterval(this._keepAliveTimer);
      this._keepAliveTimer = null;
    }
  }

  private _infoview: InfoviewApi | null = null;
  private _initialized = false;
  private _replayPending = false;
  private _cursor: ILocation | null = null;
  private _active: IBridgeConnection | null = null;
  private readonly _watched = new Set<IBridgeConnection>();
  private readonly _serverSubscriptions = new Map<string, number>();
  private readonly _clientSubscriptions = new Map<string, number>();
  private readonly _rpcSessions = new Map<string, IRpcSession>();
  private _keepAliveTimer: ReturnType<typeof setInterval> | null = null;
}

function decrement(counts: Map<string, number>, key: string): void {
  const count = counts.get(key) ?? 0;
  if (count <= 1) {
    counts.delete(key);
  } else {
    counts.set(key, count - 1);
  }
}

function emptyRange(): IRange {
  return {
    start: { line: 0, character: 0 },
    end: { line: 0, character: 0 }
  };
}

function sameLocation(a: ILocation, b: ILocation): boolean {
  return (
    a.uri === b.uri &&
    a.range.start.line === b.range.start.line &&
    a.range.start.character === b.range.start.character &&
    a.range.end.line === b.range.end.line &&
    a.range.end.character === b.range.end.character
  );
}
