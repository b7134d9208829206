/**
 * Exponential reconnect delays with jitter: first try quickly (a network blip
 * or a server restart), then back off so a down server is not hammered, and
 * spread many tabs' retries apart.
 */
export interface IBackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** Fraction of the delay added or removed at random (0..1). */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  constructor(options: IBackoffOptions = {}) {
    this._initialMs = options.initialMs ?? 500;
    this._maxMs = options.maxMs ?? 30000;
    this._factor = options.factor ?? 2;
    this._jitter = options.jitter ?? 0.2;
    this._random = options.random ?? Math.random;
  }

  /** Number of delays handed out since the last reset. */
  get attempts(): number {
    return this._attempts;
  }

  /** The delay before the next attempt. */
  next(): number {
    const base = Math.min(
      this._maxMs,
      this._initialMs * Math.pow(this._factor, this._attempts)
    );
    this._attempts++;
    const spread = base * this._jitter * (2 * this._random() - 1);
    return Math.max(0, Math.round(base + spread));
  }

  /** Start over after a success. */
  reset(): void {
    this._attempts = 0;
  }

  private readonly _initialMs: number;
  private readonly _maxMs: number;
  private readonly _factor: number;
  private readonly _jitter: number;
  private readonly _random: () => number;
  private _attempts = 0;
}
