/**
 * The infoview is styled with VS Code's theme variables; these are filled
 * from JupyterLab's own (`--jp-*`), read from the page, so the infoview
 * follows the light and dark themes.
 */
const VSCODE_FROM_JUPYTER: Record<string, string> = {
  'font-family': 'jp-ui-font-family',
  'font-size': 'jp-ui-font-size1',
  'font-weight': '',
  foreground: 'jp-ui-font-color1',
  'editor-foreground': 'jp-content-font-color1',
  'editor-background': 'jp-layout-color1',
  'editor-font-family': 'jp-code-font-family',
  'editor-font-size': 'jp-code-font-size',
  'editor-font-weight': '',
  'editor-line-height': 'jp-code-line-height',
  'editor-selectionBackground': 'jp-editor-selected-background',
  'editor-findMatchBackground': 'jp-search-selected-match-background-color',
  'sideBar-background': 'jp-layout-color1',
  'panel-background': 'jp-layout-color1',
  focusBorder: 'jp-brand-color1',
  errorForeground: 'jp-error-color1',
  'textLink-foreground': 'jp-content-link-color',
  'textPreformat-foreground': 'jp-content-font-color1',
  'textCodeBlock-background': 'jp-layout-color2',
  'editorHoverWidget-background': 'jp-layout-color1',
  'editorHoverWidget-foreground': 'jp-ui-font-color1',
  'editorHoverWidget-border': 'jp-border-color1',
  'editorWidget-border': 'jp-border-color1',
  'editorGroup-border': 'jp-border-color2',
  'widget-shadow': 'jp-shadow-base-lightness',
  'list-hoverBackground': 'jp-layout-color2',
  'list-activeSelectionBackground': 'jp-brand-color3',
  'list-activeSelectionForeground': 'jp-ui-font-color0',
  'button-background': 'jp-brand-color1',
  'button-foreground': 'jp-ui-inverse-font-color1',
  'button-hoverBackground': 'jp-brand-color0',
  'button-secondaryBackground': 'jp-layout-color3',
  'button-secondaryForeground': 'jp-ui-font-color1',
  'button-secondaryHoverBackground': 'jp-layout-color4',
  'input-placeholderForeground': 'jp-ui-font-color3',
  'settings-textInputBackground': 'jp-input-background',
  'settings-textInputForeground': 'jp-ui-font-color1',
  'settings-textInputBorder': 'jp-input-border-color',
  'settings-checkboxBackground': 'jp-input-background',
  'settings-dropdownBackground': 'jp-input-background',
  'settings-dropdownBorder': 'jp-input-border-color',
  'dropdown-background': 'jp-input-background',
  'dropdown-foreground': 'jp-ui-font-color1',
  'dropdown-border': 'jp-input-border-color',
  'menu-background': 'jp-layout-color1',
  'menu-foreground': 'jp-ui-font-color1',
  'menu-selectionBackground': 'jp-layout-color2',
  'menu-border': 'jp-border-color1',
  'inputValidation-errorBackground': 'jp-error-color3',
  'inputValidation-errorBorder': 'jp-error-color1',
  'diffEditor-insertedTextBackground': 'jp-success-color3',
  'diffEditor-removedTextBackground': 'jp-error-color3',
  'badge-background': 'jp-brand-color1',
  'badge-foreground': 'jp-ui-inverse-font-color1',
  'icon-foreground': 'jp-ui-font-color1',
  'scrollbarSlider-background': 'jp-scrollbar-thumb-color',
  'scrollbarSlider-hoverBackground': 'jp-scrollbar-thumb-color',
  'scrollbarSlider-activeBackground': 'jp-scrollbar-thumb-color',
  'progressBar-background': 'jp-brand-color1',
  disabledForeground: 'jp-ui-font-color3'
};

/** CSS text for the infoview's frame: VS Code variables from `style`. */
export function infoviewThemeCss(
  style: Pick<CSSStyleDeclaration, 'getPropertyValue'>,
  isLight: boolean
): string {
  const lines: string[] = [];
  for (const [vscode, jupyter] of Object.entries(VSCODE_FROM_JUPYTER)) {
    // An empty mapping is a weight: 'normal'. A variable the theme lacks is
    // left out, so the infoview's own fallback applies.
    const value = jupyter
      ? style.getPropertyValue(`--${jupyter}`).trim()
      : 'normal';
    if (value) {
      lines.push(`  --vscode-${vscode}: ${value};`);
    }
  }
  return [
    ':root {',
    ...lines,
    `  color-scheme: ${isLight ? 'light' : 'dark'};`,
    '}',
    'body {',
    '  background: var(--vscode-editor-background);',
    '  color: var(--vscode-foreground);',
    '  font-family: var(--vscode-font-family);',
    '  font-size: var(--vscode-font-size);',
    '}',
    // Code in goals and messages uses the notebook's code font.
    '.font-code { font-family: var(--vscode-editor-font-family); font-size: var(--vscode-editor-font-size); }'
  ].join('\n');
}
