import { describe, expect, it } from 'vitest';

import {
  countDiagnostics,
  diagnosticsByCell,
  severityName
} from '../src/document/diagnostics';
import { VirtualDocument } from '../src/document/virtualDocument';
import { DiagnosticSeverity, ILeanDiagnostic } from '../src/lsp/protocol';

// Document lines: 0 `prelude`, 1 `inductive N | z`, 2 `theorem t : N := by`, 3 `  intro`.
const document = new VirtualDocument([
  { id: 'head', text: 'prelude\ninductive N | z' },
  { id: 'proof', text: 'theorem t : N := by\n  intro' }
]);

function at(
  line: number,
  character: number,
  endLine = line,
  endCharacter = character + 1
) {
  return {
    start: { line, character },
    end: { line: endLine, character: endCharacter }
  };
}

function diagnostic(extra: Partial<ILeanDiagnostic>): ILeanDiagnostic {
  return {
    range: at(0, 0),
    severity: DiagnosticSeverity.Error,
    message: 'm',
    ...extra
  };
}

describe('diagnostics placed in cells', () => {
  it('puts each diagnostic in the cell it starts in, in cell offsets', () => {
    const byCell = diagnosticsByCell(document, [
      diagnostic({ range: at(1, 10, 1, 11), message: 'in head' }),
      diagnostic({
        range: at(2, 8, 2, 9),
        severity: DiagnosticSeverity.Warning,
        message: 'in proof',
        source: 'Lean 4'
      })
    ]);
    expect(byCell.get('head')).toEqual([
      { from: 18, to: 19, severity: 'error', message: 'in head' }
    ]);
    expect(byCell.get('proof')).toEqual([
      {
        from: 8,
        to: 9,
        severity: 'warning',
        message: 'in proof',
        source: 'Lean 4'
      }
    ]);
  });

  it('gives every cell a list, empty when it has nothing', () => {
    const byCell = diagnosticsByCell(document, []);
    expect([...byCell.keys()]).toEqual(['head', 'proof']);
    expect(byCell.get('head')).toEqual([]);
  });

  it('underlines the full range of an unsolved goals block', () => {
    const byCell = diagnosticsByCell(document, [
      diagnostic({
        range: at(2, 17, 3, 0),
        fullRange: at(2, 17, 3, 7),
        message: 'unsolved goals\n⊢ N'
      })
    ]);
    expect(byCell.get('proof')).toMatchObject([{ from: 17, to: 27 }]);
  });

  it('clips a range running into the next cell at the end of its own', () => {
    const byCell = diagnosticsByCell(document, [
      diagnostic({ range: at(1, 10, 3, 2) })
    ]);
    expect(byCell.get('head')).toMatchObject([
      { from: 18, to: 'prelude\ninductive N | z'.length }
    ]);
    expect(byCell.get('proof')).toEqual([]);
  });

  it('never ends before it starts', () => {
    const byCell = diagnosticsByCell(document, [
      diagnostic({ range: at(2, 5, 2, 3) })
    ]);
    expect(byCell.get('proof')).toMatchObject([{ from: 5, to: 5 }]);
  });

  it('leaves out silent diagnostics', () => {
    const byCell = diagnosticsByCell(document, [
      diagnostic({
        range: at(2, 0),
        isSilent: true,
        message: 'goals accomplished'
      })
    ]);
    expect(byCell.get('proof')).toEqual([]);
  });

  it('puts one past the last line at the end of the last cell', () => {
    // Lean reports "unexpected end of input" after the text.
    const byCell = diagnosticsByCell(document, [
      diagnostic({ range: at(40, 0) })
    ]);
    expect(byCell.get('proof')).toMatchObject([{ from: 27, to: 27 }]);
  });

  it('places nothing in a document without cells', () => {
    const empty = new VirtualDocument([]);
    expect(diagnosticsByCell(empty, [diagnostic({})]).size).toBe(0);
  });
});

describe('diagnostic counts', () => {
  it('counts errors, warnings and the rest; silent ones not at all', () => {
    expect(
      countDiagnostics([
        diagnostic({ severity: DiagnosticSeverity.Error }),
        diagnostic({ severity: undefined }),
        diagnostic({ severity: DiagnosticSeverity.Warning }),
        diagnostic({ severity: DiagnosticSeverity.Information }),
        diagnostic({ severity: DiagnosticSeverity.Hint }),
        diagnostic({ severity: DiagnosticSeverity.Error, isSilent: true })
      ])
    ).toEqual({ errors: 2, warnings: 1, infos: 2 });
    expect(countDiagnostics([])).toEqual({ errors: 0, warnings: 0, infos: 0 });
  });
});

describe('severity names', () => {
  it("maps LSP severities to CodeMirror's, a missing one to error", () => {
    expect(severityName(DiagnosticSeverity.Error)).toBe('error');
    expect(severityName(DiagnosticSeverity.Warning)).toBe('warning');
    expect(severityName(DiagnosticSeverity.Information)).toBe('info');
    expect(severityName(DiagnosticSeverity.Hint)).toBe('hint');
    expect(severityName(undefined)).toBe('error');
  });
});
