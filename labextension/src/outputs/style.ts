const STYLE_ID = 'jupyter-lean-output-style';

const CSS = `
.jl-output.jl-goals, .jl-output.jl-messages {
  font-family: var(--jp-code-font-family); font-size: var(--jp-code-font-size);
  line-height: var(--jp-code-line-height); padding: 2px 0; }
.jl-goals-title { font-family: var(--jp-ui-font-family); font-weight: bold;
  margin-bottom: 4px; }
.jl-goal { white-space: pre-wrap; margin-bottom: 6px; }
.jl-goal-case { font-weight: bold; }
.jl-hyp-names { color: var(--jp-mirror-editor-variable-color, #05a); }
.jl-messages-title { font-family: var(--jp-ui-font-family); font-weight: bold;
  margin-bottom: 4px; }
.jl-message { margin-bottom: 6px; padding-left: 6px;
  border-left: 3px solid var(--jl-severity-color); }
.jl-message[data-severity="error"] { --jl-severity-color: var(--jp-error-color1); }
.jl-message[data-severity="warning"] { --jl-severity-color: var(--jp-warn-color1); }
.jl-message[data-severity="info"] { --jl-severity-color: var(--jp-info-color1); }
.jl-message[data-severity="hint"] { --jl-severity-color: var(--jp-success-color1); }
.jl-message-where { font-family: var(--jp-ui-font-family);
  color: var(--jp-ui-font-color2); }
.jl-message-severity { color: var(--jl-severity-color); font-weight: bold; }
.jl-message-body { white-space: pre-wrap; }
.jl-message-body .jl-goal { margin: 2px 0; }
.jl-trace-children { padding-left: 2ch; }
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
