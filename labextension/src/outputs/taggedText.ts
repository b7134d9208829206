import { IGoal, RpcRef, TaggedText } from './payload';

export const SUBTERM_CLASS = 'jl-subterm';

/**
 * Tagged text as DOM: text nodes, and a span per subterm that has an RPC
 * reference (its index in `refs` in `data-ref`). Only `textContent` and
 * fixed class names are ever set, so Lean's text cannot become markup.
 */
export function renderTaggedText(
  text: TaggedText,
  refs: RpcRef[] | null,
  doc: Document = document
): Node {
  if ('text' in text) {
    return doc.createTextNode(text.text);
  }
  if ('append' in text) {
    const fragment = doc.createDocumentFragment();
    for (const part of text.append) {
      fragment.appendChild(renderTaggedText(part, refs, doc));
    }
    return fragment;
  }
  const [info, child] = text.tag;
  const inner = renderTaggedText(child, refs, doc);
  if (refs === null || info.info === undefined) {
    return inner;
  }
  const span = doc.createElement('span');
  span.className = SUBTERM_CLASS;
  span.dataset.ref = String(refs.length);
  refs.push(info.info);
  span.appendChild(inner);
  return span;
}

/** A `div` of class `className` holding `parts` (fixed class names only). */
export function block(
  doc: Document,
  className: string,
  ...parts: Node[]
): Element {
  const element = doc.createElement('div');
  element.className = className;
  for (const part of parts) {
    element.appendChild(part);
  }
  return element;
}

function code(doc: Document, node: Node): Element {
  const element = doc.createElement('span');
  element.className = 'jl-code';
  element.appendChild(node);
  return element;
}

/** One goal as the infoview lays it out: case, hypotheses, then `⊢ type`. */
export function renderGoal(
  goal: IGoal,
  refs: RpcRef[] | null,
  doc: Document = document
): Element {
  const box = doc.createElement('div');
  box.className = 'jl-goal';
  if (goal.userName) {
    box.appendChild(
      block(doc, 'jl-goal-case', doc.createTextNode(`case ${goal.userName}`))
    );
  }
  for (const hyp of goal.hyps) {
    const names = doc.createElement('span');
    names.className = 'jl-hyp-names';
    names.textContent = hyp.names.join(' ');
    const parts: Node[] = [
      names,
      doc.createTextNode(' : '),
      code(doc, renderTaggedText(hyp.type, refs, doc))
    ];
    if (hyp.val) {
      parts.push(
        doc.createTextNode(' := '),
        code(doc, renderTaggedText(hyp.val, refs, doc))
      );
    }
    box.appendChild(block(doc, 'jl-hyp', ...parts));
  }
  box.appendChild(
    block(
      doc,
      'jl-goal-type',
      doc.createTextNode(goal.goalPrefix ?? '⊢ '),
      code(doc, renderTaggedText(goal.type, refs, doc))
    )
  );
  return box;
}
