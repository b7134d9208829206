// Import first in jsdom tests that load Lumino widgets: Lumino's drag and
// drop (loaded with its widgets) needs DragEvent, which jsdom lacks.
const scope = globalThis as {
  DragEvent?: unknown;
  MouseEvent: typeof MouseEvent;
};
scope.DragEvent ??= class extends scope.MouseEvent {};

export {};
