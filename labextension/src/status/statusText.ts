import { IDiagnosticCounts } from '../document/diagnostics';
import { IProgressState } from '../document/leanDocument';
import { IConnectionStatus } from '../lsp/projectConnection';
import { IHealthModel } from '../lsp/sessionApi';

export type StatusKind =
  | 'missing'
  | 'disconnected'
  | 'starting'
  | 'processing'
  | 'fatal'
  | 'errors'
  | 'ready';

export interface IStatusInput {
  /** `/lean/health`, null while unknown. */
  health: IHealthModel | null;
  connection: IConnectionStatus | null;
  document: {
    progress: IProgressState;
    counts: IDiagnosticCounts;
    lineCount: number;
  } | null;
}

export interface IStatusView {
  kind: StatusKind;
  /** Short text for the status bar. */
  text: string;
  /** Longer explanation for the tooltip. */
  title: string;
}

/** What the status bar says about the current Lean document. */
export function statusView(input: IStatusInput): IStatusView {
  const { health, connection, document } = input;
  if (health && !health.lean.found) {
    const command = Array.isArray(health.lean.command)
      ? health.lean.command.join(' ')
      : (health.lean.command ?? 'lean');
    return {
      kind: 'missing',
      text: 'Lean: missing',
      title: `The Jupyter server cannot find Lean (${command}). Install it (elan) or set JUPYTER_LEAN_COMMAND.`
    };
  }
  if (!connection || connection.phase === 'starting') {
    return {
      kind: 'starting',
      text: 'Lean: starting…',
      title: connection?.message ?? 'Starting the Lean server'
    };
  }
  if (connection.phase === 'disconnected' || connection.phase === 'disposed') {
    const retry =
      connection.retryInMs !== undefined
        ? `; retrying in ${Math.max(1, Math.round(connection.retryInMs / 1000))} s`
        : '';
    return {
      kind: 'disconnected',
      text: 'Lean: disconnected',
      title: `${connection.message ?? 'Connection to the Lean server lost'}${retry}`
    };
  }
  const serverInfo = connection.serverVersion
    ? ` (Lean server ${connection.serverVersion})`
    : '';
  if (!document) {
    return {
      kind: 'ready',
      text: 'Lean: ready',
      title: `Connected${serverInfo}`
    };
  }
  const { progress, counts, lineCount } = document;
  if (progress.fatal) {
    return {
      kind: 'fatal',
      text: 'Lean: stopped',
      title:
        'Lean stopped processing this document after a fatal error (see the first error). Edit the document or restart the file.'
    };
  }
  const summary = countsText(counts);
  if (progress.processing) {
    const line = (progress.line ?? 0) + 1;
    return {
      kind: 'processing',
      text: `Lean: processing line ${line} of ${lineCount}`,
      title: `Lean is elaborating from line ${line}${summary ? `; so far ${summary}` : ''}${serverInfo}`
    };
  }
  if (counts.errors > 0) {
    return {
      kind: 'errors',
      text: `Lean: ${plural(counts.errors, 'error')}`,
      title: `${summary}${serverInfo}`
    };
  }
  return {
    kind: 'ready',
    text:
      counts.warnings > 0
        ? `Lean: ready, ${plural(counts.warnings, 'warning')}`
        : 'Lean: ready',
    title: `${summary || 'No errors'}${serverInfo}`
  };
}

function countsText(counts: IDiagnosticCounts): string {
  const parts: string[] = [];
  if (counts.errors) {
    parts.push(plural(counts.errors, 'error'));
  }
  if (counts.warnings) {
    parts.push(plural(counts.warnings, 'warning'));
  }
  if (counts.infos) {
    parts.push(plural(counts.infos, 'message'));
  }
  return parts.join(', ');
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
