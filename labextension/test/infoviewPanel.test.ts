// @vitest-environment jsdom
import './domShims';
import type { InfoviewApi } from '@leanprover/infoview-api';
import { Widget } from '@lumino/widgets';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { InfoviewBridge } from '../src/infoview/bridge';
import { IInfoviewAssets, loadInfoviewFrame } from '../src/infoview/frame';
import { InfoviewPanel } from '../src/infoview/infoviewPanel';
import { flush } from './helpers';

// Each load waits until the test settles it.
const loads = vi.hoisted(
  () =>
    [] as {
      frame: HTMLIFrameElement;
      timeoutMs: number;
      resolve: (loaded: { api: unknown; document: Document }) => void;
      reject: (error: Error) => void;
    }[]
);

vi.mock('../src/infoview/frame', () => ({
  loadInfoviewFrame: vi.fn(
    (
      frame: HTMLIFrameElement,
      _assets: unknown,
      _bridge: unknown,
      timeoutMs: number
    ) =>
      new Promise((resolve, reject) =>
        loads.push({ frame, timeoutMs, resolve, reject })
      )
  )
}));

const ASSETS: IInfoviewAssets = {
  loader: 'loader.js',
  css: 'index.css',
  imports: {}
};
const API = { marker: 'infoview' } as unknown as InfoviewApi;

class FakeBridge {
  infoview: InfoviewApi | null = null;
  readonly attach = vi.fn((api: InfoviewApi) => (this.infoview = api));
  readonly dispose = vi.fn();
}

/** The frame's document as the infoview's bootstrap leaves it. */
function frameDocument(): Document {
  const document = window.document.implementation.createHTMLDocument('frame');
  const style = document.createElement('style');
  style.id = 'jupyter-lean-theme';
  document.head.appendChild(style);
  return document;
}

describe('the infoview panel', () => {
  let bridge: FakeBridge;
  let panel: InfoviewPanel;
  let fallback: Widget;
  let theme: { color: string; isLight: boolean };

  beforeEach(() => {
    loads.length = 0;
    vi.mocked(loadInfoviewFrame).mockClear();
    bridge = new FakeBridge();
    theme = { color: '#ffffff', isLight: true };
    panel = new InfoviewPanel({
      bridge: bridge as unknown as InfoviewBridge,
      assets: ASSETS,
      createFallback: () => {
        fallback = new Widget();
        fallback.node.textContent = 'plain goals';
        return fallback;
      },
      theme: () => ({
        style: {
          getPropertyValue: (name: string) =>
            name === '--jp-layout-color1' ? ` ${theme.color} ` : ''
        } as CSSStyleDeclaration,
        isLight: theme.isLight
      })
    });
  });

  afterEach(() => {
    if (!panel.isDisposed) {
      panel.dispose();
    }
    vi.restoreAllMocks();
  });

  function frames(): HTMLIFrameElement[] {
    return [...panel.node.querySelectorAll('iframe')];
  }

  it('loads nothing until it is first shown, then loads once', () => {
    expect(panel.title.label).toBe('Lean Infoview');
    panel.hide();
    Widget.attach(panel, window.document.body);
    expect(panel.state).toBe('idle');
    expect(panel.node.dataset.state).toBe('idle');
    expect(frames()).toEqual([]);
    expect(loadInfoviewFrame).not.toHaveBeenCalled();

    panel.show();
    expect(panel.state).toBe('loading');
    expect(panel.node.dataset.state).toBe('loading');
    expect(frames()).toHaveLength(1);
    expect(frames()[0].className).toBe('jp-Lean-infoview-frame');
    expect(loadInfoviewFrame).toHaveBeenCalledWith(
      frames()[0],
      ASSETS,
      bridge,
      30000
    );

    panel.hide();
    panel.show();
    expect(loadInfoviewFrame).toHaveBeenCalledTimes(1);
    expect(frames()).toHaveLength(1);
  });

  it('loads when attached visible, with the configured timeout', () => {
    const quick = new InfoviewPanel({
      bridge: bridge as unknown as InfoviewBridge,
      assets: ASSETS,
      createFallback: () => new Widget(),
      theme: () => ({ style: {} as CSSStyleDeclaration, isLight: true }),
      loadTimeoutMs: 500
    });
    Widget.attach(quick, window.document.body);
    expect(quick.state).toBe('loading');
    expect(loads.map(load => load.timeoutMs)).toEqual([500]);
    quick.dispose();
  });

  it('hands the loaded infoview to the bridge and applies the theme', async () => {
    Widget.attach(panel, window.document.body);
    const document = frameDocument();
    loads[0].resolve({ api: API, document });
    await vi.waitFor(() => expect(panel.state).toBe('ready'));
    expect(panel.node.dataset.state).toBe('ready');
    expect(bridge.attach).toHaveBeenCalledWith(API);
    expect(panel.infoview).toBe(API);
    const css = document.getElementById('jupyter-lean-theme')!.textContent;
    expect(css).toContain('--vscode-editor-background: #ffffff;');
    expect(document.body.classList.contains('vscode-light')).toBe(true);
    expect(document.body.classList.contains('vscode-dark')).toBe(false);

    // JupyterLab switches to a dark theme.
    theme = { color: '#111111', isLight: false };
    panel.updateTheme();
    expect(
      document.getElementById('jupyter-lean-theme')!.textContent
    ).toContain('--vscode-editor-background: #111111;');
    expect(document.body.classList.contains('vscode-light')).toBe(false);
    expect(document.body.classList.contains('vscode-dark')).toBe(true);
  });

  it('ignores theme changes before the infoview is loaded', () => {
    Widget.attach(panel, window.document.body);
    expect(() => panel.updateTheme()).not.toThrow();
    expect(panel.state).toBe('loading');
  });

  it('shows the plain goals with the reason when the infoview cannot load', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    Widget.attach(panel, window.document.body);
    loads[0].reject(new Error('timed out after 30 s'));
    await vi.waitFor(() => expect(panel.state).toBe('failed'));
    expect(panel.node.dataset.state).toBe('failed');
    expect(frames()).toEqual([]);
    const note = panel.node.querySelector('.jp-Lean-infoview-failed');
    expect(note?.textContent).toBe(
      'The Lean infoview could not load (timed out after 30 s); showing the goals as plain text.'
    );
    expect(panel.widgets).toContain(fallback);
    expect(panel.node.textContent).toContain('plain goals');
    expect(bridge.attach).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalled();
  });

  it('disposes the bridge with the panel and ignores a load that ends after', async () => {
    Widget.attach(panel, window.document.body);
    const { resolve } = loads[0];
    panel.dispose();
    expect(bridge.dispose).toHaveBeenCalledTimes(1);
    resolve({ api: API, document: frameDocument() });
    await flush();
    expect(bridge.attach).not.toHaveBeenCalled();
    expect(panel.state).toBe('loading');
  });
});
