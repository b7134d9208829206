// @vitest-environment jsdom
import type { EditorApi, InfoviewApi } from '@leanprover/infoview-api';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import {
  frameDocument,
  IInfoviewAssets,
  infoviewAssets,
  loadInfoviewFrame
} from '../src/infoview/frame';

const ASSETS: IInfoviewAssets = infoviewAssets(
  '/lab/extensions',
  'http://localhost:8888/lab/tree/a.ipynb',
  '0.12.0'
);
const EDITOR_API = {} as EditorApi;
const INFOVIEW_API = { marker: 'infoview' } as unknown as InfoviewApi;

type Load = (
  imports: Record<string, string>,
  args: [EditorApi, HTMLElement],
  next: (api: InfoviewApi) => void
) => void;

/** What the frame's bootstrap script finds on its <iframe> element. */
interface IHookedFrame {
  srcdoc: string;
  jupyterLeanLoaded?: (load: Load, document: Document) => void;
  jupyterLeanFailed?: (message: string) => void;
}

function frameDocumentWithInfoview(): Document {
  const document = window.document.implementation.createHTMLDocument('frame');
  const element = document.createElement('div');
  element.id = 'infoview';
  document.body.appendChild(element);
  return document;
}

describe("the infoview's files", () => {
  it('come from the extension folder, versioned for caching', () => {
    expect(ASSETS.loader).toBe(
      'http://localhost:8888/lab/extensions/@jupyter-lean/labextension/static/infoview-0.12.0/loader.production.min.js?v=0.12.0'
    );
    expect(ASSETS.imports.react).toMatch(
      /react\.production\.min\.js\?v=0\.12\.0$/
    );
    expect(Object.keys(ASSETS.imports).sort()).toEqual([
      '@leanprover/infoview',
      'react',
      'react-dom',
      'react/jsx-runtime'
    ]);
  });

  it('are named in the frame document without breaking out of it', () => {
    const html = frameDocument({
      ...ASSETS,
      css: 'x.css?a=1&b="2"',
      loader: 'x.js</script><script>alert(1)</script>'
    });
    expect(html).toContain('href="x.css?a=1&amp;b=&quot;2&quot;"');
    expect(html).not.toContain('</script><script>alert(1)');
    expect(html).toContain('<div id="infoview"></div>');
  });
});

describe('loading the infoview into its frame', () => {
  let frame: IHookedFrame;

  beforeEach(() => {
    vi.useFakeTimers();
    frame = { srcdoc: '' };
  });
  afterEach(() => vi.useRealTimers());

  function load(timeoutMs = 2000) {
    return loadInfoviewFrame(
      frame as unknown as HTMLIFrameElement,
      ASSETS,
      EDITOR_API,
      timeoutMs
    );
  }

  it('renders the infoview into #infoview and resolves with its API', async () => {
    const loading = load();
    expect(frame.srcdoc).toBe(frameDocument(ASSETS));
    const document = frameDocumentWithInfoview();
    const calls: unknown[][] = [];
    frame.jupyterLeanLoaded!((imports, args, next) => {
      calls.push([imports, args]);
      next(INFOVIEW_API);
    }, document);
    await expect(loading).resolves.toEqual({ api: INFOVIEW_API, document });
    expect(calls).toEqual([
      [ASSETS.imports, [EDITOR_API, document.getElementById('infoview')]]
    ]);
    // The hooks are gone once done.
    expect(frame.jupyterLeanLoaded).toBeUndefined();
    expect(frame.jupyterLeanFailed).toBeUndefined();
  });

  it('fails with what the frame reports', async () => {
    const loading = load();
    frame.jupyterLeanFailed!("Error importing '@leanprover/infoview': 404");
    await expect(loading).rejects.toThrow(
      "Error importing '@leanprover/infoview': 404"
    );
  });

  it('fails when the loader throws or the frame has no #infoview', async () => {
    const throwing = load();
    frame.jupyterLeanLoaded!(() => {
      throw new Error('bad module');
    }, frameDocumentWithInfoview());
    await expect(throwing).rejects.toThrow('bad module');

    const empty = load();
    frame.jupyterLeanLoaded!(
      () => undefined,
      window.document.implementation.createHTMLDocument('empty')
    );
    await expect(empty).rejects.toThrow('the frame has no #infoview element');
  });

  it('gives up when the infoview does not start in time', async () => {
    const loading = load(2000);
    const failed = expect(loading).rejects.toThrow(
      'it did not start within 2 s'
    );
    await vi.advanceTimersByTimeAsync(2000);
    await failed;
    expect(frame.jupyterLeanLoaded).toBeUndefined();
  });
});
