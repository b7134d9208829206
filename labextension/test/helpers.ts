import { IContentChange, IPosition } from '../src/lsp/protocol';

/**
 * Reference implementation of how an LSP server applies incremental
 * changes: in order, each against the previous result, positions in UTF-16
 * code units (plain JavaScript string indices).
 */
export function applyLspChanges(
  text: string,
  changes: readonly IContentChange[]
): string {
  let result = text;
  for (const change of changes) {
    const start = offsetOf(result, change.range.start);
    const end = offsetOf(result, change.range.end);
    if (end < start) {
      throw new Error('range end before start');
    }
    result = result.slice(0, start) + change.text + result.slice(end);
  }
  return result;
}

/** Offset of a position, strict: the position must exist in `text`. */
export function offsetOf(text: string, position: IPosition): number {
  const lines = text.split('\n');
  if (position.line < 0 || position.line >= lines.length) {
    throw new Error(`line ${position.line} outside 0..${lines.length - 1}`);
  }
  const line = lines[position.line];
  if (position.character < 0 || position.character > line.length) {
    throw new Error(
      `character ${position.character} outside line ${position.line} (${line.length})`
    );
  }
  let offset = 0;
  for (let i = 0; i < position.line; i++) {
    offset += lines[i].length + 1;
  }
  return offset + position.character;
}

/** Position of an offset in `text`. */
export function positionOf(text: string, offset: number): IPosition {
  const before = text.slice(0, offset).split('\n');
  return {
    line: before.length - 1,
    character: before[before.length - 1].length
  };
}

/** A small deterministic PRNG (mulberry32) for randomised tests. */
export function randomGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Let queued microtasks and zero-delay timers run. */
export function flush(): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, 0));
}
