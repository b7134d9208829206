// @vitest-environment jsdom
import { forEachDiagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView } from '@codemirror/view';
import { afterEach, describe, expect, it } from 'vitest';

import {
  IDocumentConnection,
  LeanDocument
} from '../src/document/leanDocument';
import { LeanEditorRegistry } from '../src/editor/editorRegistry';
import { leanEditorExtension } from '../src/editor/leanEditorExtension';
import { flush } from './helpers';

const URI = 'file:///p/.jupyter-lean/nb.ipynb.lean';
const connection: IDocumentConnection = {
  open: () => undefined,
  change: () => undefined,
  close: () => undefined,
  request: async () => null as never
};

function diagnosticsOf(view: EditorView) {
  const found: {
    from: number;
    to: number;
    severity: string;
    message: string;
  }[] = [];
  forEachDiagnostic(view.state, (d, from, to) =>
    found.push({ from, to, severity: d.severity, message: d.message })
  );
  return found;
}

describe('the Lean editor extension in a real CodeMirror view', () => {
  const views: EditorView[] = [];
  afterEach(() => views.splice(0).forEach(view => view.destroy()));

  function setup() {
    const registry = new LeanEditorRegistry();
    const model = {};
    const document = new LeanDocument({
      uri: URI,
      connection,
      cells: [
        { id: 'c1', text: 'def a := 1' },
        { id: 'c2', text: 'def b : Nat := "s"' }
      ]
    });
    const view = new EditorView({
      state: EditorState.create({
        doc: 'def b : Nat := "s"',
        extensions: leanEditorExtension(model, {
          registry,
          renderMarkdown: async text =>
            Object.assign(window.document.createElement('pre'), {
              textContent: text
            })
        })
      }),
      parent: window.document.body
    });
    views.push(view);
    return { registry, model, document, view };
  }

  it('stays inert until its model is bound to a Lean document', async () => {
    const { view } = setup();
    await flush();
    expect(view.dom.querySelector('.cm-gutter-lint')).toBeNull();
  });

  it('shows the diagnostics of its cell as lint marks, and clears them per version', async () => {
    const { registry, model, document, view } = setup();
    registry.bind(model, {
      document,
      cellId: 'c2',
      cursorActivity: () => undefined
    });
    await flush();
    expect(view.dom.querySelector('.cm-gutter-lint')).not.toBeNull();
    document.handleDiagnostics({
      uri: URI,
      version: 1,
      diagnostics: [
        {
          range: {
            start: { line: 1, character: 15 },
            end: { line: 1, character: 18 }
          },
          severity: 1,
          message: 'type mismatch'
        },
        {
          range: {
            start: { line: 0, character: 0 },
            end: { line: 0, character: 3 }
          },
          severity: 2,
          message: 'in another cell'
        }
      ]
    });
    expect(diagnosticsOf(view)).toEqual([
      { from: 15, to: 18, severity: 'error', message: 'type mismatch' }
    ]);
    expect(view.dom.querySelectorAll('.cm-lintRange-error')).toHaveLength(1);

    // The fix: a new version without errors empties the list.
    document.editCell('c2', [{ from: 15, to: 18, insert: '1' }]);
    document.handleDiagnostics({ uri: URI, version: 1, diagnostics: [] }); // stale: ignored
    expect(diagnosticsOf(view)).toHaveLength(1);
    document.handleDiagnostics({ uri: URI, version: 2, diagnostics: [] });
    expect(diagnosticsOf(view)).toEqual([]);
  });

  it('reports cursor moves for the goals panel and turns itself off when unbound', async () => {
    const { registry, model, document, view } = setup();
    const cursors: number[] = [];
    registry.bind(model, {
      document,
      cellId: 'c2',
      cursorActivity: offset => cursors.push(offset)
    });
    await flush();
    view.focus();
    view.dispatch({ selection: { anchor: 4 } });
    expect(cursors.at(-1)).toBe(4);
    registry.unbind(model);
    await flush();
    expect(view.dom.querySelector('.cm-gutter-lint')).toBeNull();
  });

  it('turns \\alpha into α in the view', async () => {
    const { registry, model, document, view } = setup();
    registry.bind(model, {
      document,
      cellId: 'c2',
      cursorActivity: () => undefined
    });
    await flush();
    view.dispatch({
      changes: { from: 0, to: view.state.doc.length },
      selection: { anchor: 0 }
    });
    for (const char of '\\alpha ') {
      const at = view.state.selection.main.head;
      view.dispatch({
        changes: { from: at, insert: char },
        selection: { anchor: at + 1 },
        userEvent: 'input.type'
      });
      await flush();
    }
    expect(view.state.doc.toString()).toBe('α ');
  });
});
