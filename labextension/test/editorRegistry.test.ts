import { describe, expect, it } from 'vitest';

import {
  ILeanCellHandle,
  LeanEditorRegistry
} from '../src/editor/editorRegistry';
import { scriptedDocument } from './scriptedConnection';

function handle(cellId: string): ILeanCellHandle {
  const { document } = scriptedDocument([{ id: cellId, text: 'prelude' }]);
  return { document, cellId, cursorActivity: () => undefined };
}

function watch(registry: LeanEditorRegistry): object[] {
  const changes: object[] = [];
  registry.changed.connect((_, model) => changes.push(model));
  return changes;
}

describe('the editor registry', () => {
  it('hands out the handle bound to a model, and says so once', () => {
    const registry = new LeanEditorRegistry();
    const changes = watch(registry);
    const model = {};
    const first = handle('c1');
    expect(registry.get(model)).toBeUndefined();
    registry.bind(model, first);
    registry.bind(model, first);
    expect(registry.get(model)).toBe(first);
    expect(changes).toEqual([model]);
  });

  it('replaces the handle of a model bound again', () => {
    const registry = new LeanEditorRegistry();
    const changes = watch(registry);
    const model = {};
    const second = handle('c2');
    registry.bind(model, handle('c1'));
    registry.bind(model, second);
    expect(registry.get(model)).toBe(second);
    expect(changes).toHaveLength(2);
  });

  it('unbinds a model, and ignores models it does not hold', () => {
    const registry = new LeanEditorRegistry();
    const changes = watch(registry);
    const model = {};
    registry.unbind(model);
    expect(changes).toEqual([]);
    registry.bind(model, handle('c1'));
    registry.unbind(model);
    expect(registry.get(model)).toBeUndefined();
    expect(changes).toEqual([model, model]);
  });

  it('does not unbind a newer handle for an older one', () => {
    const registry = new LeanEditorRegistry();
    const model = {};
    const old = handle('c1');
    const current = handle('c1');
    registry.bind(model, old);
    registry.bind(model, current);
    registry.unbind(model, old);
    expect(registry.get(model)).toBe(current);
    registry.unbind(model, current);
    expect(registry.get(model)).toBeUndefined();
  });

  it('keeps models apart', () => {
    const registry = new LeanEditorRegistry();
    const a = {};
    const b = {};
    const handleA = handle('a');
    registry.bind(a, handleA);
    expect(registry.get(b)).toBeUndefined();
    registry.unbind(b);
    expect(registry.get(a)).toBe(handleA);
  });
});
