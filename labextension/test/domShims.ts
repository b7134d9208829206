// Import first in jsdom tests that load Lumino widgets or JupyterLab's
// notebook: Lumino's drag and drop (loaded with its widgets) needs
// DragEvent, and the toolkit behind JupyterLab's UI components reads
// matchMedia when loaded, and the notebook's windowing extends
// IntersectionObserver and ResizeObserver; jsdom has none of them.
const scope = globalThis as {
  DragEvent?: unknown;
  MouseEvent: typeof MouseEvent;
  window?: {
    matchMedia?: unknown;
    IntersectionObserver?: unknown;
    ResizeObserver?: unknown;
  };
};
scope.DragEvent ??= class extends scope.MouseEvent {};
if (scope.window && !scope.window.matchMedia) {
  scope.window.matchMedia = (query: string) => ({
    matches: false,
    media: query,
    onchange: null,
    addListener: () => undefined,
    removeListener: () => undefined,
    addEventListener: () => undefined,
    removeEventListener: () => undefined,
    dispatchEvent: () => false
  });
}
class InertObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
  takeRecords(): unknown[] {
    return [];
  }
}
if (scope.window) {
  scope.window.IntersectionObserver ??= InertObserver;
  scope.window.ResizeObserver ??= InertObserver;
}

export {};
