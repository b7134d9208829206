import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';

import { IKernelLike } from './kernelRpc';
import { leanOutputRendererFactory, RENDERER_RANK } from './renderer';
import { addOutputStyle } from './style';

/**
 * The Lean kernel's interactive goals and messages in cell outputs: a MIME
 * renderer for `application/vnd.jupyter-lean.infoview+json`, whose hovers go
 * to the kernel of the notebook the output is in.
 */
export const outputsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-lean/labextension:outputs',
  description:
    "Renders the Lean kernel's interactive goals and messages in cell outputs.",
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [INotebookTracker],
  activate: (
    _app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    notebooks: INotebookTracker | null
  ) => {
    addOutputStyle();
    const findKernel = (node: HTMLElement): IKernelLike | null => {
      const panel = notebooks?.find(panel => panel.node.contains(node));
      return panel?.sessionContext.session?.kernel ?? null;
    };
    rendermime.addFactory(leanOutputRendererFactory(findKernel), RENDERER_RANK);
  }
};
