import {
  Completion,
  CompletionContext,
  CompletionResult,
  CompletionSource
} from '@codemirror/autocomplete';

import { ICompletionItem, IMarkupContent } from '../lsp/protocol';
import { ILeanCellHandle } from './editorRegistry';

/** Renders Markdown (hover text, docstrings) into a DOM node. */
export type MarkdownRenderer = (markdown: string) => Promise<HTMLElement>;

// A Lean name being typed, dots included (`Nat.su`).
const NAME_BEFORE = /[\p{L}\p{N}_'!?₀-₉.]+$/u;
// Typing more of the last name part keeps a complete list valid.
const NAME_PART = /^[\p{L}\p{N}_'!?₀-₉]*$/u;

/**
 * A CodeMirror completion source asking Lean (`textDocument/completion`)
 * and filling the detail pane with `completionItem/resolve`.
 */
export function leanCompletionSource(
  handle: ILeanCellHandle,
  renderMarkdown: MarkdownRenderer
): CompletionSource {
  return async (
    context: CompletionContext
  ): Promise<CompletionResult | null> => {
    const typed = context.matchBefore(NAME_BEFORE);
    if (!context.explicit && (!typed || typed.from === typed.to)) {
      return null;
    }
    let list;
    try {
      list = await handle.document.completion(handle.cellId, context.pos);
    } catch {
      return null; // not connected, timed out, or the file changed
    }
    if (!list || context.aborted || list.items.length === 0) {
      return null;
    }
    const from =
      editStart(handle, list.items[0]) ??
      (typed ? typed.from + typed.text.lastIndexOf('.') + 1 : context.pos);
    return {
      from: Math.min(from, context.pos),
      options: list.items.map(item =>
        toCompletion(handle, item, renderMarkdown)
      ),
      validFor: list.isIncomplete ? undefined : NAME_PART
    };
  };
}

function toCompletion(
  handle: ILeanCellHandle,
  item: ICompletionItem,
  renderMarkdown: MarkdownRenderer
): Completion {
  return {
    label: item.label,
    detail: item.detail,
    type: completionType(item.kind),
    apply: item.textEdit?.newText ?? item.insertText ?? item.label,
    info: async () => {
      let resolved = item;
      try {
        resolved = await handle.document.resolveCompletion(item);
      } catch {
        // keep what we have
      }
      return completionInfo(resolved, renderMarkdown);
    }
  };
}

async function completionInfo(
  item: ICompletionItem,
  renderMarkdown: MarkdownRenderer
): Promise<Node | null> {
  const documentation = markupText(item.documentation);
  if (!item.detail && !documentation) {
    return null;
  }
  const node = document.createElement('div');
  node.className = 'jp-Lean-completionInfo';
  if (item.detail) {
    const detail = document.createElement('pre');
    detail.className = 'jp-Lean-completionDetail';
    detail.textContent = `${item.label} : ${item.detail}`;
    node.appendChild(detail);
  }
  if (documentation) {
    node.appendChild(await renderMarkdown(documentation));
  }
  return node;
}

function markupText(
  documentation: string | IMarkupContent | undefined
): string {
  if (!documentation) {
    return '';
  }
  if (typeof documentation === 'string') {
    return documentation;
  }
  return documentation.kind === 'markdown'
    ? documentation.value
    : '```\n' + documentation.value + '\n```';
}

/** Where Lean's own edit of the item starts, in this cell, if it sent one. */
function editStart(
  handle: ILeanCellHandle,
  item: ICompletionItem
): number | null {
  const edit = item.textEdit;
  if (!edit) {
    return null;
  }
  const range = 'range' in edit ? edit.range : edit.insert;
  const place = handle.document.toCellOffset(range.start);
  return place && place.cellId === handle.cellId ? place.offset : null;
}

/** LSP CompletionItemKind → CodeMirror completion type (icon). */
export function completionType(kind: number | undefined): string | undefined {
  switch (kind) {
    case 2:
      return 'method';
    case 3:
    case 4:
      return 'function';
    case 5:
    case 10:
      return 'property';
    case 6:
    case 12:
      return 'variable';
    case 7:
    case 22:
      return 'class';
    case 8:
      return 'interface';
    case 9:
      return 'namespace';
    case 13:
      return 'enum';
    case 14:
      return 'keyword';
    case 20:
    case 21:
      return 'constant';
    case 25:
      return 'type';
    default:
      return 'text';
  }
}
