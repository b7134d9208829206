const STYLE_ID = 'jupyter-lean-output-style';

const CSS = `
.jl-output.jl-goals { font-family: var(--jp-code-font-family);
  font-size: var(--jp-code-font-size); line-height: var(--jp-code-line-height);
  padding: 2px 0; }
.jl-goals-title { font-family: var(--jp-ui-font-family); font-weight: bold;
  margin-bottom: 4px; }
.jl-goal { white-space: pre-wrap; margin-bottom: 6px; }
.jl-goal-case { font-weight: bold; }
.jl-hyp-names { color: var(--jp-mirror-editor-variable-color, #05a); }
.jl-subterm.jl-hovered { background: var(--jp-brand-color3, #bbdefb);
  border-radius: 2px; cursor: default; }
.jl-popup { position: fixed; z-index: 10000; max-width: 60em; padding: 4px 8px;
  background: var(--jp-layout-color1); color: var(--jp-ui-font-color1);
  border: 1px solid var(--jp-border-color1); box-shadow: var(--jp-elevation-z4);
  white-space: pre-wrap; }
.jl-popup-type { font-family: var(--jp-code-font-family); }
.jl-popup-doc { font-family: var(--jp-content-font-family); margin-top: 4px; }
`;

/** The outputs' stylesheet, added once (fixed text: nothing of Lean's). */
export function addOutputStyle(doc: Document = document): void {
  if (doc.getElementById(STYLE_ID) !== null) {
    return;
  }
  const style = doc.createElement('style');
  style.id = STYLE_ID;
  style.textContent = CSS;
  doc.head.appendChild(style);
}
