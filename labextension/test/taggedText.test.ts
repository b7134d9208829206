// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';

import { IGoal, RpcRef, TaggedText } from '../src/outputs/payload';
import { addOutputStyle } from '../src/outputs/style';
import {
  renderGoal,
  renderTaggedText,
  SUBTERM_CLASS
} from '../src/outputs/taggedText';

const HOSTILE = '<img src=x onerror=alert(1)>';

function sub(ref: string, text: TaggedText): TaggedText {
  return { tag: [{ info: { p: ref }, subexprPos: '/' }, text] };
}

function html(node: Node): string {
  const box = document.createElement('div');
  box.appendChild(node);
  return box.innerHTML;
}

describe('tagged text in the page', () => {
  // `p x → q`, with references on `p x` and on `q`.
  const implication: TaggedText = {
    append: [
      sub('1', { append: [{ text: 'p' }, { text: ' x' }] }),
      { text: ' → ' },
      sub('2', { text: 'q' })
    ]
  };

  it('renders the text, with a span per subterm pointing at its reference', () => {
    const refs: RpcRef[] = [];
    const node = renderTaggedText(implication, refs);
    expect(node.textContent).toBe('p x → q');
    expect(refs).toEqual([{ p: '1' }, { p: '2' }]);
    const box = document.createElement('div');
    box.appendChild(node);
    const spans = [...box.querySelectorAll(`span.${SUBTERM_CLASS}`)];
    expect(
      spans.map(span => [span.textContent, span.getAttribute('data-ref')])
    ).toEqual([
      ['p x', '0'],
      ['q', '1']
    ]);
  });

  it('numbers references after those already collected', () => {
    const refs: RpcRef[] = ['earlier'];
    const box = document.createElement('div');
    box.appendChild(renderTaggedText(sub('9', { text: 'x' }), refs));
    expect(box.querySelector('span')!.dataset.ref).toBe('1');
    expect(refs).toEqual(['earlier', { p: '9' }]);
  });

  it('renders plain text without references (static outputs)', () => {
    const node = renderTaggedText(implication, null);
    expect(html(node)).toBe('p x → q');
  });

  it('skips tags without information', () => {
    const refs: RpcRef[] = [];
    const node = renderTaggedText({ tag: [{}, { text: 'x' }] }, refs);
    expect(html(node)).toBe('x');
    expect(refs).toEqual([]);
  });

  it("never turns Lean's text into markup", () => {
    const node = renderTaggedText(sub('1', { text: HOSTILE }), []);
    const box = document.createElement('div');
    box.appendChild(node);
    expect(box.querySelector('img')).toBeNull();
    expect(box.textContent).toBe(HOSTILE);
  });
});

describe('a goal in the page', () => {
  const goal: IGoal = {
    userName: 'succ',
    hyps: [
      { names: ['a', 'b'], type: { text: 'N' } },
      { names: ['n'], type: { text: 'N' }, val: sub('3', { text: 'a.s' }) }
    ],
    type: sub('4', { text: 'P n' })
  };

  it('shows the case, the hypotheses, then the goal type', () => {
    const element = renderGoal(goal, []);
    expect(element.className).toBe('jl-goal');
    const lines = [...element.children].map(line => [
      line.className,
      line.textContent
    ]);
    expect(lines).toEqual([
      ['jl-goal-case', 'case succ'],
      ['jl-hyp', 'a b : N'],
      ['jl-hyp', 'n : N := a.s'],
      ['jl-goal-type', '⊢ P n']
    ]);
    expect(element.querySelector('.jl-hyp-names')!.textContent).toBe('a b');
  });

  it("uses the goal's own prefix and leaves out an unnamed case", () => {
    const element = renderGoal(
      { hyps: [], type: { text: 'N' }, goalPrefix: '∣ ' },
      null
    );
    expect([...element.children].map(line => line.textContent)).toEqual([
      '∣ N'
    ]);
  });

  it('collects the references of values and types in reading order', () => {
    const refs: RpcRef[] = [];
    renderGoal(goal, refs);
    expect(refs).toEqual([{ p: '3' }, { p: '4' }]);
  });
});

describe("the outputs' stylesheet", () => {
  it('is added to the page once', () => {
    addOutputStyle();
    addOutputStyle();
    const styles = document.head.querySelectorAll(
      'style#jupyter-lean-output-style'
    );
    expect(styles).toHaveLength(1);
    expect(styles[0].textContent).toContain('.jl-goal');
  });

  it('goes into the document it is given', () => {
    const other = document.implementation.createHTMLDocument('other');
    addOutputStyle(other);
    expect(other.getElementById('jupyter-lean-output-style')).not.toBeNull();
  });
});
