import { describe, expect, it } from 'vitest';

import { consoleUrl } from '../src/console/url';

describe('Lean Sessions panel', () => {
  it('points at the console page under the base URL', () => {
    expect(consoleUrl('/')).toBe('/lean/console');
    expect(consoleUrl('/user/alice/')).toBe('/user/alice/lean/console');
    expect(consoleUrl('http://127.0.0.1:8888/a%40b/')).toBe(
      'http://127.0.0.1:8888/a%40b/lean/console'
    );
  });
});
