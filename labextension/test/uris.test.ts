import { describe, expect, it } from 'vitest';

import {
  absolutePath,
  fileDocumentUri,
  fileUri,
  notebookDocumentUri,
  projectForPath
} from '../src/document/uris';

const projects = [
  { name: 'default', path: '/home/u', lakefile: false },
  { name: 'mathlib-play', path: '/home/u/play', lakefile: true }
];

describe('document URIs', () => {
  it('joins Jupyter paths to the server root', () => {
    expect(absolutePath('/home/u', 'nb.ipynb')).toBe('/home/u/nb.ipynb');
    expect(absolutePath('/home/u/', '/sub/nb.ipynb')).toBe(
      '/home/u/sub/nb.ipynb'
    );
    expect(absolutePath('/', 'x.lean')).toBe('/x.lean');
  });

  it('picks the deepest project containing a path, else the default one', () => {
    expect(projectForPath('/home/u/play/A.lean', projects)!.name).toBe(
      'mathlib-play'
    );
    expect(projectForPath('/home/u/player.lean', projects)!.name).toBe(
      'default'
    );
    expect(projectForPath('/elsewhere/x.lean', projects)!.name).toBe('default');
  });

  it('puts notebooks under .jupyter-lean of their project', () => {
    expect(
      notebookDocumentUri(projects[0], '/home/u', 'work/My Notebook.ipynb')
    ).toBe('file:///home/u/.jupyter-lean/work/My%20Notebook.ipynb.lean');
    expect(notebookDocumentUri(projects[1], '/home/u', 'play/nb.ipynb')).toBe(
      'file:///home/u/play/.jupyter-lean/nb.ipynb.lean'
    );
  });

  it('uses the real file for .lean files', () => {
    expect(fileDocumentUri('/home/u', 'play/Main.lean')).toBe(
      'file:///home/u/play/Main.lean'
    );
    expect(fileUri('/a b/ü#.lean')).toBe('file:///a%20b/%C3%BC%23.lean');
  });
});
