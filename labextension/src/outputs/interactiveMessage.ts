import { InteractiveMessage, ITraceEmbed, MsgEmbed, RpcRef } from './payload';
import { block, renderGoal, renderTaggedText } from './taggedText';

/** Shown for trace children Lean sends only on request (not in outputs). */
export const LAZY_TRACE_CHILDREN = '[…]';

/**
 * A trace as Lean prints it: `[cls] msg`, the children below it, indented
 * (by the stylesheet, so that copied text stays Lean's).
 */
function renderTrace(
  trace: ITraceEmbed,
  refs: RpcRef[] | null,
  doc: Document
): Element {
  const head = block(
    doc,
    'jl-trace-head',
    doc.createTextNode(`[${trace.cls}] `),
    renderInteractiveMessage(trace.msg, refs, doc)
  );
  const children = block(doc, 'jl-trace-children');
  if (trace.children === null) {
    children.appendChild(
      block(doc, 'jl-trace-lazy', doc.createTextNode(LAZY_TRACE_CHILDREN))
    );
  } else {
    for (const child of trace.children) {
      children.appendChild(renderInteractiveMessage(child, refs, doc));
    }
  }
  const element = block(doc, 'jl-trace', head);
  if (children.childNodes.length > 0) {
    element.appendChild(children);
  }
  return element;
}

function renderEmbed(
  embed: MsgEmbed,
  refs: RpcRef[] | null,
  doc: Document
): Node {
  if ('expr' in embed) {
    return renderTaggedText(embed.expr, refs, doc);
  }
  if ('goal' in embed) {
    return renderGoal(embed.goal, refs, doc);
  }
  if ('widget' in embed) {
    // User widgets do not run in outputs: Lean's text alternative does.
    return renderInteractiveMessage(embed.widget.alt, refs, doc);
  }
  if ('trace' in embed) {
    return renderTrace(embed.trace, refs, doc);
  }
  return doc.createTextNode('');
}

/**
 * A Lean message as DOM: its text, expressions with a subterm span per
 * reference (collected into `refs`; null: no spans), goals as in the goals
 * output, traces as lines. Only text nodes and fixed class names are made.
 */
export function renderInteractiveMessage(
  message: InteractiveMessage,
  refs: RpcRef[] | null,
  doc: Document = document
): Node {
  if ('text' in message) {
    return doc.createTextNode(message.text);
  }
  if ('append' in message) {
    const fragment = doc.createDocumentFragment();
    for (const part of message.append) {
      fragment.appendChild(renderInteractiveMessage(part, refs, doc));
    }
    return fragment;
  }
  if ('embed' in message) {
    return renderEmbed(message.embed, refs, doc);
  }
  return doc.createTextNode('');
}
