import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';

import { leanIcon } from '../icons';
import { SessionsPanel } from './sessionsPanel';

export const OPEN_SESSIONS_COMMAND = 'jupyter-lean:open-sessions';

/**
 * "Lean Sessions" from the launcher and the command palette: the sessions
 * console in a main-area panel (one at a time; opening it again shows it).
 */
export const sessionsPlugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-lean/labextension:sessions',
  description: 'The Lean sessions console as a JupyterLab panel.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const tracker = new WidgetTracker<SessionsPanel>({
      namespace: 'jupyter-lean-sessions'
    });
    app.commands.addCommand(OPEN_SESSIONS_COMMAND, {
      label: 'Lean Sessions',
      caption: 'Lean sessions on this server and their live traffic',
      icon: leanIcon,
      execute: () => {
        let panel = tracker.currentWidget;
        if (!panel || panel.isDisposed) {
          panel = new SessionsPanel(PageConfig.getBaseUrl());
          void tracker.add(panel);
          app.shell.add(panel, 'main');
        }
        app.shell.activateById(panel.id);
        return panel;
      }
    });
    launcher?.add({
      command: OPEN_SESSIONS_COMMAND,
      category: 'Other',
      rank: 50
    });
    palette?.addItem({ command: OPEN_SESSIONS_COMMAND, category: 'Lean' });
    if (restorer) {
      void restorer.restore(tracker, {
        command: OPEN_SESSIONS_COMMAND,
        name: () => 'lean-sessions'
      });
    }
  }
};
