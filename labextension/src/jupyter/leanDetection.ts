/**
 * Whether a notebook is a Lean notebook.
 *
 * The live kernel decides when there is one; otherwise the notebook's saved
 * metadata does, so a Lean notebook opened without its kernel (not installed,
 * or "No Kernel" chosen) still gets diagnostics and completion.
 */

export const LEAN_LANGUAGE = 'lean4';
export const LEAN_KERNEL_NAME = 'lean4';

export interface IKernelDescription {
  name?: string;
  language?: string;
}

export interface INotebookLanguageMetadata {
  kernelspec?: { name?: string; language?: string } | null;
  language_info?: { name?: string } | null;
}

export function isLeanKernel(
  kernel: IKernelDescription | null | undefined
): boolean {
  if (!kernel) {
    return false;
  }
  return (
    kernel.language?.toLowerCase() === LEAN_LANGUAGE ||
    kernel.name === LEAN_KERNEL_NAME
  );
}

export function isLeanMetadata(metadata: INotebookLanguageMetadata): boolean {
  return (
    isLeanKernel(metadata.kernelspec ?? null) ||
    metadata.language_info?.name?.toLowerCase() === LEAN_LANGUAGE
  );
}

export function isLeanNotebook(
  liveKernel: IKernelDescription | null,
  metadata: INotebookLanguageMetadata
): boolean {
  return liveKernel ? isLeanKernel(liveKernel) : isLeanMetadata(metadata);
}

/** `.lean` files get Lean support in the file editor. */
export function isLeanFilePath(path: string): boolean {
  return path.toLowerCase().endsWith('.lean');
}
