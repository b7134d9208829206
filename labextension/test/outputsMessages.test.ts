// @vitest-environment jsdom
import './domShims';

import { afterEach, describe, expect, it, vi } from 'vitest';

import type { IRenderMime } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { FakeKernel } from './fakeKernel';

import { HOVERED_CLASS, POPUP_CLASS } from '../src/outputs/goalsView';
import { INFO_TO_INTERACTIVE, RpcAnswer } from '../src/outputs/kernelRpc';
import { LAZY_TRACE_CHILDREN } from '../src/outputs/interactiveMessage';
import { MessagesView } from '../src/outputs/messagesView';
import {
  IMessagesPayload,
  LEAN_OUTPUT_MIME,
  parseMessage,
  parsePayload
} from '../src/outputs/payload';
import { LeanOutputRenderer } from '../src/outputs/renderer';
import { STATIC_NOTE } from '../src/outputs/subtermHover';

const HOSTILE = '«```<img src=x onerror=alert(1)>»';

type Json = Record<string, unknown>;

/** An expression embed as Lean sends it (the tag's own text is always empty). */
function expr(code: Json): Json {
  return { tag: [{ expr: code }, { text: '' }] };
}

function sub(ref: string, text: string): Json {
  return { tag: [{ info: { p: ref }, subexprPos: '/' }, { text }] };
}

// The messages below are real Lean 4.35's getInteractiveDiagnostics answers
// (client with hasWidgets) for a `prelude` document with `inductive N`.

/** `example : N := N`: the type error, every part an expression embed. */
const TYPE_MISMATCH: Json = {
  append: [
    expr({ text: 'Type mismatch' }),
    expr({ text: '\n  ' }),
    expr(sub('0', 'N')),
    expr({ text: '' }),
    expr({ text: '\n' }),
    expr({ text: '' }),
    expr({ text: 'has type' }),
    expr({ text: '\n  ' }),
    expr(sub('1', 'Type')),
    expr({ text: '' }),
    expr({ text: '\n' }),
    expr({ text: 'of sort' }),
    expr({ text: ' `' }),
    expr(sub('2', 'Type 1')),
    expr({ text: '` ' }),
    expr({ text: 'but is expected to have type' }),
    expr({ text: '\n  ' }),
    expr(sub('3', 'N')),
    expr({ text: '' }),
    expr({ text: '\n' }),
    expr({ text: 'of sort' }),
    expr({ text: ' `' }),
    expr(sub('4', 'Type')),
    expr({ text: '`' }),
    expr({ text: '' }),
    expr({ text: '' })
  ]
};

/** Its plain text, as Lean publishes it. */
const TYPE_MISMATCH_TEXT =
  'Type mismatch\n  N\nhas type\n  Type\nof sort `Type 1` but is expected to have type\n  N\nof sort `Type`';

/** `theorem t : N → N := fun a => by intro`... : the goal comes embedded. */
const UNSOLVED_GOALS: Json = {
  append: [
    expr({ text: 'unsolved goals' }),
    expr({ text: '\n' }),
    expr({ text: '' }),
    {
      tag: [
        {
          goal: {
            ctx: { p: '13' },
            goalPrefix: '⊢ ',
            hyps: [
              {
                fvarIds: ['_uniq.37.2'],
                names: ['a'],
                type: sub('11', 'N')
              }
            ],
            mvarId: '_uniq.37.3',
            type: sub('12', 'N')
          }
        },
        { text: '' }
      ]
    }
  ]
};

/** `#check N.z`. */
const CHECK: Json = expr({
  append: [
    { text: 'N.z : ' },
    { tag: [{ info: { p: '14' }, subexprPos: '/1' }, { text: 'N' }] }
  ]
});

/** infoToInteractive's answer for the first `N` of the type error. */
const INFO_OF_N = {
  doc: null,
  exprExplicit: { text: 'N' },
  type: sub('5', 'Type')
};

/** `[Meta.isDefEq] ✅️ N =?= N`, with children `strict` or `lazy`. */
function trace(children: Json, ref = '20'): Json {
  return {
    tag: [
      {
        trace: {
          indent: 0,
          cls: 'Meta.isDefEq',
          msg: {
            append: [
              { text: '✅️ ' },
              expr(sub(ref, 'N')),
              { text: ' =?= ' },
              expr(sub(`${ref}1`, 'N'))
            ]
          },
          collapsed: false,
          children
        }
      },
      { text: '' }
    ]
  };
}

function kernelPayload(messages?: Json[]): Json {
  return {
    version: 1,
    kind: 'messages',
    title: 'Errors',
    position: { line: 4, character: 15 },
    messages: messages ?? [
      { severity: 3, where: '2:0', message: CHECK },
      { severity: 1, where: '5:15', message: TYPE_MISMATCH },
      { severity: 1, where: '7:25', message: UNSOLVED_GOALS }
    ],
    rpc: { kernel: 'k1', session: '1234' }
  };
}

function payload(data = kernelPayload()): IMessagesPayload {
  const parsed = parsePayload(data);
  expect(parsed?.kind).toBe('messages');
  return parsed as IMessagesPayload;
}

function view(
  ask: ((ref: unknown) => Promise<RpcAnswer>) | null,
  data = payload()
): MessagesView {
  const root = document.createElement('div');
  document.body.appendChild(root);
  return new MessagesView(root, data, ask, 0);
}

function messageBoxes(root: Element): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>('.jl-message')];
}

function body(box: Element): Element {
  return box.querySelector('.jl-message-body')!;
}

function hover(element: Element): void {
  element.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
}

function tick(ms = 5): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

afterEach(() => {
  document.body.textContent = '';
});

describe('parsePayload of messages', () => {
  it("reads the kernel's messages with their severity and place", () => {
    const parsed = payload();
    expect(parsed.title).toBe('Errors');
    expect(parsed.position).toEqual({ line: 4, character: 15 });
    expect(parsed.rpc).toEqual({ kernel: 'k1', session: '1234' });
    expect(parsed.messages.map(m => [m.severity, m.where])).toEqual([
      [3, '2:0'],
      [1, '5:15'],
      [1, '7:25']
    ]);
  });

  it('keeps messages without an RPC target (rendered static) and without a title', () => {
    const parsed = payload({ ...kernelPayload(), rpc: null, title: 5 });
    expect(parsed.rpc).toBeNull();
    expect(parsed.title).toBe('');
  });

  it("renders an embed of a later Lean as the tag's text, or as nothing", () => {
    expect(
      parseMessage({ tag: [{ hologram: { x: 1 } }, { text: 'fallback' }] })
    ).toEqual({ text: 'fallback' });
    expect(parseMessage({ tag: [{ hologram: 1 }, { html: '<b>' }] })).toEqual({
      text: ''
    });
  });

  it('refuses what it does not know or what is malformed, never throws', () => {
    const one = (message: unknown, extra: Json = {}) =>
      kernelPayload([{ severity: 1, where: '1:0', message, ...extra }]);
    for (const bad of [
      null,
      [],
      { ...kernelPayload(), version: 2 },
      { ...kernelPayload(), position: { line: '4', character: 15 } },
      { ...kernelPayload(), messages: null },
      one({ text: 'x' }, { severity: 5 }),
      one({ text: 'x' }, { severity: '1' }),
      one({ text: 'x' }, { where: 5 }),
      one({ html: '<b>x</b>' }),
      one({ append: [{ text: 'x' }, 7] }),
      one({ tag: [{ expr: { text: 'x' } }] }),
      one(expr({ html: '<b>' })),
      one({ tag: [{ goal: { hyps: [], type: 5 } }, { text: '' }] }),
      one({ tag: [{ widget: { wi: {} } }, { text: '' }] }),
      one({
        tag: [
          { trace: { cls: 'c', msg: { text: 'm' }, children: {} } },
          { text: '' }
        ]
      }),
      one({
        tag: [
          { trace: { msg: { text: 'm' }, children: { lazy: {} } } },
          { text: '' }
        ]
      }),
      one(trace({ strict: [{ img: 'x' }] }))
    ]) {
      expect(parsePayload(bad)).toBeNull();
    }
  });

  it('refuses messages nested deeper than it renders, through any embed', () => {
    let deepText: Json = { text: 'x' };
    let deepWidget: Json = { text: 'x' };
    let deepTrace: Json = { text: 'x' };
    for (let i = 0; i < 1000; i++) {
      deepText = { append: [deepText] };
      deepWidget = { tag: [{ widget: { alt: deepWidget } }, { text: '' }] };
      deepTrace = trace({ strict: [deepTrace] });
    }
    for (const message of [deepText, deepWidget, deepTrace]) {
      expect(
        parsePayload(kernelPayload([{ severity: 1, where: '', message }]))
      ).toBeNull();
    }
  });
});

describe('MessagesView', () => {
  it("lays out each message under its place and severity, in Lean's text", () => {
    const messages = view(null);
    expect(messages.root.classList.contains('jl-messages')).toBe(true);
    expect(messages.root.querySelector('.jl-messages-title')!.textContent).toBe(
      'Errors'
    );
    const boxes = messageBoxes(messages.root);
    expect(
      boxes.map(box => [
        box.dataset.severity,
        box.querySelector('.jl-message-where')!.textContent
      ])
    ).toEqual([
      ['info', '2:0: info'],
      ['error', '5:15: error'],
      ['error', '7:25: error']
    ]);
    expect(body(boxes[0]).textContent).toBe('N.z : N');
    expect(body(boxes[1]).textContent).toBe(TYPE_MISMATCH_TEXT);
  });

  it('names warnings and hints, and leaves out an empty place', () => {
    const messages = view(
      null,
      payload(
        kernelPayload([
          { severity: 2, where: '3:1', message: { text: 'unused' } },
          { severity: 4, where: '', message: { text: 'try this' } }
        ])
      )
    );
    expect(
      messageBoxes(messages.root).map(box => [
        box.dataset.severity,
        box.querySelector('.jl-message-where')!.textContent
      ])
    ).toEqual([
      ['warning', '3:1: warning'],
      ['hint', 'hint']
    ]);
  });

  it('gives every expression of a live message a subterm span with its reference', () => {
    const messages = view(async () => ({ kind: 'result', result: {} }));
    const spans = [...body(messageBoxes(messages.root)[1]).children].filter(e =>
      e.classList.contains('jl-subterm')
    );
    expect(spans.map(span => span.textContent)).toEqual([
      'N',
      'Type',
      'Type 1',
      'N',
      'Type'
    ]);
    const refs = spans.map(
      span => messages.refs[Number(span.getAttribute('data-ref'))]
    );
    expect(refs).toEqual(['0', '1', '2', '3', '4'].map(p => ({ p })));
  });

  it('renders an embedded goal as the goals output does', () => {
    const messages = view(null);
    const goals = body(messageBoxes(messages.root)[2]);
    expect(goals.textContent).toMatch(/^unsolved goals\n/);
    const lines = [...goals.querySelectorAll('.jl-goal > div')].map(
      line => line.textContent
    );
    expect(lines).toEqual(['a : N', '⊢ N']);
  });

  it('renders a trace as Lean prints it: [class] message, children below', () => {
    const strict = trace({
      strict: [trace({ strict: [] }, '30'), trace({ lazy: { p: '40' } }, '50')]
    });
    const messages = view(
      null,
      payload(kernelPayload([{ severity: 3, where: '1:0', message: strict }]))
    );
    const root = messages.root.querySelector('.jl-message-body > .jl-trace')!;
    const head = (trace: Element) =>
      trace.querySelector(':scope > .jl-trace-head')!.textContent;
    expect(head(root)).toBe('[Meta.isDefEq] ✅️ N =?= N');
    const children = [
      ...root.querySelectorAll(':scope > .jl-trace-children > .jl-trace')
    ];
    expect(children.map(head)).toEqual([
      '[Meta.isDefEq] ✅️ N =?= N',
      '[Meta.isDefEq] ✅️ N =?= N'
    ]);
    // No children: no child block; lazy ones (not fetched in outputs): a mark.
    expect(children[0].querySelector('.jl-trace-children')).toBeNull();
    expect(children[1].querySelector('.jl-trace-children')!.textContent).toBe(
      LAZY_TRACE_CHILDREN
    );
  });

  it("renders a user widget as Lean's text alternative", () => {
    const widget = {
      tag: [
        {
          widget: {
            wi: { id: 'w', javascriptHash: '1', props: { html: '<b>' } },
            alt: { append: [{ text: 'see ' }, expr(sub('7', 'N'))] }
          }
        },
        { text: '' }
      ]
    };
    const messages = view(
      async () => ({ kind: 'result', result: {} }),
      payload(kernelPayload([{ severity: 3, where: '1:0', message: widget }]))
    );
    const text = body(messageBoxes(messages.root)[0]);
    expect(text.textContent).toBe('see N');
    expect(text.querySelector('.jl-subterm')!.textContent).toBe('N');
  });

  it("keeps Lean's text text: no element of it reaches the page", async () => {
    const hostile = {
      append: [
        { text: HOSTILE },
        expr(sub('0', HOSTILE)),
        trace({ strict: [{ text: HOSTILE }] })
      ]
    };
    const data = payload({
      ...kernelPayload([{ severity: 1, where: HOSTILE, message: hostile }]),
      title: HOSTILE
    });
    const messages = view(
      async () => ({ kind: 'result', result: { type: { text: HOSTILE } } }),
      data
    );
    expect(messages.root.querySelector('img')).toBeNull();
    // The title, the place, the text, the expression and the trace child.
    expect(messages.root.textContent!.split(HOSTILE)).toHaveLength(6);
    const tags = new Set(
      [...messages.root.querySelectorAll('*')].map(e => e.tagName)
    );
    expect([...tags].sort()).toEqual(['DIV', 'SPAN']);
    hover(messages.root.querySelector('.jl-subterm')!);
    await tick();
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toBe(
      HOSTILE
    );
    expect(document.querySelector('img')).toBeNull();
  });

  it('shows the type of a hovered expression in a popup', async () => {
    const asked: unknown[] = [];
    const messages = view(async ref => {
      asked.push(ref);
      return { kind: 'result', result: INFO_OF_N };
    });
    const n = body(messageBoxes(messages.root)[1]).querySelector(
      '.jl-subterm'
    )!;
    hover(n);
    expect(n.classList.contains(HOVERED_CLASS)).toBe(true);
    await tick();
    expect(asked).toEqual([{ p: '0' }]);
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toBe(
      'N : Type'
    );
    messages.root.dispatchEvent(new MouseEvent('mouseleave'));
    expect(document.querySelector(`.${POPUP_CLASS}`)).toBeNull();
  });

  it('asks about subterms of an embedded goal too', async () => {
    const asked: unknown[] = [];
    const messages = view(async ref => {
      asked.push(ref);
      return { kind: 'result', result: INFO_OF_N };
    });
    const goal = body(messageBoxes(messages.root)[2]);
    hover(goal.querySelector('.jl-goal-type .jl-subterm')!);
    await tick();
    expect(asked).toEqual([{ p: '12' }]);
  });

  it('becomes static when the session ended, keeping the messages', async () => {
    const ask = vi.fn(async (): Promise<RpcAnswer> => ({
      kind: 'ended',
      message: 'gone'
    }));
    const messages = view(ask);
    const before = messages.root.textContent;
    hover(messages.root.querySelector('.jl-subterm')!);
    await tick();
    expect(messages.isStatic).toBe(true);
    expect(messages.root.title).toBe(STATIC_NOTE);
    expect(messages.root.textContent).toBe(before);
    expect(document.querySelector(`.${POPUP_CLASS}`)).toBeNull();
    hover(messages.root.querySelectorAll('.jl-subterm')[1]);
    await tick();
    expect(ask).toHaveBeenCalledTimes(1);
  });

  it('without an RPC target renders static, with no subterm spans', () => {
    const messages = view(null);
    expect(messages.isStatic).toBe(true);
    expect(messages.root.querySelector('.jl-subterm')).toBeNull();
    expect(body(messageBoxes(messages.root)[1]).textContent).toBe(
      TYPE_MISMATCH_TEXT
    );
  });
});

describe('LeanOutputRenderer with messages', () => {
  function model(data: Json): IRenderMime.IMimeModel {
    // Output data is JSON; the payload's types just do not say so.
    return {
      data: data as ReadonlyPartialJSONObject,
      metadata: {},
      trusted: false,
      setData: () => undefined
    };
  }

  it("asks the output's kernel at the payload's position and shows the answer", async () => {
    const kernel = new FakeKernel();
    const renderer = new LeanOutputRenderer(() => kernel);
    document.body.appendChild(renderer.node);
    await renderer.renderModel(model({ [LEAN_OUTPUT_MIME]: kernelPayload() }));
    const [n] = [...renderer.node.querySelectorAll('.jl-subterm')].filter(
      span => span.textContent === 'N' && span.closest('.jl-goal') === null
    );
    hover(n);
    await tick(200);
    const [comm] = kernel.comms;
    expect(comm.sent).toEqual([
      {
        id: 1,
        kernel: 'k1',
        session: '1234',
        method: INFO_TO_INTERACTIVE,
        params: { p: '14' },
        position: { line: 4, character: 15 }
      }
    ]);
    comm.reply({ id: 1, result: INFO_OF_N });
    await tick();
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toBe(
      'N : Type'
    );
    renderer.dispose();
  });

  it('renders goals then messages in one output node without mixing them', async () => {
    const renderer = new LeanOutputRenderer(() => null);
    await renderer.renderModel(
      model({
        [LEAN_OUTPUT_MIME]: {
          version: 1,
          kind: 'goals',
          title: '',
          position: { line: 0, character: 0 },
          goals: [{ hyps: [], type: { text: 'N' } }],
          rpc: null
        }
      })
    );
    expect(renderer.node.classList.contains('jl-goals')).toBe(true);
    await renderer.renderModel(model({ [LEAN_OUTPUT_MIME]: kernelPayload() }));
    expect(renderer.node.classList.contains('jl-goals')).toBe(false);
    expect(renderer.node.classList.contains('jl-messages')).toBe(true);
    expect(renderer.node.querySelectorAll('.jl-message')).toHaveLength(3);
    expect(renderer.node.textContent).not.toContain('no goals');
    renderer.dispose();
  });

  it('shows the plain text of a malformed messages payload', async () => {
    const renderer = new LeanOutputRenderer(() => null);
    await renderer.renderModel(
      model({
        [LEAN_OUTPUT_MIME]: kernelPayload([
          { severity: 1, where: '1:0', message: { html: HOSTILE } }
        ]),
        'text/plain': `1:0: error: ${HOSTILE}`
      })
    );
    expect(renderer.node.querySelector('pre')!.textContent).toBe(
      `1:0: error: ${HOSTILE}`
    );
    expect(renderer.node.querySelector('img')).toBeNull();
    renderer.dispose();
  });
});
