import { URLExt } from '@jupyterlab/coreutils';

/** Path of the sessions console page under the server's base URL. */
export const CONSOLE_PATH = 'lean/console';

/** The console page's URL under `baseUrl` (the Jupyter server's base URL). */
export function consoleUrl(baseUrl: string): string {
  return URLExt.join(baseUrl, CONSOLE_PATH);
}
