import type { EditorApi, InfoviewApi } from '@leanprover/infoview-api';

// Set by webpack.config.js: the folder of the infoview's files in static/.
declare const JUPYTER_LEAN_INFOVIEW_VERSION: string | undefined;

export const INFOVIEW_VERSION =
  typeof JUPYTER_LEAN_INFOVIEW_VERSION === 'string'
    ? JUPYTER_LEAN_INFOVIEW_VERSION
    : '0.12.0';

/** Where the infoview's files are served from, and its import map. */
export interface IInfoviewAssets {
  loader: string;
  css: string;
  /** Import map of `loadRenderInfoview`: the infoview and its React. */
  imports: Record<string, string>;
}

/**
 * The infoview's files in this extension's static folder (no CDN). The
 * version in the query lets the server allow caching them.
 */
export function infoviewAssets(
  labextensionsUrl: string,
  pageUrl: string,
  version = INFOVIEW_VERSION
): IInfoviewAssets {
  const folder = new URL(
    `${labextensionsUrl.replace(/\/+$/, '')}/@jupyter-lean/labextension/static/infoview-${version}/`,
    pageUrl
  );
  const file = (name: string) => new URL(`${name}?v=${version}`, folder).href;
  return {
    loader: file('loader.production.min.js'),
    css: file('index.css'),
    imports: {
      '@leanprover/infoview': file('index.production.min.js'),
      react: file('react.production.min.js'),
      'react/jsx-runtime': file('react-jsx-runtime.production.min.js'),
      'react-dom': file('react-dom.production.min.js')
    }
  };
}

type LoadRenderInfoview = (
  imports: Record<string, string>,
  args: [EditorApi, HTMLElement],
  next: (api: InfoviewApi) => void
) => void;

/** What the frame's bootstrap script calls on its `<iframe>` element. */
interface IFrameHooks {
  jupyterLeanLoaded?: (load: LoadRenderInfoview, document: Document) => void;
  jupyterLeanFailed?: (message: string) => void;
}

/**
 * The frame's document: the infoview's stylesheet, a theme style element,
 * and a module script importing the loader. In its own frame, the
 * infoview's React, its global CSS (tachyons, normalize) and the module
 * shims it installs cannot touch JupyterLab's page.
 */
export function frameDocument(assets: IInfoviewAssets): string {
  const loader = JSON.stringify(assets.loader).replace(/</g, '\\u003c');
  return `<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="${escapeAttribute(assets.css)}">
<style id="jupyter-lean-theme"></style>
</head><body><div id="infoview"></div>
<script type="module">
const host = window.frameElement;
const logError = console.error.bind(console);
console.error = (...args) => {
  logError(...args);
  // The loader reports a failed import only on the console.
  if (String(args[0]).startsWith("Error importing '@leanprover/infoview'")) {
    host.jupyterLeanFailed(String(args[0]));
  }
};
import(${loader}).then(
  module => host.jupyterLeanLoaded(module.loadRenderInfoview, document),
  error => host.jupyterLeanFailed(String(error))
);
</script></body></html>`;
}

/**
 * Load the infoview into `frame` (same origin, through `srcdoc`) and render
 * it with `editorApi`; resolves with its InfoviewApi.
 */
export function loadInfoviewFrame(
  frame: HTMLIFrameElement,
  assets: IInfoviewAssets,
  editorApi: EditorApi,
  timeoutMs: number
): Promise<{ api: InfoviewApi; document: Document }> {
  const hooks = frame as HTMLIFrameElement & IFrameHooks;
  return new Promise((resolve, reject) => {
    const finish = () => {
      clearTimeout(timer);
      delete hooks.jupyterLeanLoaded;
      delete hooks.jupyterLeanFailed;
    };
    const timer = setTimeout(() => {
      finish();
      reject(
        new Error(`it did not start within ${Math.round(timeoutMs / 1000)} s`)
      );
    }, timeoutMs);
    hooks.jupyterLeanFailed = message => {
      finish();
      reject(new Error(message));
    };
    hooks.jupyterLeanLoaded = (load, document) => {
      const element = document.getElementById('infoview');
      if (!element) {
        hooks.jupyterLeanFailed?.('the frame has no #infoview element');
        return;
      }
      try {
        load(assets.imports, [editorApi, element], api => {
          finish();
          resolve({ api, document });
        });
      } catch (error) {
        hooks.jupyterLeanFailed?.(String(error));
      }
    };
    frame.srcdoc = frameDocument(assets);
  });
}

function escapeAttribute(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/</g, '&lt;');
}
