import type { KernelMessage } from '@jupyterlab/services';

import { IRpcTarget, RpcRef } from './payload';

/** The comm target of the kernel's RPC relay (`lean_kernel/interactive.py`). */
export const RPC_COMM_TARGET = 'jupyter_lean.rpc';
export const INFO_TO_INTERACTIVE =
  'Lean.Widget.InteractiveDiagnostics.infoToInteractive';
export const RPC_TIMEOUT_MS = 20000;

/** What a relayed call came to. `ended`: the output's Lean session is gone. */
export type RpcAnswer =
  | { kind: 'result'; result: unknown }
  | { kind: 'ended'; message: string }
  | { kind: 'error'; message: string };

/** The parts of a JupyterLab comm this client uses. */
export interface ICommLike {
  readonly isDisposed: boolean;
  open(data?: unknown): unknown;
  send(data: unknown): unknown;
  onMsg: (msg: KernelMessage.ICommMsgMsg) => void | PromiseLike<void>;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void | PromiseLike<void>;
  dispose(): void;
}

/** The parts of a JupyterLab kernel connection this client uses. */
export interface IKernelLike {
  readonly isDisposed: boolean;
  createComm(targetName: string): ICommLike;
}

interface IPending {
  resolve(answer: RpcAnswer): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Calls relayed by one kernel to its Lean, over one comm opened on first
 * use (and again after a kernel restart disposed it). Replies are matched by
 * id; a closed comm or a reply that does not come in time settles the call.
 */
export class KernelRpc {
  private _comm: ICommLike | null = null;
  private _nextId = 1;
  private _pending = new Map<number, IPending>();

  constructor(
    private readonly _kernel: IKernelLike,
    private readonly _timeoutMs = RPC_TIMEOUT_MS
  ) {}

  call(
    target: IRpcTarget,
    method: string,
    params: RpcRef,
    position: { line: number; character: number }
  ): Promise<RpcAnswer> {
    if (this._kernel.isDisposed) {
      return Promise.resolve({ kind: 'ended', message: 'the kernel is gone' });
    }
    const comm = this._open();
    const id = this._nextId++;
    return new Promise<RpcAnswer>(resolve => {
      const timer = setTimeout(() => {
        this._settle(id, {
          kind: 'error',
          message: 'the kernel did not answer in time'
        });
      }, this._timeoutMs);
      this._pending.set(id, { resolve, timer });
      try {
        comm.send({
          id,
          kernel: target.kernel,
          session: target.session,
          method,
          params,
          position
        });
      } catch (error) {
        this._settle(id, { kind: 'ended', message: String(error) });
      }
    });
  }

  dispose(): void {
    this._closeAll('the page stopped asking');
    this._comm?.dispose();
    this._comm = null;
  }

  private _open(): ICommLike {
    if (this._comm !== null && !this._comm.isDisposed) {
      return this._comm;
    }
    // A restarted kernel disposed the old comm (and answers nothing on it).
    this._closeAll('the kernel restarted');
    const comm = this._kernel.createComm(RPC_COMM_TARGET);
    comm.onMsg = msg => this._received(msg?.content?.data);
    comm.onClose = () => {
      if (this._comm === comm) {
        this._comm = null;
      }
      this._closeAll('the kernel closed the connection');
    };
    comm.open({});
    this._comm = comm;
    return comm;
  }

  private _received(data: unknown): void {
    if (!isRecord(data) || typeof data.id !== 'number') {
      return;
    }
    const error = data.error;
    if (isRecord(error)) {
      const message = String(error.message ?? 'error');
      this._settle(
        data.id,
        error.ended === true
          ? { kind: 'ended', message }
          : { kind: 'error', message }
      );
    } else {
      this._settle(data.id, { kind: 'result', result: data.result });
    }
  }

  private _settle(id: number, answer: RpcAnswer): void {
    const pending = this._pending.get(id);
    if (pending === undefined) {
      return;
    }
    this._pending.delete(id);
    clearTimeout(pending.timer);
    pending.resolve(answer);
  }

  private _closeAll(message: string): void {
    for (const id of [...this._pending.keys()]) {
      this._settle(id, { kind: 'ended', message });
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

const clients = new WeakMap<IKernelLike, KernelRpc>();

/** The one client of a kernel connection. */
export function kernelRpc(kernel: IKernelLike): KernelRpc {
  let client = clients.get(kernel);
  if (client === undefined) {
    client = new KernelRpc(kernel);
    clients.set(kernel, client);
  }
  return client;
}
