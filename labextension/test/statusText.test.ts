import { describe, expect, it } from 'vitest';

import { statusView } from '../src/status/statusText';

const readyConnection = {
  phase: 'ready' as const,
  sessionId: 's1',
  serverVersion: '0.3.0'
};
const counts = (errors = 0, warnings = 0) => ({ errors, warnings, infos: 0 });
const done = { processing: false, fatal: false, line: null, version: 3 };

describe('status bar text', () => {
  it('says when Lean is missing on the server', () => {
    const view = statusView({
      health: {
        status: 'degraded',
        lean: { found: false, command: ['lean', '--server'], version: null }
      },
      connection: null,
      document: null
    });
    expect(view).toMatchObject({ kind: 'missing', text: 'Lean: missing' });
    expect(view.title).toContain('lean --server');
  });

  it('says starting, disconnected, processing, errors and ready', () => {
    expect(
      statusView({
        health: null,
        connection: { phase: 'starting', sessionId: null },
        document: null
      }).kind
    ).toBe('starting');
    expect(
      statusView({
        health: null,
        connection: {
          phase: 'disconnected',
          sessionId: 's1',
          message: 'connection lost (1006)',
          retryInMs: 4000
        },
        document: null
      })
    ).toMatchObject({
      kind: 'disconnected',
      text: 'Lean: disconnected',
      title: 'connection lost (1006); retrying in 4 s'
    });
    expect(
      statusView({
        health: null,
        connection: readyConnection,
        document: {
          progress: { processing: true, fatal: false, line: 41, version: 3 },
          counts: counts(),
          lineCount: 120
        }
      }).text
    ).toBe('Lean: processing line 42 of 120');
    expect(
      statusView({
        health: null,
        connection: readyConnection,
        document: { progress: done, counts: counts(2, 1), lineCount: 9 }
      })
    ).toMatchObject({ kind: 'errors', text: 'Lean: 2 errors' });
    expect(
      statusView({
        health: null,
        connection: readyConnection,
        document: { progress: done, counts: counts(0, 1), lineCount: 9 }
      }).text
    ).toBe('Lean: ready, 1 warning');
  });
});
