import { describe, expect, it } from 'vitest';

import { Backoff } from '../src/lsp/backoff';

function delays(backoff: Backoff, count: number): number[] {
  return Array.from({ length: count }, () => backoff.next());
}

describe('reconnect backoff', () => {
  it('starts quickly and doubles up to the cap', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect(delays(backoff, 6)).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoff.attempts).toBe(6);
  });

  it('waits half a second first and at most 30 s by default', () => {
    const backoff = new Backoff({ jitter: 0 });
    const all = delays(backoff, 12);
    expect(all[0]).toBe(500);
    expect(all.at(-1)).toBe(30000);
    expect(Math.max(...all)).toBe(30000);
  });

  it('starts over after a reset', () => {
    const backoff = new Backoff({ initialMs: 100, factor: 3, jitter: 0 });
    expect(delays(backoff, 3)).toEqual([100, 300, 900]);
    backoff.reset();
    expect(backoff.attempts).toBe(0);
    expect(backoff.next()).toBe(100);
  });

  it('spreads each delay by at most the jitter fraction, both ways', () => {
    const extremes = [0, 1, 0.5];
    let call = 0;
    const backoff = new Backoff({
      initialMs: 1000,
      maxMs: 1000,
      jitter: 0.2,
      random: () => extremes[call++ % extremes.length]
    });
    expect(delays(backoff, 3)).toEqual([800, 1200, 1000]);
  });

  it('never hands out a negative delay, whatever the jitter', () => {
    const backoff = new Backoff({ initialMs: 10, jitter: 5, random: () => 0 });
    expect(delays(backoff, 4).every(delay => delay >= 0)).toBe(true);
  });

  it('keeps random delays within their band', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 3200 });
    for (let attempt = 0; attempt < 50; attempt++) {
      const base = Math.min(3200, 100 * 2 ** attempt);
      const delay = backoff.next();
      expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
      expect(delay).toBeLessThanOrEqual(Math.ceil(base * 1.2));
    }
  });
});
