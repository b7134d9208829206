import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Clipboard,
  ICommandPalette,
  IThemeManager
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import {
  EditorExtensionRegistry,
  IEditorExtensionRegistry,
  IEditorLanguageRegistry
} from '@jupyterlab/codemirror';
import type {
  DocumentRegistry,
  IDocumentWidget
} from '@jupyterlab/docregistry';
import type { FileEditor } from '@jupyterlab/fileeditor';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { leanLanguageSupport } from './editor/leanLanguage';
import { LeanEditorRegistry } from './editor/editorRegistry';
import { leanEditorExtension } from './editor/leanEditorExtension';
import { GoalsPanel } from './goals/goalsPanel';
import { GoalsTracker } from './goals/goalsTracker';
import { leanIcon } from './icons';
import { InfoviewBridge } from './infoview/bridge';
import { followCursor } from './infoview/cursor';
import { infoviewAssets } from './infoview/frame';
import { InfoviewPanel } from './infoview/infoviewPanel';
import { LabInfoviewHost } from './infoview/labHost';
import { ILeanServices, LeanDocumentAdapter } from './jupyter/documentAdapter';
import { FileLeanAdapter } from './jupyter/fileEditorAdapter';
import { LeanConnections } from './jupyter/leanConnections';
import { LEAN_LANGUAGE } from './jupyter/leanDetection';
import { markdownRenderer } from './jupyter/markdown';
import { NotebookLeanAdapter } from './jupyter/notebookAdapter';
import { outputsPlugin } from './outputs/plugin';
import { sessionsPlugin } from './console/plugin';
import {
  browserSocketFactory,
  LeanServerApi,
  TabSessionStore
} from './jupyter/serverApi';
import { LeanStatusItem } from './status/statusItem';

const PLUGIN_ID = '@jupyter-lean/labextension';
const GOALS_PANEL_ID = 'jupyter-lean-goals';
const INFOVIEW_PANEL_ID = 'jupyter-lean-infoview';

const CommandIDs = {
  showInfoview: 'jupyter-lean:show-infoview',
  showGoals: 'jupyter-lean:show-goals',
  restartFile: 'jupyter-lean:restart-file',
  reconnect: 'jupyter-lean:reconnect'
} as const;

/**
 * Lean 4 syntax highlighting: the `lean4` language (mime `text/x-lean4`,
 * extension `.lean`), which the kernel's `codemirror_mode: "lean4"` selects,
 * and a `.lean` file type opening in the editor.
 */
const languagePlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_ID}:language`,
  description: 'Lean 4 syntax highlighting and the .lean file type.',
  autoStart: true,
  requires: [IEditorLanguageRegistry],
  activate: (app: JupyterFrontEnd, languages: IEditorLanguageRegistry) => {
    const support = leanLanguageSupport();
    try {
      languages.addLanguage({
        name: LEAN_LANGUAGE,
        displayName: 'Lean 4',
        alias: ['lean'],
        mime: ['text/x-lean4', 'text/x-lean'],
        extensions: ['lean'],
        support,
        load: async () => support
      });
    } catch (error) {
      // Another extension registered Lean already; keep theirs.
      console.warn('jupyter-lean: Lean language already registered', error);
    }
    app.docRegistry.addFileType(
      {
        name: LEAN_LANGUAGE,
        displayName: 'Lean 4 File',
        extensions: ['.lean'],
        mimeTypes: ['text/x-lean4'],
        contentType: 'file',
        fileFormat: 'text',
        icon: leanIcon
      },
      ['Editor']
    );
  }
};

/**
 * Lean support for notebooks with the Lean kernel and `.lean` files:
 * sessions, diagnostics, hover, completion, goals, unicode input, status.
 */
const leanPlugin: JupyterFrontEndPlugin<void> = {
  id: `${PLUGIN_ID}:plugin`,
  description: 'Connects Lean notebooks and .lean files to a Lean server.',
  autoStart: true,
  requires: [IEditorExtensionRegistry, INotebookTracker, IEditorTracker],
  optional: [
    IStatusBar,
    IRenderMimeRegistry,
    IEditorLanguageRegistry,
    ILabShell,
    ILayoutRestorer,
    ICommandPalette,
    IThemeManager
  ],
  activate: (
    app: JupyterFrontEnd,
    editorExtensions: IEditorExtensionRegistry,
    notebooks: INotebookTracker,
    fileEditors: IEditorTracker,
    statusBar: IStatusBar | null,
    rendermime: IRenderMimeRegistry | null,
    languages: IEditorLanguageRegistry | null,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    themes: IThemeManager | null
  ) => {
    const api = new LeanServerApi();
    const connections = new LeanConnections({
      api,
      socketFactory: browserSocketFactory,
      sessionStore: new TabSessionStore(api.settings.baseUrl)
    });
    const registry = new LeanEditorRegistry();
    // Plain goals are fetched only while a plain goals view is visible.
    const goals = new GoalsTracker({ onlyWhenViewed: true });
    const services: ILeanServices = { connections, registry, goals };
    const renderMarkdown = markdownRenderer(rendermime);

    // Every CodeMirror editor gets the (initially empty) Lean extension; it
    // turns itself on when its model belongs to a Lean document.
    editorExtensions.addExtension({
      name: 'jupyter-lean:lean',
      factory: options =>
        EditorExtensionRegistry.createImmutableExtension(
          leanEditorExtension(options.model, { registry, renderMarkdown })
        )
    });

    // One adapter per open document (context), shared by its views.
    const adapters = new Map<DocumentRegistry.Context, LeanDocumentAdapter>();
    const adaptersChanged = new Signal<object, void>(app);
    const track = (
      context: DocumentRegistry.Context,
      create: () => LeanDocumentAdapter
    ) => {
      if (adapters.has(context)) {
        return;
      }
      const adapter = create();
      adapters.set(context, adapter);
      adapter.documentChanged.connect(() => adaptersChanged.emit());
      context.disposed.connect(() => {
        adapters.delete(context);
        adaptersChanged.emit();
      });
    };
    const trackNotebook = (panel: NotebookPanel) =>
      track(panel.context, () => new NotebookLeanAdapter(panel, services));
    const trackFile = (widget: IDocumentWidget<FileEditor>) =>
      track(
        widget.context,
        () =>
          new FileLeanAdapter(
            widget.context as DocumentRegistry.CodeContext,
            services
          )
      );
    notebooks.widgetAdded.connect((_, panel) => trackNotebook(panel));
    notebooks.forEach(trackNotebook);
    fileEditors.widgetAdded.connect((_, widget) => trackFile(widget));
    fileEditors.forEach(trackFile);

    const currentAdapter = (): LeanDocumentAdapter | undefined => {
      const widget = app.shell.currentWidget as Widget & {
        context?: DocumentRegistry.Context;
      };
      return widget?.context ? adapters.get(widget.context) : undefined;
    };

    // Goals side panel.
    // The language is looked up when used: the language plugin may activate
    // after this one.
    const highlight = languages
      ? (code: string, element: HTMLElement) =>
          languages.highlight(
            code,
            languages.findByName(LEAN_LANGUAGE),
            element
          )
      : null;
    const goalsPanel = new GoalsPanel(goals, highlight);
    goalsPanel.id = GOALS_PANEL_ID;
    goalsPanel.title.icon = leanIcon;
    app.shell.add(goalsPanel, 'right', { rank: 650 });
    restorer?.add(goalsPanel, GOALS_PANEL_ID);

    // The infoview side panel: its files load when it is first shown.
    const bridge = new InfoviewBridge(
      new LabInfoviewHost({
        app,
        adapters: () => adapters.values(),
        notebooks,
        fileEditors,
        goals,
        connections,
        copyToClipboard: text => Clipboard.copyToSystem(text)
      })
    );
    followCursor(goals, bridge);
    const infoviewPanel = new InfoviewPanel({
      bridge,
      assets: infoviewAssets(
        PageConfig.getOption('fullLabextensionsUrl'),
        window.location.href
      ),
      createFallback: () => new GoalsPanel(goals, highlight),
      theme: () => ({
        style: getComputedStyle(document.body),
        isLight: !themes?.theme || themes.isLight(themes.theme) !== false
      })
    });
    infoviewPanel.id = INFOVIEW_PANEL_ID;
    infoviewPanel.title.icon = leanIcon;
    app.shell.add(infoviewPanel, 'right', { rank: 640 });
    restorer?.add(infoviewPanel, INFOVIEW_PANEL_ID);
    themes?.themeChanged.connect(() => infoviewPanel.updateTheme());

    // Status bar item following the current document.
    if (statusBar) {
      const item = new LeanStatusItem();
      const activeStateChanged = new Signal<object, void>(item);
      const refresh = () => {
        const adapter = currentAdapter();
        item.setSource(adapter?.document ?? null, adapter?.connection ?? null);
        activeStateChanged.emit();
      };
      statusBar.registerStatusItem(`${PLUGIN_ID}:status`, {
        item,
        align: 'left',
        rank: 4,
        isActive: () => item.hasSource,
        activeStateChanged
      });
      (labShell?.currentChanged ?? app.shell.currentChanged)?.connect(refresh);
      adaptersChanged.connect(refresh);
      connections.healthChanged.connect((_, health) => item.setHealth(health));
      item.node.addEventListener('click', () => {
        void app.commands.execute(CommandIDs.showInfoview);
      });
    }

    app.commands.addCommand(CommandIDs.showInfoview, {
      label: 'Lean: Show Infoview',
      caption: 'Show the Lean infoview: goals, messages and widgets',
      execute: () => app.shell.activateById(INFOVIEW_PANEL_ID)
    });
    app.commands.addCommand(CommandIDs.showGoals, {
      label: 'Lean: Show Goals',
      caption: 'Show the Lean goals at the cursor',
      execute: () => {
        app.shell.activateById(GOALS_PANEL_ID);
        goals.refresh();
      }
    });
    app.commands.addCommand(CommandIDs.restartFile, {
      label: 'Lean: Restart File (rebuild imports)',
      isEnabled: () => !!currentAdapter()?.document,
      execute: () => currentAdapter()?.document?.restart()
    });
    app.commands.addCommand(CommandIDs.reconnect, {
      label: 'Lean: Reconnect to the Lean Server',
      isEnabled: () => !!currentAdapter()?.connection,
      execute: () => currentAdapter()?.connection?.reconnectNow()
    });
    for (const command of Object.values(CommandIDs)) {
      palette?.addItem({ command, category: 'Lean' });
    }
  }
};

export default [languagePlugin, leanPlugin, outputsPlugin, sessionsPlugin];
