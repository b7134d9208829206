// @vitest-environment jsdom
import './domShims';

import { afterEach, describe, expect, it, vi } from 'vitest';

import type { IRenderMime } from '@jupyterlab/rendermime';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { FakeKernel } from './fakeKernel';

import {
  GoalsView,
  HOVERED_CLASS,
  POPUP_CLASS
} from '../src/outputs/goalsView';
import {
  IKernelLike,
  INFO_TO_INTERACTIVE,
  KernelRpc,
  RPC_COMM_TARGET,
  RpcAnswer
} from '../src/outputs/kernelRpc';
import {
  flatText,
  IGoalsPayload,
  LEAN_OUTPUT_MIME,
  parsePayload,
  TaggedText
} from '../src/outputs/payload';
import { LeanOutputRenderer } from '../src/outputs/renderer';

const HOSTILE = '«```<img src=x onerror=alert(1)>»';

function sub(ref: string, text: TaggedText): TaggedText {
  return { tag: [{ info: { p: ref }, subexprPos: '/' }, text] };
}

/** As the kernel sends it for `theorem t (p : N → Prop) (x : N) (h : p x) : p x := by skip`. */
function kernelPayload(): Record<string, unknown> {
  return {
    version: 1,
    kind: 'goals',
    title: 'Unsolved goals at 5:52',
    position: { line: 6, character: 6 },
    goals: [
      {
        ctx: { p: '10' },
        goalPrefix: '⊢ ',
        mvarId: '_uniq.32.5',
        hyps: [
          {
            fvarIds: ['_uniq.32.2'],
            names: ['p'],
            type: sub('0', {
              append: [
                sub('1', { text: 'N' }),
                { text: ' → ' },
                sub('2', { text: 'Prop' })
              ]
            })
          },
          {
            fvarIds: ['_uniq.32.3'],
            names: ['x'],
            type: sub('3', { text: 'N' })
          }
        ],
        type: sub('7', {
          append: [
            sub('8', { text: 'p' }),
            { text: ' ' },
            sub('9', { text: 'x' })
          ]
        })
      }
    ],
    termGoal: null,
    messages: [],
    rpc: { kernel: 'k1', session: '1234' }
  };
}

function payload(): IGoalsPayload {
  const parsed = parsePayload(kernelPayload());
  expect(parsed?.kind).toBe('goals');
  return parsed as IGoalsPayload;
}

function hover(element: Element): void {
  element.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

afterEach(() => {
  document.body.textContent = '';
  vi.useRealTimers();
});

describe('parsePayload', () => {
  it('reads the kernel payload', () => {
    const parsed = payload();
    expect(parsed.title).toBe('Unsolved goals at 5:52');
    expect(parsed.goals[0].hyps.map(h => [h.names, flatText(h.type)])).toEqual([
      [['p'], 'N → Prop'],
      [['x'], 'N']
    ]);
    expect(flatText(parsed.goals[0].type)).toBe('p x');
    expect(parsed.rpc).toEqual({ kernel: 'k1', session: '1234' });
  });

  it('refuses what it does not know, never throws', () => {
    for (const bad of [
      null,
      'x',
      [],
      { ...kernelPayload(), version: 2 },
      { ...kernelPayload(), kind: 'widgets' },
      { ...kernelPayload(), position: null },
      { ...kernelPayload(), goals: [{ hyps: [], type: { html: '<b>' } }] },
      {
        ...kernelPayload(),
        goals: [
          { hyps: [{ names: [1], type: { text: 'N' } }], type: { text: 'N' } }
        ]
      },
      { ...kernelPayload(), termGoal: { type: 5 } }
    ]) {
      expect(parsePayload(bad)).toBeNull();
    }
  });

  it('keeps goals without an RPC target (rendered static)', () => {
    expect(parsePayload({ ...kernelPayload(), rpc: null })!.rpc).toBeNull();
  });

  it('refuses tagged text nested deeper than it renders', () => {
    let deep: TaggedText = { text: 'x' };
    for (let i = 0; i < 1000; i++) {
      deep = { append: [deep] };
    }
    expect(
      parsePayload({ ...kernelPayload(), goals: [{ hyps: [], type: deep }] })
    ).toBeNull();
  });
});

describe('GoalsView', () => {
  function view(
    ask: ((ref: unknown) => Promise<RpcAnswer>) | null,
    data = payload()
  ) {
    const root = document.createElement('div');
    document.body.appendChild(root);
    return new GoalsView(root, data, ask, 0);
  }

  it('lays out hypotheses and the goal with ⊢ as text', () => {
    const goals = view(null);
    const lines = [
      ...goals.root.querySelectorAll('.jl-hyp, .jl-goal-type')
    ].map(e => e.textContent);
    expect(lines).toEqual(['p : N → Prop', 'x : N', '⊢ p x']);
    expect(goals.root.querySelector('.jl-goals-title')!.textContent).toBe(
      'Unsolved goals at 5:52'
    );
  });

  it("keeps Lean's text text: no element of it reaches the page", async () => {
    const data = payload();
    data.title = HOSTILE;
    data.goals[0].hyps[0].names = [HOSTILE];
    data.goals[0].type = sub('1', { text: HOSTILE });
    const goals = view(
      async () => ({ kind: 'result', result: { type: { text: HOSTILE } } }),
      data
    );
    expect(goals.root.querySelector('img')).toBeNull();
    expect(goals.root.textContent).toContain(HOSTILE);
    const tags = new Set(
      [...goals.root.querySelectorAll('*')].map(e => e.tagName)
    );
    expect([...tags].sort()).toEqual(['DIV', 'SPAN']);
    hover(goals.root.querySelector('.jl-subterm')!);
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toBe(
      HOSTILE
    );
    expect(document.querySelector('img')).toBeNull();
  });

  it('asks for the innermost hovered subterm and shows its type in a popup', async () => {
    const asked: unknown[] = [];
    const goals = view(async ref => {
      asked.push(ref);
      return {
        kind: 'result',
        result: {
          exprExplicit: { text: 'x' },
          type: sub('11', { text: 'N' }),
          doc: null
        }
      };
    });
    const x = [
      ...goals.root.querySelectorAll('.jl-goal-type .jl-subterm')
    ].find(e => e.textContent === 'x')!;
    hover(x);
    expect(x.classList.contains(HOVERED_CLASS)).toBe(true);
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(asked).toEqual([{ p: '9' }]);
    const popup = document.querySelector(`.${POPUP_CLASS}`)!;
    expect(popup.textContent).toBe('x : N');
    goals.root.dispatchEvent(new MouseEvent('mouseleave'));
    expect(document.querySelector(`.${POPUP_CLASS}`)).toBeNull();
    expect(x.classList.contains(HOVERED_CLASS)).toBe(false);
  });

  it('ignores an answer for a subterm the pointer has left', async () => {
    let answer!: (a: RpcAnswer) => void;
    const goals = view(() => new Promise(resolve => (answer = resolve)));
    const spans = goals.root.querySelectorAll('.jl-goal-type .jl-subterm');
    hover(spans[1]);
    await new Promise(resolve => setTimeout(resolve, 5));
    hover(spans[2]);
    answer({ kind: 'result', result: { type: { text: 'late' } } });
    await settle();
    expect(document.querySelector(`.${POPUP_CLASS}`)).toBeNull();
  });

  it('becomes static when the session ended, keeping the goals', async () => {
    const ask = vi.fn(async (): Promise<RpcAnswer> => ({
      kind: 'ended',
      message: 'gone'
    }));
    const goals = view(ask);
    const before = goals.root.textContent;
    hover(goals.root.querySelector('.jl-subterm')!);
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(goals.isStatic).toBe(true);
    expect(goals.root.textContent).toBe(before);
    expect(document.querySelector(`.${POPUP_CLASS}`)).toBeNull();
    hover(goals.root.querySelectorAll('.jl-subterm')[1]);
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(ask).toHaveBeenCalledTimes(1);
  });

  it('shows an error answer in the popup without going static', async () => {
    const goals = view(async () => ({
      kind: 'error',
      message: 'Lean did not answer in time'
    }));
    hover(goals.root.querySelector('.jl-subterm')!);
    await new Promise(resolve => setTimeout(resolve, 5));
    expect(goals.isStatic).toBe(false);
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toContain(
      'in time'
    );
  });

  it('without an RPC target renders static, with no subterm spans', () => {
    const goals = view(null);
    expect(goals.isStatic).toBe(true);
    expect(goals.root.querySelector('.jl-subterm')).toBeNull();
    expect(goals.root.textContent).toContain('⊢ p x');
  });
});

describe('KernelRpc', () => {
  const target = { kernel: 'k1', session: '1234' };
  const position = { line: 6, character: 6 };

  it('opens one comm and matches replies by id', async () => {
    const kernel = new FakeKernel();
    const rpc = new KernelRpc(kernel, 1000);
    const first = rpc.call(target, INFO_TO_INTERACTIVE, { p: '1' }, position);
    const second = rpc.call(target, INFO_TO_INTERACTIVE, { p: '2' }, position);
    expect(kernel.targets).toEqual([RPC_COMM_TARGET]);
    const [comm] = kernel.comms;
    expect(comm.opened).toBe(1);
    expect(comm.sent[0]).toEqual({
      id: 1,
      kernel: 'k1',
      session: '1234',
      method: INFO_TO_INTERACTIVE,
      params: { p: '1' },
      position
    });
    comm.reply({ id: 2, result: 'two' });
    comm.reply({ id: 1, error: { message: 'ended', ended: true } });
    comm.reply({ id: 99, result: 'nobody asked' });
    expect(await second).toEqual({ kind: 'result', result: 'two' });
    expect(await first).toEqual({ kind: 'ended', message: 'ended' });
  });

  it('tells an error from an ended session', async () => {
    const kernel = new FakeKernel();
    const rpc = new KernelRpc(kernel, 1000);
    const call = rpc.call(target, INFO_TO_INTERACTIVE, {}, position);
    kernel.comms[0].reply({ id: 1, error: { message: "'x' is not relayed" } });
    expect(await call).toEqual({
      kind: 'error',
      message: "'x' is not relayed"
    });
  });

  it('opens a new comm after a kernel restart disposed the old one', async () => {
    const kernel = new FakeKernel();
    const rpc = new KernelRpc(kernel, 1000);
    const lost = rpc.call(target, INFO_TO_INTERACTIVE, {}, position);
    kernel.comms[0].dispose();
    const next = rpc.call(target, INFO_TO_INTERACTIVE, {}, position);
    expect(kernel.comms.length).toBe(2);
    expect((await lost).kind).toBe('ended');
    kernel.comms[1].reply({
      id: 2,
      error: { message: 'another kernel', ended: true }
    });
    expect(await next).toEqual({ kind: 'ended', message: 'another kernel' });
  });

  it('settles calls when the kernel closes the comm (a kernel without the target)', async () => {
    const kernel = new FakeKernel();
    const rpc = new KernelRpc(kernel, 1000);
    const call = rpc.call(target, INFO_TO_INTERACTIVE, {}, position);
    kernel.comms[0].close();
    expect((await call).kind).toBe('ended');
  });

  it('gives up on a kernel that does not answer', async () => {
    vi.useFakeTimers();
    const rpc = new KernelRpc(new FakeKernel(), 1000);
    const call = rpc.call(target, INFO_TO_INTERACTIVE, {}, position);
    vi.advanceTimersByTime(1000);
    expect(await call).toEqual({
      kind: 'error',
      message: 'the kernel did not answer in time'
    });
  });

  it('a disposed kernel connection is an ended session', async () => {
    const kernel = new FakeKernel();
    kernel.isDisposed = true;
    const answer = await new KernelRpc(kernel).call(
      target,
      INFO_TO_INTERACTIVE,
      {},
      position
    );
    expect(answer.kind).toBe('ended');
    expect(kernel.comms).toEqual([]);
  });
});

describe('LeanOutputRenderer', () => {
  function model(data: Record<string, unknown>): IRenderMime.IMimeModel {
    // Output data is JSON; the payload's types just do not say so.
    return {
      data: data as ReadonlyPartialJSONObject,
      metadata: {},
      trusted: false,
      setData: () => undefined
    };
  }

  it("relays hovers to the output's kernel, and goes static without one", async () => {
    const kernel = new FakeKernel();
    let found: IKernelLike | null = kernel;
    const renderer = new LeanOutputRenderer(() => found);
    document.body.appendChild(renderer.node);
    await renderer.renderModel(model({ [LEAN_OUTPUT_MIME]: kernelPayload() }));
    hover(renderer.node.querySelector('.jl-subterm')!);
    await new Promise(resolve => setTimeout(resolve, 200));
    const [comm] = kernel.comms;
    expect(comm.sent[0]).toMatchObject({
      kernel: 'k1',
      session: '1234',
      params: { p: '0' }
    });
    comm.reply({ id: 1, result: { type: { text: 'Type' } } });
    await settle();
    expect(document.querySelector(`.${POPUP_CLASS}`)!.textContent).toBe('Type');

    found = null; // reopened without a kernel
    await renderer.renderModel(model({ [LEAN_OUTPUT_MIME]: kernelPayload() }));
    hover(renderer.node.querySelector('.jl-subterm')!);
    await new Promise(resolve => setTimeout(resolve, 200));
    expect(renderer.node.dataset.state).toBe('static');
    expect(renderer.node.textContent).toContain('⊢ p x');
    renderer.dispose();
  });

  it('shows the plain text of data it does not know', async () => {
    const renderer = new LeanOutputRenderer(() => null);
    await renderer.renderModel(
      model({
        [LEAN_OUTPUT_MIME]: { version: 9 },
        'text/plain': `goal ${HOSTILE}`
      })
    );
    expect(renderer.node.querySelector('pre')!.textContent).toBe(
      `goal ${HOSTILE}`
    );
    expect(renderer.node.querySelector('img')).toBeNull();
    renderer.dispose();
  });
});
