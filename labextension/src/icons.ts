import { LabIcon } from '@jupyterlab/ui-components';

import leanSvg from '../style/icons/lean.svg';

export const leanIcon = new LabIcon({
  name: 'jupyter-lean:lean',
  svgstr: leanSvg
});
