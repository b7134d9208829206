import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import {
  ApiError,
  IHealthModel,
  ILeanServerApi,
  IProjectModel,
  ISessionModel,
  ISessionStore,
  LspSocketFactory
} from '../lsp/sessionApi';

/**
 * The `/lean/...` routes of the server extension, called with Jupyter's own
 * authentication (ServerConnection adds the token header and XSRF cookie).
 */
export class LeanServerApi implements ILeanServerApi {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  health(): Promise<IHealthModel> {
    return this._request<IHealthModel>('health');
  }

  projects(): Promise<IProjectModel[]> {
    return this._request<IProjectModel[]>('projects');
  }

  createSession(project: string): Promise<ISessionModel> {
    return this._request<ISessionModel>('sessions', {
      method: 'POST',
      body: JSON.stringify({ project })
    });
  }

  async getSession(id: string): Promise<ISessionModel | null> {
    try {
      return await this._request<ISessionModel>(
        `sessions/${encodeURIComponent(id)}`
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        return null;
      }
      throw error;
    }
  }

  listSessions(): Promise<ISessionModel[]> {
    return this._request<ISessionModel[]>('sessions');
  }

  async deleteSession(id: string): Promise<void> {
    await this._request<null>(`sessions/${encodeURIComponent(id)}`, {
      method: 'DELETE'
    });
  }

  /**
   * The session's LSP WebSocket URL. Like JupyterLab's kernel sockets, the
   * token goes in the query when there is one (browsers cannot set headers
   * on WebSockets); otherwise the login cookie authenticates.
   */
  lspSocketUrl(sessionId: string): string {
    const url = URLExt.join(
      this.settings.wsUrl,
      'lean',
      'sessions',
      encodeURIComponent(sessionId),
      'lsp'
    );
    const token = this.settings.token;
    return token ? `${url}?token=${encodeURIComponent(token)}` : url;
  }

  private async _request<T>(path: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(this.settings.baseUrl, 'lean', path);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(
        0,
        `cannot reach the Jupyter server: ${(error as Error).message}`
      );
    }
    if (!response.ok) {
      let message = response.statusText || `HTTP ${response.status}`;
      try {
        const body = await response.json();
        if (body && typeof body.message === 'string') {
          message = body.message;
        }
      } catch {
        // not JSON: keep the status text
      }
      throw new ApiError(response.status, message);
    }
    if (response.status === 204) {
      return null as T;
    }
    return (await response.json()) as T;
  }
}

/** The browser's WebSocket behind the two-method socket interface. */
export const browserSocketFactory: LspSocketFactory = (url, handlers) => {
  const socket = new WebSocket(url);
  socket.onopen = () => handlers.onOpen();
  socket.onmessage = event => {
    if (typeof event.data === 'string') {
      handlers.onMessage(event.data);
    }
  };
  socket.onclose = event => handlers.onClose(event.code, event.reason);
  return {
    send: frame => socket.send(frame),
    close: (code, reason) => socket.close(code, reason)
  };
};

/** Session ids per project in this tab's sessionStorage. */
export class TabSessionStore implements ISessionStore {
  constructor(private readonly _scope: string) {}

  get(project: string): string | null {
    try {
      return window.sessionStorage.getItem(this._key(project));
    } catch {
      return null; // storage disabled
    }
  }

  set(project: string, sessionId: string | null): void {
    try {
      if (sessionId) {
        window.sessionStorage.setItem(this._key(project), sessionId);
      } else {
        window.sessionStorage.removeItem(this._key(project));
      }
    } catch {
      // storage disabled: sessions are then not resumed after a reload
    }
  }

  private _key(project: string): string {
    return `jupyter-lean:session:${this._scope}:${project}`;
  }
}
