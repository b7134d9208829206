/**
 * What the Lean project connection needs from the server, as interfaces, so
 * the reconnect logic runs against fakes in unit tests and against
 * jupyter_server (`jupyter/serverApi.ts`) in the browser.
 */

/** Session JSON of `/lean/sessions` (README, "HTTP and WebSocket API"). */
export interface ISessionModel {
  id: string;
  owner?: string;
  project: string;
  state: 'starting' | 'ready' | 'exited' | string;
  created?: string;
  last_activity?: string;
  connected?: boolean;
  exit_code?: number | null;
}

/** Entry of `GET /lean/projects`. */
export interface IProjectModel {
  name: string;
  /** Absolute path on the server. */
  path: string;
  lakefile: boolean;
}

/** `GET /lean/health`. */
export interface IHealthModel {
  status: 'ok' | 'degraded' | string;
  lean: {
    found: boolean;
    command?: string[] | string;
    version?: string | null;
  };
  sandbox?: unknown;
  sessions?: number;
}

/** An HTTP error of the Lean routes; the body's `message` when it had one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface ILeanSessionApi {
  createSession(project: string): Promise<ISessionModel>;
  /** The session, or null when the server does not know it (404). */
  getSession(id: string): Promise<ISessionModel | null>;
  listSessions(): Promise<ISessionModel[]>;
  deleteSession(id: string): Promise<void>;
  /** Full `ws(s)://` URL of `/lean/sessions/{id}/lsp`, with credentials. */
  lspSocketUrl(sessionId: string): string;
}

/** The session routes, and what the page asks the server besides. */
export interface ILeanServerApi extends ILeanSessionApi {
  health(): Promise<IHealthModel>;
  projects(): Promise<IProjectModel[]>;
}

/** What a socket tells its owner. */
export interface ILspSocketHandlers {
  onOpen(): void;
  onMessage(frame: string): void;
  onClose(code: number, reason: string): void;
}

/** The two things we do to a socket. */
export interface ILspSocket {
  send(frame: string): void;
  close(code?: number, reason?: string): void;
}

export type LspSocketFactory = (
  url: string,
  handlers: ILspSocketHandlers
) => ILspSocket;

/**
 * Remembers the session id of each project for this browser tab, so a page
 * reload resumes the same Lean server instead of starting (and leaking) one.
 */
export interface ISessionStore {
  get(project: string): string | null;
  set(project: string, sessionId: string | null): void;
}

/** WebSocket close codes (README, "HTTP and WebSocket API"). */
export const CloseCodes = {
  Normal: 1000,
  NotAuthorized: 1008,
  TooLarge: 1009,
  NoSuchSession: 4404,
  Replaced: 4409,
  SessionEnded: 4410
} as const;
