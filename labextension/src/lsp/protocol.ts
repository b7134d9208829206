/**
 * The subset of LSP and of Lean's extensions to it that this extension uses.
 *
 * Positions are LSP positions: zero-based line, and `character` counted in
 * UTF-16 code units. JavaScript strings and CodeMirror offsets are UTF-16 too,
 * so a column inside one line of a JS string is already an LSP character.
 */

export interface IPosition {
  line: number;
  character: number;
}

export interface IRange {
  start: IPosition;
  end: IPosition;
}

/** An incremental `didChange` entry (we never send full-text changes). */
export interface IContentChange {
  range: IRange;
  text: string;
}

export enum DiagnosticSeverity {
  Error = 1,
  Warning = 2,
  Information = 3,
  Hint = 4
}

export interface ILeanDiagnostic {
  range: IRange;
  /** Lean extension: the untruncated range (`range` stops at the next line). */
  fullRange?: IRange;
  severity?: DiagnosticSeverity;
  source?: string;
  message: string;
  tags?: number[];
  /** Lean extension: `[1]` unsolved goals, `[2]` goals accomplished. */
  leanTags?: number[];
  /** Lean extension: "goals accomplished" style messages a UI should not list. */
  isSilent?: boolean;
}

export interface IPublishDiagnosticsParams {
  uri: string;
  version?: number | null;
  diagnostics: ILeanDiagnostic[];
  isIncremental?: boolean;
}

export enum LeanFileProgressKind {
  Processing = 1,
  FatalError = 2
}

export interface ILeanFileProgressParams {
  textDocument: { uri: string; version?: number | null };
  processing: { range: IRange; kind?: LeanFileProgressKind }[];
}

export interface IMarkupContent {
  kind: 'markdown' | 'plaintext';
  value: string;
}

export type MarkedString = string | { language: string; value: string };

export interface IHover {
  contents: IMarkupContent | MarkedString | MarkedString[];
  range?: IRange;
}

export interface ITextEdit {
  range: IRange;
  newText: string;
}

export interface IInsertReplaceEdit {
  newText: string;
  insert: IRange;
  replace: IRange;
}

export interface ICompletionItem {
  label: string;
  kind?: number;
  detail?: string;
  documentation?: string | IMarkupContent;
  sortText?: string;
  filterText?: string;
  insertText?: string;
  textEdit?: ITextEdit | IInsertReplaceEdit;
  data?: unknown;
  tags?: number[];
}

export interface ICompletionList {
  isIncomplete: boolean;
  items: ICompletionItem[];
}

/** Result of `$/lean/plainGoal`. */
export interface IPlainGoal {
  goals: string[];
  rendered: string;
}

/** Result of `$/lean/plainTermGoal`. */
export interface IPlainTermGoal {
  goal: string;
  range: IRange;
}

export interface ITextDocumentPositionParams {
  textDocument: { uri: string };
  position: IPosition;
}

/** JSON-RPC error codes Lean and LSP use that the client reacts to. */
export const ErrorCodes = {
  MethodNotFound: -32601,
  RequestCancelled: -32800,
  ContentModified: -32801,
  WorkerExited: -32901,
  WorkerCrashed: -32902
} as const;

/** Markdown text of a hover, whatever shape the server used. */
export function hoverToMarkdown(hover: IHover | null | undefined): string {
  if (!hover) {
    return '';
  }
  const one = (part: IMarkupContent | MarkedString): string => {
    if (typeof part === 'string') {
      return part;
    }
    if ('kind' in part) {
      return part.kind === 'markdown' ? part.value : fence('', part.value);
    }
    return fence(part.language, part.value);
  };
  const parts = Array.isArray(hover.contents)
    ? hover.contents
    : [hover.contents];
  return parts.map(one).join('\n\n---\n\n').trim();
}

function fence(language: string, code: string): string {
  return '```' + language + '\n' + code + '\n```';
}
