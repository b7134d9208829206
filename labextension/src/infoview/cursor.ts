import { LeanDocument } from '../document/leanDocument';
import { GoalsTracker } from '../goals/goalsTracker';
import { InfoviewBridge } from './bridge';

/**
 * Tell the infoview where the cursor is, as a position in the Lean
 * document: on every cursor report, and when an edit elsewhere (a cell
 * above) moves the cursor's place in the document.
 */
export function followCursor(
  goals: GoalsTracker,
  bridge: Pick<InfoviewBridge, 'setCursor'>
): void {
  let watched: LeanDocument | null = null;
  const send = () => {
    const target = goals.target;
    if (
      !target ||
      target.document.isDisposed ||
      !target.document.content.hasCell(target.cellId)
    ) {
      return; // outside Lean documents the infoview keeps its place
    }
    const position = target.document.toDocumentPosition(
      target.cellId,
      target.offset
    );
    bridge.setCursor({
      uri: target.document.uri,
      range: { start: position, end: position }
    });
  };
  goals.targetChanged.connect(() => {
    const document = goals.target?.document ?? null;
    if (document !== watched) {
      watched?.changed.disconnect(send);
      watched = document;
      watched?.changed.connect(send);
    }
    send();
  });
}
