// SVG files are bundled as strings by the JupyterLab builder.
declare module '*.svg' {
  const svg: string;
  export default svg;
}
