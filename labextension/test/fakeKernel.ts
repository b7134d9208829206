import type { KernelMessage } from '@jupyterlab/services';

import { ICommLike, IKernelLike } from '../src/outputs/kernelRpc';

/** A comm of the outputs' RPC client, as a test drives it: what was sent, and replies. */
export class FakeComm implements ICommLike {
  isDisposed = false;
  opened = 0;
  sent: unknown[] = [];
  onMsg: (msg: KernelMessage.ICommMsgMsg) => void = () => undefined;
  onClose: (msg: KernelMessage.ICommCloseMsg) => void = () => undefined;
  open(): void {
    this.opened++;
  }
  send(data: unknown): void {
    this.sent.push(data);
  }
  reply(data: unknown): void {
    // Only the content's data is read: the rest of the message is left out.
    this.onMsg({
      content: { comm_id: 'c', data }
    } as unknown as KernelMessage.ICommMsgMsg);
  }
  close(): void {
    this.onClose({} as KernelMessage.ICommCloseMsg);
  }
  dispose(): void {
    this.isDisposed = true;
  }
}

/** A kernel connection that hands out FakeComms and notes their targets. */
export class FakeKernel implements IKernelLike {
  isDisposed = false;
  comms: FakeComm[] = [];
  targets: string[] = [];
  createComm(target: string): FakeComm {
    this.targets.push(target);
    const comm = new FakeComm();
    this.comms.push(comm);
    return comm;
  }
}
