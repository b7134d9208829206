import { DiagnosticSeverity, ILeanDiagnostic } from '../lsp/protocol';
import { VirtualDocument } from './virtualDocument';

/** CodeMirror's lint severities. */
export type CellSeverity = 'error' | 'warning' | 'info' | 'hint';

/** A diagnostic placed in one cell, in that cell's UTF-16 offsets. */
export interface ICellDiagnostic {
  from: number;
  to: number;
  severity: CellSeverity;
  message: string;
  source?: string;
}

export interface IDiagnosticCounts {
  errors: number;
  warnings: number;
  infos: number;
}

/**
 * Place Lean's diagnostics into the cells they start in.
 *
 * The squiggle covers `fullRange` (Lean cuts `range` off at the next line,
 * which would underline only the first line of an "unsolved goals" block),
 * clipped to the end of its cell because a mark cannot span two editors.
 * Silent diagnostics ("goals accomplished") are not shown, as in VS Code.
 */
export function diagnosticsByCell(
  document: VirtualDocument,
  diagnostics: readonly ILeanDiagnostic[]
): Map<string, ICellDiagnostic[]> {
  const byCell = new Map<string, ICellDiagnostic[]>();
  for (const cellId of document.cellIds) {
    byCell.set(cellId, []);
  }
  for (const diagnostic of diagnostics) {
    if (diagnostic.isSilent) {
      continue;
    }
    const range = diagnostic.fullRange ?? diagnostic.range;
    const start = document.toCellOffset(range.start);
    if (!start) {
      continue;
    }
    const end = document.toCellOffset(range.end);
    const to =
      end && end.cellId === start.cellId
        ? Math.max(end.offset, start.offset)
        : document.cellText(start.cellId).length;
    byCell.get(start.cellId)!.push({
      from: start.offset,
      to,
      severity: severityName(diagnostic.severity),
      message: diagnostic.message,
      source: diagnostic.source
    });
  }
  return byCell;
}

/** Count what the status bar reports; silent diagnostics do not count. */
export function countDiagnostics(
  diagnostics: readonly ILeanDiagnostic[]
): IDiagnosticCounts {
  const counts: IDiagnosticCounts = { errors: 0, warnings: 0, infos: 0 };
  for (const diagnostic of diagnostics) {
    if (diagnostic.isSilent) {
      continue;
    }
    switch (diagnostic.severity ?? DiagnosticSeverity.Error) {
      case DiagnosticSeverity.Error:
        counts.errors++;
        break;
      case DiagnosticSeverity.Warning:
        counts.warnings++;
        break;
      default:
        counts.infos++;
    }
  }
  return counts;
}

export function severityName(
  severity: DiagnosticSeverity | undefined
): CellSeverity {
  switch (severity) {
    case DiagnosticSeverity.Warning:
      return 'warning';
    case DiagnosticSeverity.Information:
      return 'info';
    case DiagnosticSeverity.Hint:
      return 'hint';
    default:
      // LSP: a missing severity is up to the client; Lean always sends one.
      return 'error';
  }
}
