// @vitest-environment jsdom
import './domShims';

import { describe, expect, it } from 'vitest';

import { SessionsPanel } from '../src/console/sessionsPanel';
import { consoleUrl } from '../src/console/url';

describe('Lean Sessions panel', () => {
  it('points at the console page under the base URL', () => {
    expect(consoleUrl('/')).toBe('/lean/console');
    expect(consoleUrl('/user/alice/')).toBe('/user/alice/lean/console');
    expect(consoleUrl('http://127.0.0.1:8888/a%40b/')).toBe(
      'http://127.0.0.1:8888/a%40b/lean/console'
    );
  });

  it('shows the console page in a closable frame', () => {
    const panel = new SessionsPanel('http://localhost:8888/user/alice/');
    expect(panel.id).toBe('jupyter-lean-sessions');
    expect(panel.title.label).toBe('Lean Sessions');
    expect(panel.title.closable).toBe(true);
    expect(panel.node.querySelector('iframe')).toBe(panel.frame);
    expect(panel.frame.src).toBe(
      'http://localhost:8888/user/alice/lean/console'
    );
    panel.dispose();
  });

  it('reloads the same page', () => {
    const panel = new SessionsPanel('http://localhost:8888/');
    const loads: string[] = [];
    const original = panel.frame.src;
    // Each assignment of src is a navigation: record them.
    const frame = panel.frame;
    const descriptor = Object.getOwnPropertyDescriptor(
      HTMLIFrameElement.prototype,
      'src'
    )!;
    Object.defineProperty(frame, 'src', {
      get: () => descriptor.get!.call(frame),
      set: (value: string) => {
        loads.push(value);
        descriptor.set!.call(frame, value);
      }
    });
    panel.reload();
    expect(loads).toEqual(['about:blank', original]);
    expect(panel.frame.src).toBe(original);
    panel.dispose();
  });
});
