import { Text } from '@codemirror/state';

/**
 * The kernel's magic lines (`lean_kernel/magics.py`, `split_magics`): lines
 * starting with `%` at the top of a cell, before its first line of Lean code.
 * Blank lines and `--` comment lines may come between them; any other line
 * ends the header (a `%` further down is Lean's modulo operator). The kernel
 * replaces them by empty lines before Lean sees the cell, so the live editor
 * does the same: Lean never reports on them and line numbers stay put.
 */
export interface IMagicMask {
  /** Line numbers (0-based, ascending) of the magic lines. */
  lines: readonly number[];
}

export const NO_MAGICS: IMagicMask = { lines: [] };

// Python's str.strip() whitespace (str.isspace), which JavaScript's trim()
// does not match exactly (it lacks \x1c-\x1f and \x85, and adds \ufeff).
const PYTHON_SPACE =
  '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const LEADING_SPACE = new RegExp(`^[${PYTHON_SPACE}]+`);
const ONLY_SPACE = new RegExp(`^[${PYTHON_SPACE}]*$`);

/** The magic lines of a cell's text; scans the header only. */
export function magicMask(text: Text): IMagicMask {
  const lines: number[] = [];
  for (let number = 1; number <= text.lines; number++) {
    const line = text.line(number).text;
    if (ONLY_SPACE.test(line)) {
      continue;
    }
    const stripped = line.replace(LEADING_SPACE, '');
    if (stripped.startsWith('%')) {
      lines.push(number - 1);
    } else if (!stripped.startsWith('--')) {
      break;
    }
  }
  return lines.length ? { lines } : NO_MAGICS;
}

/** The text with the mask's lines emptied (line count unchanged). */
export function blankMagics(text: Text, mask: IMagicMask): Text {
  let result = text;
  // Last line first: earlier offsets stay valid.
  for (let index = mask.lines.length - 1; index >= 0; index--) {
    const line = result.line(mask.lines[index] + 1);
    result = result.replace(line.from, line.to, Text.empty);
  }
  return result;
}

export function sameMask(a: IMagicMask, b: IMagicMask): boolean {
  return (
    a.lines.length === b.lines.length &&
    a.lines.every((line, index) => line === b.lines[index])
  );
}
