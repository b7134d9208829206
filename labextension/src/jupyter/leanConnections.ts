import { PageConfig } from '@jupyterlab/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

import {
  DEFAULT_PROJECT,
  fileUri,
  projectForPath,
  absolutePath
} from '../document/uris';
import { LeanProjectConnection } from '../lsp/projectConnection';
import {
  IHealthModel,
  ILeanServerApi,
  IProjectModel,
  ISessionStore,
  LspSocketFactory
} from '../lsp/sessionApi';

export interface ILeanConnectionsOptions {
  api: ILeanServerApi;
  socketFactory: LspSocketFactory;
  sessionStore?: ISessionStore;
  /** Keep an unused connection this long before stopping its session, ms. */
  releaseDelayMs?: number;
  clientVersion?: string;
}

/** Where a Jupyter path's Lean document lives. */
export interface IProjectPlacement {
  project: IProjectModel;
  /** Absolute path of the Jupyter root on the server. */
  serverRoot: string;
}

/**
 * The page's Lean connections: one per project, shared by all documents of
 * that project, created on first use and stopped (session deleted) a while
 * after the last document closed. Also caches projects and health.
 */
export class LeanConnections {
  constructor(options: ILeanConnectionsOptions) {
    this._api = options.api;
    this._socketFactory = options.socketFactory;
    this._store = options.sessionStore;
    this._releaseDelayMs = options.releaseDelayMs ?? 120000;
    this._clientVersion = options.clientVersion;
  }

  get api(): ILeanServerApi {
    return this._api;
  }

  /** Latest `/lean/health`, null until known (or if the route failed). */
  get health(): IHealthModel | null {
    return this._health;
  }

  get healthChanged(): ISignal<this, IHealthModel | null> {
    return this._healthChanged;
  }

  /** Fetch `/lean/health` again (at most every few seconds). */
  async refreshHealth(): Promise<IHealthModel | null> {
    const now = Date.now();
    if (this._healthPromise && now - this._healthFetchedAt < 5000) {
      return this._healthPromise;
    }
    this._healthFetchedAt = now;
    this._healthPromise = this._api.health().then(
      health => health,
      error => {
        console.warn('jupyter-lean: /lean/health failed', error);
        return null;
      }
    );
    const health = await this._healthPromise;
    this._health = health;
    this._healthChanged.emit(health);
    return health;
  }

  /** The project of a path relative to the Jupyter root. */
  async placement(relativePath: string): Promise<IProjectPlacement> {
    const projects = await this._projects();
    const serverRoot = this._serverRoot(projects);
    const project = projectForPath(
      absolutePath(serverRoot, relativePath),
      projects
    );
    if (!project) {
      throw new Error('the server reports no Lean project');
    }
    return { project, serverRoot };
  }

  /** The connection of a project, shared; release it when done. */
  acquire(project: IProjectModel): LeanProjectConnection {
    let entry = this._entries.get(project.name);
    if (!entry) {
      const connection = new LeanProjectConnection({
        project: project.name,
        rootUri: fileUri(project.path),
        api: this._api,
        socketFactory: this._socketFactory,
        sessionStore: this._store,
        clientVersion: this._clientVersion
      });
      connection.statusChanged.connect((_, status) => {
        // A failing connection may mean Lean is missing: ask the server.
        if (status.phase === 'disconnected') {
          void this.refreshHealth();
        }
      });
      entry = { connection, users: 0, releaseTimer: null };
      this._entries.set(project.name, entry);
      void this.refreshHealth();
    }
    if (entry.releaseTimer !== null) {
      clearTimeout(entry.releaseTimer);
      entry.releaseTimer = null;
    }
    entry.users++;
    return entry.connection;
  }

  release(connection: LeanProjectConnection): void {
    const entry = this._entries.get(connection.project);
    if (!entry || entry.connection !== connection) {
      return;
    }
    entry.users = Math.max(0, entry.users - 1);
    if (entry.users === 0 && entry.releaseTimer === null) {
      // Closing and reopening a notebook should not restart Lean.
      entry.releaseTimer = setTimeout(() => {
        this._entries.delete(connection.project);
        void connection.dispose({ deleteSession: true });
      }, this._releaseDelayMs);
    }
  }

  private _projects(): Promise<IProjectModel[]> {
    if (!this._projectsPromise) {
      this._projectsPromise = this._api.projects().catch(error => {
        this._projectsPromise = null; // try again next time
        throw error;
      });
    }
    return this._projectsPromise;
  }

  private _serverRoot(projects: readonly IProjectModel[]): string {
    // The page config has the root when it is an absolute path; otherwise
    // the default project is the Jupyter root (README, "Configuration").
    const fromPage = PageConfig.getOption('serverRoot');
    if (fromPage.startsWith('/') || /^[A-Za-z]:[\\/]/.test(fromPage)) {
      return fromPage;
    }
    const defaultProject =
      projects.find(project => project.name === DEFAULT_PROJECT) ?? projects[0];
    return defaultProject ? defaultProject.path : '/';
  }

  private readonly _api: ILeanServerApi;
  private readonly _socketFactory: LspSocketFactory;
  private readonly _store: ISessionStore | undefined;
  private readonly _releaseDelayMs: number;
  private readonly _clientVersion: string | undefined;
  private readonly _entries = new Map<
    string,
    {
      connection: LeanProjectConnection;
      users: number;
      releaseTimer: ReturnType<typeof setTimeout> | null;
    }
  >();
  private readonly _healthChanged = new Signal<this, IHealthModel | null>(this);
  private _health: IHealthModel | null = null;
  private _healthPromise: Promise<IHealthModel | null> | null = null;
  private _healthFetchedAt = 0;
  private _projectsPromise: Promise<IProjectModel[]> | null = null;
}
