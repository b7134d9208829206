import { Widget } from '@lumino/widgets';

import { consoleUrl } from './url';

/**
 * "Lean Sessions": the server's sessions console (`GET /lean/console`) in
 * the main area. The page is the extension's own, from the same server and
 * origin, authenticated by the login cookie like every JupyterLab request;
 * it runs in its frame so its script and styles stay out of JupyterLab's.
 */
export class SessionsPanel extends Widget {
  readonly frame: HTMLIFrameElement;

  constructor(baseUrl: string) {
    super();
    this.id = 'jupyter-lean-sessions';
    this.title.label = 'Lean Sessions';
    this.title.caption = 'Lean sessions on this server and their live traffic';
    this.title.closable = true;
    this.addClass('jp-LeanSessionsPanel');
    this.frame = document.createElement('iframe');
    this.frame.title = 'Lean Sessions';
    this.frame.src = consoleUrl(baseUrl);
    this.frame.style.border = '0';
    this.frame.style.width = '100%';
    this.frame.style.height = '100%';
    this.node.style.overflow = 'hidden';
    this.node.appendChild(this.frame);
  }

  /** Load the page again (new sessions, a new login). */
  reload(): void {
    const src = this.frame.src;
    this.frame.src = 'about:blank';
    this.frame.src = src;
  }
}
