import { renderInteractiveMessage } from './interactiveMessage';
import { IMessage, IMessagesPayload, RpcRef, Severity } from './payload';
import { OutputView } from './outputView';
import { AskInfo, HOVER_DELAY_MS } from './subtermHover';

export const MESSAGES_CLASS = 'jl-messages';
export const MESSAGE_CLASS = 'jl-message';

/** The word of each LSP severity, as Lean's infoview and the kernel say it. */
export const SEVERITY_WORDS: Record<Severity, string> = {
  1: 'error',
  2: 'warning',
  3: 'info',
  4: 'hint'
};

function renderMessage(
  message: IMessage,
  refs: RpcRef[] | null,
  doc: Document
): HTMLElement {
  const word = SEVERITY_WORDS[message.severity];
  const box = doc.createElement('div');
  box.className = MESSAGE_CLASS;
  box.dataset.severity = word;
  const header = doc.createElement('div');
  header.className = 'jl-message-where';
  if (message.where) {
    header.appendChild(doc.createTextNode(`${message.where}: `));
  }
  const severity = doc.createElement('span');
  severity.className = 'jl-message-severity';
  severity.textContent = word;
  header.appendChild(severity);
  const body = doc.createElement('div');
  body.className = 'jl-message-body';
  body.appendChild(renderInteractiveMessage(message.message, refs, doc));
  box.append(header, body);
  return box;
}

/**
 * A messages output: each message laid out as in the infoview's message
 * list (position and severity, then the message) and, while the output's
 * Lean session lives, the type of a hovered subterm of its expressions in a
 * popup (`SubtermHover`). Once the session ended the view is static.
 */
export class MessagesView extends OutputView {
  constructor(
    root: HTMLElement,
    payload: IMessagesPayload,
    ask: AskInfo | null,
    delayMs = HOVER_DELAY_MS
  ) {
    super(root, MESSAGES_CLASS, payload.title, ask, delayMs);
    for (const message of payload.messages) {
      root.appendChild(
        renderMessage(message, this._hover.collect, root.ownerDocument)
      );
    }
  }
}
