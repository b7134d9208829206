import { PageConfig } from '@jupyterlab/coreutils';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { LeanConnections } from '../src/jupyter/leanConnections';
import {
  IHealthModel,
  ILeanServerApi,
  IProjectModel
} from '../src/lsp/sessionApi';
import { FakeApi, SocketRecorder } from './fakeServer';

const DEFAULT: IProjectModel = {
  name: 'default',
  path: '/home/alice',
  lakefile: false
};
const MATHS: IProjectModel = {
  name: 'maths',
  path: '/home/alice/maths',
  lakefile: true
};
const HEALTHY: IHealthModel = {
  status: 'ok',
  lean: { found: true, version: '4.35.0' }
};

/** The session routes in memory, with health and projects. */
class ServerApi extends FakeApi implements ILeanServerApi {
  projectList: IProjectModel[] = [DEFAULT, MATHS];
  projectsError: Error | null = null;
  healthAnswer: IHealthModel | Error = HEALTHY;
  projectCalls = 0;
  healthCalls = 0;

  async projects(): Promise<IProjectModel[]> {
    this.projectCalls++;
    if (this.projectsError) {
      throw this.projectsError;
    }
    return this.projectList;
  }

  async health(): Promise<IHealthModel> {
    this.healthCalls++;
    if (this.healthAnswer instanceof Error) {
      throw this.healthAnswer;
    }
    return this.healthAnswer;
  }
}

const settle = () => vi.advanceTimersByTimeAsync(0);

describe("the page's Lean connections", () => {
  let api: ServerApi;
  let sockets: SocketRecorder;
  let connections: LeanConnections;

  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    api = new ServerApi();
    sockets = new SocketRecorder();
    connections = new LeanConnections({
      api,
      socketFactory: sockets.factory,
      releaseDelayMs: 1000
    });
    PageConfig.setOption('serverRoot', '');
  });

  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  describe('placement', () => {
    it('finds the innermost project of a path under the Jupyter root', async () => {
      await expect(connections.placement('maths/Basic.lean')).resolves.toEqual({
        project: MATHS,
        serverRoot: '/home/alice'
      });
      await expect(connections.placement('notes/nb.ipynb')).resolves.toEqual({
        project: DEFAULT,
        serverRoot: '/home/alice'
      });
    });

    it('takes the root from the page when it is an absolute path', async () => {
      PageConfig.setOption('serverRoot', '/srv');
      api.projectList = [
        { name: 'default', path: '/srv', lakefile: false },
        { name: 'x', path: '/srv/x', lakefile: false }
      ];
      await expect(connections.placement('x/A.lean')).resolves.toMatchObject({
        project: { name: 'x' },
        serverRoot: '/srv'
      });
      PageConfig.setOption('serverRoot', 'C:\\Users\\alice');
      await expect(connections.placement('A.lean')).resolves.toMatchObject({
        serverRoot: 'C:\\Users\\alice'
      });
    });

    it('asks for the projects once', async () => {
      await connections.placement('a.lean');
      await connections.placement('b.lean');
      expect(api.projectCalls).toBe(1);
    });

    it('asks again after the projects could not be read', async () => {
      api.projectsError = new Error('HTTP 500');
      await expect(connections.placement('a.lean')).rejects.toThrow('HTTP 500');
      api.projectsError = null;
      await expect(connections.placement('a.lean')).resolves.toMatchObject({
        project: DEFAULT
      });
      expect(api.projectCalls).toBe(2);
    });

    it('fails when the server reports no project', async () => {
      api.projectList = [];
      await expect(connections.placement('a.lean')).rejects.toThrow(
        'the server reports no Lean project'
      );
    });
  });

  describe('sharing', () => {
    it('gives every document of a project the same connection', () => {
      const first = connections.acquire(DEFAULT);
      expect(connections.acquire(DEFAULT)).toBe(first);
      expect(connections.acquire(MATHS)).not.toBe(first);
      expect(first.project).toBe('default');
    });

    it("stops a project's session a while after its last document closed", async () => {
      const connection = connections.acquire(DEFAULT);
      connections.acquire(DEFAULT);
      connection.start();
      await settle();
      expect([...api.sessions.keys()]).toEqual(['s1']);
      connections.release(connection);
      await vi.advanceTimersByTimeAsync(5000);
      expect(api.sessions.size).toBe(1);
      connections.release(connection);
      await vi.advanceTimersByTimeAsync(999);
      expect(api.sessions.size).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(api.sessions.size).toBe(0);
      expect(connection.status.phase).toBe('disposed');
      // The next document gets a new connection.
      expect(connections.acquire(DEFAULT)).not.toBe(connection);
    });

    it('keeps Lean running when a notebook is closed and reopened', async () => {
      const connection = connections.acquire(DEFAULT);
      connection.start();
      await settle();
      connections.release(connection);
      await vi.advanceTimersByTimeAsync(500);
      expect(connections.acquire(DEFAULT)).toBe(connection);
      await vi.advanceTimersByTimeAsync(5000);
      expect(api.sessions.size).toBe(1);
      expect(connection.status.phase).not.toBe('disposed');
      await connection.dispose();
    });

    it('ignores the release of a connection it does not hold', async () => {
      const connection = connections.acquire(DEFAULT);
      const stranger = new LeanConnections({
        api,
        socketFactory: sockets.factory
      }).acquire(DEFAULT);
      connections.release(stranger);
      await vi.advanceTimersByTimeAsync(5000);
      expect(stranger.status.phase).not.toBe('disposed');
      expect(connections.acquire(DEFAULT)).toBe(connection);
      await stranger.dispose();
      await connection.dispose();
    });
  });

  describe('health', () => {
    it('is unknown until asked, then told to listeners', async () => {
      const told: (IHealthModel | null)[] = [];
      connections.healthChanged.connect((_, health) => told.push(health));
      expect(connections.health).toBeNull();
      await expect(connections.refreshHealth()).resolves.toEqual(HEALTHY);
      expect(connections.health).toEqual(HEALTHY);
      expect(told).toEqual([HEALTHY]);
    });

    it('is asked at most every five seconds', async () => {
      await connections.refreshHealth();
      await connections.refreshHealth();
      expect(api.healthCalls).toBe(1);
      await vi.advanceTimersByTimeAsync(5000);
      await connections.refreshHealth();
      expect(api.healthCalls).toBe(2);
    });

    it('is null when the route fails', async () => {
      api.healthAnswer = new Error('HTTP 404');
      await expect(connections.refreshHealth()).resolves.toBeNull();
      expect(connections.health).toBeNull();
    });

    it('is asked when a project is first used and when its connection drops', async () => {
      const connection = connections.acquire(DEFAULT);
      await settle();
      expect(api.healthCalls).toBe(1);
      connection.start();
      await settle();
      sockets.last.open();
      sockets.last.answerInitialize();
      await settle();
      await vi.advanceTimersByTimeAsync(5000);
      api.healthAnswer = {
        status: 'degraded',
        lean: { found: false, command: 'lean', version: null }
      };
      sockets.last.drop(1006, 'network');
      await settle();
      expect(api.healthCalls).toBe(2);
      expect(connections.health?.lean.found).toBe(false);
      await connection.dispose();
    });
  });
});
