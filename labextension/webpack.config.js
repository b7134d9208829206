// Ships @leanprover/infoview's prebuilt files in the labextension's static
// folder (no CDN: users may be offline). They are not bundled: the infoview
// panel loads them into its own frame, with their own React, only when it
// first opens.
const fs = require('fs');
const path = require('path');

const infoviewPackage = require('@leanprover/infoview/package.json');
const infoviewDist = path.join(
  path.dirname(require.resolve('@leanprover/infoview/package.json')),
  'dist'
);
const INFOVIEW_FILES = [
  'loader.production.min.js',
  'index.production.min.js',
  'react.production.min.js',
  'react-jsx-runtime.production.min.js',
  'react-dom.production.min.js',
  'index.css',
  'codicon.ttf'
];

// The builder runs rspack; its API is taken from the compiler, so this works
// with webpack as well.
class EmitInfoviewAssets {
  apply(compiler) {
    const { Compilation, DefinePlugin, sources } = compiler.webpack;
    // The folder name below, for the panel's URLs.
    new DefinePlugin({
      JUPYTER_LEAN_INFOVIEW_VERSION: JSON.stringify(infoviewPackage.version)
    }).apply(compiler);
    compiler.hooks.thisCompilation.tap('EmitInfoviewAssets', compilation => {
      compilation.hooks.processAssets.tap(
        {
          name: 'EmitInfoviewAssets',
          stage: Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL
        },
        () => {
          for (const file of INFOVIEW_FILES) {
            const source = path.join(infoviewDist, file);
            compilation.fileDependencies.add(source);
            compilation.emitAsset(
              `infoview-${infoviewPackage.version}/${file}`,
              new sources.RawSource(fs.readFileSync(source))
            );
          }
        }
      );
    });
  }
}

module.exports = {
  plugins: [new EmitInfoviewAssets()]
};
