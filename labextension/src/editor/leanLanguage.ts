import {
  LanguageSupport,
  StreamLanguage,
  StreamParser,
  StringStream
} from '@codemirror/language';

/**
 * Lean 4 syntax highlighting as a CodeMirror stream language.
 *
 * Token names are CodeMirror's legacy names (`keyword`, `def`, `comment`,
 * ...), which StreamLanguage maps to highlight tags every JupyterLab theme
 * styles. Nested block comments and multi-line strings carry over lines in
 * the state.
 */

const COMMAND_KEYWORDS = [
  'abbrev',
  'axiom',
  'class',
  'coinductive',
  'def',
  'example',
  'inductive',
  'instance',
  'opaque',
  'structure',
  'theorem',
  'lemma'
];

const KEYWORDS = new Set([
  ...COMMAND_KEYWORDS,
  'attribute',
  'at',
  'builtin_initialize',
  'by',
  'calc',
  'catch',
  'declare_syntax_cat',
  'decreasing_by',
  'deriving',
  'do',
  'elab',
  'elab_rules',
  'else',
  'end',
  'export',
  'extends',
  'finally',
  'for',
  'from',
  'fun',
  'have',
  'if',
  'import',
  'in',
  'include',
  'infix',
  'infixl',
  'infixr',
  'initialize',
  'let',
  'local',
  'macro',
  'macro_rules',
  'match',
  'mut',
  'mutual',
  'namespace',
  'noncomputable',
  'nomatch',
  'notation',
  'obtain',
  'omit',
  'open',
  'partial',
  'postfix',
  'prefix',
  'private',
  'protected',
  'return',
  'scoped',
  'section',
  'set_option',
  'show',
  'suffices',
  'syntax',
  'termination_by',
  'then',
  'try',
  'universe',
  'unless',
  'unsafe',
  'using',
  'variable',
  'where',
  'with'
]);

/** Tactics worth telling apart from ordinary names. */
const TACTICS = new Set([
  'apply',
  'assumption',
  'cases',
  'constructor',
  'contradiction',
  'decide',
  'exact',
  'exfalso',
  'ext',
  'funext',
  'induction',
  'intro',
  'intros',
  'left',
  'linarith',
  'norm_num',
  'omega',
  'rcases',
  'refine',
  'rfl',
  'right',
  'ring',
  'rintro',
  'rw',
  'rwa',
  'simp',
  'simp_all',
  'specialize',
  'split',
  'subst',
  'trivial',
  'unfold',
  'use',
  'aesop',
  'exists',
  'first',
  'repeat',
  'all_goals',
  'any_goals',
  'case',
  'next',
  'change',
  'conv',
  'congr',
  'dsimp',
  'generalize',
  'injection',
  'nofun',
  'positivity',
  'gcongr',
  'calc'
]);

const SORTS = new Set(['Type', 'Prop', 'Sort']);
const CONSTANTS = new Set(['true', 'false', 'True', 'False']);
const ERROR_LIKE = new Set(['sorry', 'admit']);

// Identifier characters per Lean's `isLetterLike` and subscripts; λ, Π, Σ
// are letters in Unicode but keywords in Lean.
// Anchored and with the `u` flag so astral letters (𝔽) count as one.
const IDENT_START =
  /^[A-Za-z_\u00c0-\u024f\u0370-\u03ff\u1f00-\u1fff\u2100-\u214f\u{1d49c}-\u{1d59f}]/u;
const IDENT_REST =
  /^[A-Za-z0-9_'!?\u00c0-\u024f\u0370-\u03ff\u1f00-\u1fff\u2080-\u209c\u1d62-\u1d6a\u2100-\u214f\u{1d49c}-\u{1d59f}]+/u;
const BINDER_KEYWORDS = /^[λΠΣ∀∃]/u;
const NUMBER =
  /^(?:0x[0-9a-fA-F_]+|0b[01_]+|0o[0-7_]+|\d[\d_]*(?:\.\d+)?(?:[eE][+-]?\d+)?)/;
const CHAR_LITERAL = /^'(?:\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)|[^\\'])'/u;
const OPERATOR =
  /^(?::=|[:=<>\-+*/%&|^~$#@?.,;!]+|[→←↔∧∨¬≤≥≠∘×⁻¹⊢∈∉⊆⊂∪∩∑∏⁅⁆⦃⦄↦⟶≃≅•∣‖])/u;

export interface ILeanStreamState {
  /** Depth of nested `/- -/` comments we are inside (0: none). */
  commentDepth: number;
  /** Inside a string literal that continues on the next line. */
  inString: boolean;
  /** The previous token was a declaration keyword: next name is defined. */
  expectDeclarationName: boolean;
  /** Inside `@[ ... ]`. */
  inAttribute: boolean;
}

function readBlockComment(
  stream: StringStream,
  state: ILeanStreamState
): string {
  while (!stream.eol()) {
    if (stream.match('/-')) {
      state.commentDepth++;
    } else if (stream.match('-/')) {
      state.commentDepth--;
      if (state.commentDepth === 0) {
        break;
      }
    } else {
      stream.next();
    }
  }
  return 'comment';
}

function readString(stream: StringStream, state: ILeanStreamState): string {
  let escaped = false;
  while (!stream.eol()) {
    const char = stream.next();
    if (escaped) {
      escaped = false;
    } else if (char === '\\') {
      escaped = true;
    } else if (char === '"') {
      state.inString = false;
      return 'string';
    }
  }
  state.inString = true;
  return 'string';
}

function readIdentifier(stream: StringStream): string {
  // Dotted names (`Nat.succ`) and «escaped» parts read as one identifier.
  for (;;) {
    if (stream.match('«')) {
      if (stream.skipTo('»')) {
        stream.next();
      } else {
        stream.skipToEnd();
      }
    } else {
      stream.match(IDENT_REST);
    }
    const rest = stream.string.slice(stream.pos);
    if (
      rest.startsWith('.') &&
      (IDENT_START.test(rest.slice(1)) || rest[1] === '«')
    ) {
      stream.next();
      continue;
    }
    return stream.current();
  }
}

export const leanStreamParser: StreamParser<ILeanStreamState> = {
  name: 'lean4',

  startState: () => ({
    commentDepth: 0,
    inString: false,
    expectDeclarationName: false,
    inAttribute: false
  }),

  copyState: state => ({ ...state }),

  token(stream, state) {
    if (state.commentDepth > 0) {
      return readBlockComment(stream, state);
    }
    if (state.inString) {
      return readString(stream, state);
    }
    if (stream.eatSpace()) {
      return null;
    }
    if (stream.match('--')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.match('/-')) {
      state.commentDepth = 1;
      return readBlockComment(stream, state);
    }
    if (stream.match('"')) {
      return readString(stream, state);
    }
    if (stream.match(CHAR_LITERAL)) {
      return 'string';
    }
    if (stream.match('@[')) {
      state.inAttribute = true;
      return 'meta';
    }
    if (state.inAttribute && stream.match(']')) {
      state.inAttribute = false;
      return 'meta';
    }
    if (stream.match(/^#[A-Za-z_]+/)) {
      return 'keyword'; // #check, #eval, #print, ...
    }
    if (stream.match(NUMBER)) {
      return 'number';
    }
    if (stream.match(BINDER_KEYWORDS)) {
      return 'keyword';
    }
    if (stream.match(IDENT_START, false) || stream.peek() === '«') {
      const word = readIdentifier(stream);
      if (state.inAttribute) {
        return 'meta';
      }
      if (state.expectDeclarationName) {
        state.expectDeclarationName = false;
        return 'def';
      }
      if (KEYWORDS.has(word)) {
        state.expectDeclarationName = COMMAND_KEYWORDS.includes(word);
        return 'keyword';
      }
      if (ERROR_LIKE.has(word)) {
        return 'invalid';
      }
      if (SORTS.has(word)) {
        return 'typeName';
      }
      if (CONSTANTS.has(word)) {
        return 'atom';
      }
      if (TACTICS.has(word)) {
        return 'builtin';
      }
      return /^[A-Z]/.test(word) ? 'typeName' : 'variableName';
    }
    if (stream.match(/^[()[\]{}⟨⟩]/u)) {
      return 'bracket';
    }
    if (stream.match(OPERATOR)) {
      return 'operator';
    }
    stream.next();
    return null;
  },

  blankLine(state) {
    state.expectDeclarationName = false;
  },

  languageData: {
    commentTokens: { line: '--', block: { open: '/-', close: '-/' } },
    closeBrackets: { brackets: ['(', '[', '{', '"', '⟨'] },
    wordChars: "_'!?.₀₁₂₃₄₅₆₇₈₉"
  }
};

export const leanLanguage = StreamLanguage.define(leanStreamParser);

export function leanLanguageSupport(): LanguageSupport {
  return new LanguageSupport(leanLanguage);
}
