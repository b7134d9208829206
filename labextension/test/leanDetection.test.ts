import { describe, expect, it } from 'vitest';

import {
  isLeanFilePath,
  isLeanKernel,
  isLeanMetadata,
  isLeanNotebook
} from '../src/jupyter/leanDetection';

const LEAN_METADATA = {
  kernelspec: { name: 'lean4', language: 'lean4', display_name: 'Lean 4' },
  language_info: { name: 'lean4' }
};
const PYTHON_METADATA = {
  kernelspec: { name: 'python3', language: 'python' },
  language_info: { name: 'python' }
};

describe('which notebooks are Lean notebooks', () => {
  it('knows the Lean kernel by its language or its name', () => {
    expect(isLeanKernel({ name: 'lean4', language: 'lean4' })).toBe(true);
    expect(isLeanKernel({ name: 'my-lean', language: 'Lean4' })).toBe(true);
    expect(isLeanKernel({ name: 'lean4' })).toBe(true);
    expect(isLeanKernel({ name: 'python3', language: 'python' })).toBe(false);
    expect(isLeanKernel(null)).toBe(false);
    expect(isLeanKernel(undefined)).toBe(false);
  });

  it('reads the saved kernelspec or language_info', () => {
    expect(isLeanMetadata(LEAN_METADATA)).toBe(true);
    expect(isLeanMetadata({ language_info: { name: 'LEAN4' } })).toBe(true);
    expect(isLeanMetadata({ kernelspec: { name: 'lean4' } })).toBe(true);
    expect(isLeanMetadata(PYTHON_METADATA)).toBe(false);
    expect(isLeanMetadata({})).toBe(false);
    expect(isLeanMetadata({ kernelspec: null, language_info: null })).toBe(
      false
    );
  });

  it('lets the live kernel decide over the saved metadata', () => {
    expect(isLeanNotebook({ name: 'python3' }, LEAN_METADATA)).toBe(false);
    expect(isLeanNotebook({ name: 'lean4' }, PYTHON_METADATA)).toBe(true);
  });

  it('uses the metadata when no kernel runs', () => {
    expect(isLeanNotebook(null, LEAN_METADATA)).toBe(true);
    expect(isLeanNotebook(null, PYTHON_METADATA)).toBe(false);
  });

  it('gives .lean files Lean support, whatever the case', () => {
    expect(isLeanFilePath('Main.lean')).toBe(true);
    expect(isLeanFilePath('src/Proofs/Basic.LEAN')).toBe(true);
    expect(isLeanFilePath('notes.lean.md')).toBe(false);
    expect(isLeanFilePath('lean')).toBe(false);
  });
});
