import { IProjectModel } from '../lsp/sessionApi';

/**
 * Which Lean project a Jupyter path belongs to, and the `file:` URI of its
 * Lean document. The server only accepts URIs inside the session's project.
 */

export const DEFAULT_PROJECT = 'default';

/** Folder (inside a project) holding the virtual documents of notebooks. */
export const NOTEBOOK_FOLDER = '.jupyter-lean';

/** Normalise to forward slashes without a trailing one. */
export function normalizePath(path: string): string {
  const slashed = path.replace(/\\/g, '/');
  return slashed.length > 1 ? slashed.replace(/\/+$/, '') : slashed;
}

/** Absolute server path of a path relative to the Jupyter root. */
export function absolutePath(serverRoot: string, relativePath: string): string {
  const root = normalizePath(serverRoot);
  const relative = normalizePath(relativePath).replace(/^\/+/, '');
  if (!relative) {
    return root;
  }
  return root === '/' ? '/' + relative : `${root}/${relative}`;
}

/** Whether `path` is `folder` or inside it. */
export function isInside(path: string, folder: string): boolean {
  const p = normalizePath(path);
  const f = normalizePath(folder);
  return p === f || p.startsWith(f === '/' ? '/' : f + '/');
}

/**
 * The project containing `path` (the deepest one, projects may nest), else
 * the default project, else the first.
 */
export function projectForPath(
  path: string,
  projects: readonly IProjectModel[]
): IProjectModel | null {
  let best: IProjectModel | null = null;
  for (const project of projects) {
    if (
      isInside(path, project.path) &&
      (!best ||
        normalizePath(project.path).length > normalizePath(best.path).length)
    ) {
      best = project;
    }
  }
  return (
    best ??
    projects.find(project => project.name === DEFAULT_PROJECT) ??
    projects[0] ??
    null
  );
}

/** `file:` URI of an absolute path, each segment percent-encoded. */
export function fileUri(path: string): string {
  const normalized = normalizePath(path);
  const absolute = normalized.startsWith('/') ? normalized : '/' + normalized;
  return (
    'file://' +
    absolute
      .split('/')
      .map(segment => encodeURIComponent(segment))
      .join('/')
  );
}

/**
 * URI of a notebook's virtual Lean document:
 * `{project}/.jupyter-lean/{notebook path}.lean`, with the notebook path
 * taken relative to the project when the notebook lies in it (for the
 * default project, which is the Jupyter root, that is the Jupyter path).
 */
export function notebookDocumentUri(
  project: IProjectModel,
  serverRoot: string,
  notebookPath: string
): string {
  const absolute = absolutePath(serverRoot, notebookPath);
  const relative = isInside(absolute, project.path)
    ? absolute.slice(normalizePath(project.path).length).replace(/^\/+/, '')
    : normalizePath(notebookPath).replace(/^\/+/, '');
  return fileUri(
    `${normalizePath(project.path)}/${NOTEBOOK_FOLDER}/${relative}.lean`
  );
}

/** URI of a `.lean` file opened in the file editor: the real file. */
export function fileDocumentUri(serverRoot: string, filePath: string): string {
  return fileUri(absolutePath(serverRoot, filePath));
}
