import type { IRenderMime } from '@jupyterlab/rendermime';
import { Widget } from '@lumino/widgets';

import { GoalsView } from './goalsView';
import {
  IKernelLike,
  INFO_TO_INTERACTIVE,
  kernelRpc,
  RpcAnswer
} from './kernelRpc';
import { MessagesView } from './messagesView';
import {
  ILeanPayload,
  LEAN_OUTPUT_MIME,
  parsePayload,
  RpcRef
} from './payload';

/** The kernel connection of the notebook an output node is in, if any. */
export type KernelFinder = (node: HTMLElement) => IKernelLike | null;

/** The classes a view puts on the output node, cleared before the next one. */
const VIEW_CLASSES = ['jl-goals', 'jl-messages'];

/**
 * Renders the kernel's interactive goals and messages; hovers are asked of
 * the kernel of the notebook the output is in (at the payload's position),
 * which answers only for its own live Lean session. Data this renderer does
 * not know shows as its plain text.
 */
export class LeanOutputRenderer
  extends Widget
  implements IRenderMime.IRenderer
{
  private _view: GoalsView | MessagesView | null = null;

  constructor(private readonly _findKernel: KernelFinder) {
    super();
    this.addClass('jl-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._view?.dispose();
    this._view = null;
    this.node.textContent = '';
    this.node.classList.remove(...VIEW_CLASSES);
    const payload = parsePayload(model.data[LEAN_OUTPUT_MIME]);
    if (payload === null) {
      const text = this.node.ownerDocument.createElement('pre');
      const plain = model.data['text/plain'];
      text.textContent = typeof plain === 'string' ? plain : '';
      this.node.appendChild(text);
      return;
    }
    const ask =
      payload.rpc === null ? null : (ref: RpcRef) => this._ask(payload, ref);
    this._view =
      payload.kind === 'goals'
        ? new GoalsView(this.node, payload, ask)
        : new MessagesView(this.node, payload, ask);
  }

  dispose(): void {
    this._view?.dispose();
    super.dispose();
  }

  private _ask(payload: ILeanPayload, ref: RpcRef): Promise<RpcAnswer> {
    const kernel = this._findKernel(this.node);
    if (kernel === null || payload.rpc === null) {
      return Promise.resolve({ kind: 'ended', message: 'no kernel' });
    }
    return kernelRpc(kernel).call(
      payload.rpc,
      INFO_TO_INTERACTIVE,
      ref,
      payload.position
    );
  }
}

/** The former name, when the renderer showed goals only. */
export const LeanGoalsRenderer = LeanOutputRenderer;

/** Before text/markdown (60): JupyterLab shows the interactive rendering. */
export const RENDERER_RANK = 55;

export function leanOutputRendererFactory(
  findKernel: KernelFinder
): IRenderMime.IRendererFactory {
  return {
    safe: true, // it only ever sets text: untrusted notebooks may use it
    mimeTypes: [LEAN_OUTPUT_MIME],
    defaultRank: RENDERER_RANK,
    createRenderer: () => new LeanOutputRenderer(findKernel)
  };
}

/** The former name, when the renderer showed goals only. */
export const goalsRendererFactory = leanOutputRendererFactory;
