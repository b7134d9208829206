import { describe, expect, it } from 'vitest';

import { infoviewThemeCss } from '../src/infoview/theme';

/** A computed style with only the given JupyterLab variables set. */
function style(variables: Record<string, string>) {
  return { getPropertyValue: (name: string) => variables[name] ?? '' };
}

describe("the infoview's theme", () => {
  it("fills VS Code's variables from JupyterLab's", () => {
    const css = infoviewThemeCss(
      style({
        '--jp-layout-color1': ' #111111 ',
        '--jp-ui-font-color1': 'rgba(255, 255, 255, 0.87)',
        '--jp-code-font-family': "'Source Code Pro', monospace"
      }),
      false
    );
    expect(css).toContain('  --vscode-editor-background: #111111;');
    expect(css).toContain('  --vscode-sideBar-background: #111111;');
    expect(css).toContain('  --vscode-foreground: rgba(255, 255, 255, 0.87);');
    expect(css).toContain(
      "  --vscode-editor-font-family: 'Source Code Pro', monospace;"
    );
  });

  it('leaves out variables the theme lacks, so the fallbacks apply', () => {
    const css = infoviewThemeCss(style({}), true);
    expect(css).not.toContain('--vscode-editor-background:');
    expect(css).not.toContain('--vscode-foreground:');
  });

  it('sets font weights to normal', () => {
    const css = infoviewThemeCss(style({}), true);
    expect(css).toContain('  --vscode-font-weight: normal;');
    expect(css).toContain('  --vscode-editor-font-weight: normal;');
  });

  it('says whether the theme is light or dark', () => {
    expect(infoviewThemeCss(style({}), true)).toContain('color-scheme: light;');
    expect(infoviewThemeCss(style({}), false)).toContain('color-scheme: dark;');
  });

  it('is one :root rule and the page rules, nothing else', () => {
    const css = infoviewThemeCss(style({ '--jp-brand-color1': 'blue' }), true);
    expect(css.startsWith(':root {\n')).toBe(true);
    expect(css).toContain('body {');
    expect(css).toContain('.font-code {');
    expect(css.match(/\{/g)).toHaveLength(3);
  });
});
