import {
  IDocumentConnection,
  LeanDocument
} from '../src/document/leanDocument';
import { ICellSnapshot } from '../src/document/virtualDocument';
import { ISyncedDocument } from '../src/lsp/projectConnection';
import { IContentChange } from '../src/lsp/protocol';

/** What a scripted request answers: a value, an error to throw, or a function of the params. */
export type ScriptedAnswer = unknown | Error | ((params: unknown) => unknown);

/**
 * A document connection that records what the document sends and answers
 * requests from a script (method -> answer); unscripted requests get null.
 */
export class ScriptedConnection implements IDocumentConnection {
  readonly answers = new Map<string, ScriptedAnswer>();
  readonly requests: { method: string; params: unknown }[] = [];
  readonly changes: { version: number; changes: readonly IContentChange[] }[] =
    [];
  opened = 0;
  closed = 0;
  restarted = 0;

  open(): void {
    this.opened++;
  }

  change(
    _document: ISyncedDocument,
    version: number,
    changes: readonly IContentChange[]
  ): void {
    this.changes.push({ version, changes });
  }

  close(): void {
    this.closed++;
  }

  restartDocument(): void {
    this.restarted++;
  }

  async request<T>(method: string, params: unknown): Promise<T> {
    this.requests.push({ method, params });
    const answer = this.answers.get(method) ?? null;
    if (answer instanceof Error) {
      throw answer;
    }
    return (typeof answer === 'function' ? answer(params) : answer) as T;
  }
}

/** A Lean document over a scripted connection. */
export function scriptedDocument(
  cells: readonly ICellSnapshot[],
  uri = 'file:///home/u/.jupyter-lean/nb.ipynb.lean'
): { document: LeanDocument; connection: ScriptedConnection } {
  const connection = new ScriptedConnection();
  const document = new LeanDocument({ uri, cells, connection });
  return { document, connection };
}
