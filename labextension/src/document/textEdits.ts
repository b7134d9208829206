/**
 * Edits of one text (a cell or a file), in offsets of the text *before* the
 * edit, in ascending order and not overlapping: the shape CodeMirror's
 * `ChangeSet.iterChanges` and Yjs deltas both describe.
 */
export interface ITextEdit {
  /** Start offset (UTF-16 code units) in the old text. */
  from: number;
  /** End offset (exclusive) in the old text. */
  to: number;
  /** Text that replaces `[from, to)`. */
  insert: string;
}

/** One operation of a Yjs text delta (`@jupyter/ydoc` `sourceChange`). */
export interface IDeltaOperation {
  insert?: string | unknown[];
  delete?: number;
  retain?: number;
}

/**
 * Turn a Yjs delta into edits in old-text offsets.
 *
 * A delta walks the old text: `retain n` skips n characters, `delete n`
 * removes n, `insert s` inserts at the current place. An insert next to a
 * delete becomes one replacing edit.
 */
export function editsFromDelta(delta: readonly IDeltaOperation[]): ITextEdit[] {
  const edits: ITextEdit[] = [];
  let oldOffset = 0;
  const current = (): ITextEdit | undefined => {
    const last = edits[edits.length - 1];
    return last && last.to === oldOffset ? last : undefined;
  };
  for (const op of delta) {
    if (op.retain !== undefined) {
      oldOffset += op.retain;
    } else if (op.delete !== undefined) {
      const last = current();
      if (last) {
        last.to += op.delete;
      } else {
        edits.push({ from: oldOffset, to: oldOffset + op.delete, insert: '' });
      }
      oldOffset += op.delete;
    } else if (op.insert !== undefined) {
      // Text sources only ever insert strings; embeds are not text.
      const text = typeof op.insert === 'string' ? op.insert : '';
      const last = current();
      if (last) {
        last.insert += text;
      } else {
        edits.push({ from: oldOffset, to: oldOffset, insert: text });
      }
    }
  }
  return edits.filter(edit => edit.from !== edit.to || edit.insert !== '');
}

/**
 * The smallest single edit turning `before` into `after`: common prefix and
 * suffix are kept. Used to resynchronise a text whose change we did not see
 * as a delta (a whole-source replacement), so even then we send only what
 * differs.
 */
export function minimalEdit(before: string, after: string): ITextEdit | null {
  if (before === after) {
    return null;
  }
  const maxPrefix = Math.min(before.length, after.length);
  let prefix = 0;
  while (
    prefix < maxPrefix &&
    before.charCodeAt(prefix) === after.charCodeAt(prefix)
  ) {
    prefix++;
  }
  // Never split a surrogate pair: LSP positions must not point inside one.
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) {
    prefix--;
  }
  const maxSuffix = Math.min(before.length, after.length) - prefix;
  let suffix = 0;
  while (
    suffix < maxSuffix &&
    before.charCodeAt(before.length - 1 - suffix) ===
      after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  if (suffix > 0 && isLowSurrogate(before.charCodeAt(before.length - suffix))) {
    suffix--;
  }
  return {
    from: prefix,
    to: before.length - suffix,
    insert: after.slice(prefix, after.length - suffix)
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
