"""The tiny "Lean" of tests/lean_standin.py: text and positions, tokens, the expression language,
declarations, tactic blocks and the analysis that the watchdog reports (rules in the docstring of
``tests/lean_standin.py``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from standin.wire import KEYWORD_TOKEN, SORRY_TOKEN, Json

Pos = tuple[int, int]  # (line, column in code points)
INF = 1 << 62

SEVERITY_ERROR, SEVERITY_WARNING, SEVERITY_INFO = 1, 2, 3
LEAN_TAG_UNSOLVED_GOALS = 1

DECLARATION_KEYWORDS = {"def", "theorem", "lemma", "example", "abbrev"}
TYPE_KEYWORDS = {"structure", "inductive", "class"}
COMMAND_KEYWORDS = (
    DECLARATION_KEYWORDS
    | TYPE_KEYWORDS
    | {
        "instance",
        "#eval",
        "#check",
        "#print",
        "#reduce",
        "import",
        "prelude",
        "open",
        "namespace",
        "section",
        "end",
        "variable",
        "universe",
        "set_option",
        "axiom",
        "opaque",
        "attribute",
        "macro",
        "macro_rules",
        "syntax",
        "notation",
        "infix",
        "infixl",
        "infixr",
        "prefix",
        "postfix",
        "elab",
        "mutual",
    }
)
MODIFIERS = {"private", "protected", "noncomputable", "partial", "unsafe"}
CONTINUATION_WORDS = {
    "where",
    "deriving",
    "with",
    "by",
    "then",
    "else",
    "termination_by",
    "decreasing_by",
}
KEYWORD_WORDS = {
    "by",
    "fun",
    "at",
    "with",
    "then",
    "else",
    "if",
    "do",
    "where",
    "match",
    "have",
    "show",
    "let",
    "from",
    "in",
    "deriving",
}
CLOSING_TACTICS = {
    "rfl",
    "simp",
    "simp_all",
    "decide",
    "trivial",
    "omega",
    "exact",
    "exact?",
    "sorry",
    "admit",
    "assumption",
    "norm_num",
    "linarith",
    "contradiction",
    "native_decide",
    "aesop",
}
OPEN_BRACKETS = {"(": ")", "{": "}", "[": "]", "⦃": "⦄", "⟨": "⟩"}
CLOSE_BRACKETS = set(OPEN_BRACKETS.values())
SYMBOLS = sorted(
    ["<;>", ":=", "=>", "->", "<-", "++", "<=", ">=", "!=", "==", "&&", "||", "::", ".."],
    key=len,
    reverse=True,
)
BINARY_PRECEDENCE = {"+": 65, "-": 65, "++": 65, "*": 70, "/": 70, "%": 70}
NOT_IDENTIFIER_LETTERS = set("λΠΣ")


class BadParams(Exception):
    """Params that cannot be decoded."""


class RequestError(Exception):
    """A request answered with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class EvalError(Exception):
    """An expression outside the stand-in's expression language."""


# --------------------------------------------------------------------------------------------
# Text and positions
# --------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


class SourceText:
    """A document's text (CRLF normalised) with UTF-16 <-> code point position conversion."""

    def __init__(self, text: str) -> None:
        self.source = text.replace("\r\n", "\n")
        self.lines = self.source.split("\n")
        self.starts: list[int] = []
        offset = 0
        for line in self.lines:
            self.starts.append(offset)
            offset += len(line) + 1

    def eof(self) -> Pos:
        return (len(self.lines) - 1, len(self.lines[-1]))

    def lsp(self, pos: Pos) -> Json:
        line, col = pos
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        return {"character": utf16_len(text[:col]), "line": line}

    def lsp_range(self, start: Pos, end: Pos) -> Json:
        return {"end": self.lsp(end), "start": self.lsp(start)}

    def from_lsp(self, line: int, character: int) -> Pos:
        if line >= len(self.lines):
            return self.eof()
        line = max(line, 0)
        units = 0
        for index, char in enumerate(self.lines[line]):
            width = 2 if ord(char) > 0xFFFF else 1
            if units + width > character:
                return (line, index)
            units += width
        return (line, len(self.lines[line]))

    def offset(self, pos: Pos) -> int:
        return self.starts[pos[0]] + pos[1]

    def apply(self, change: Json) -> SourceText:
        if not isinstance(change, dict) or not isinstance(change.get("text"), str):
            raise BadParams("content change without text")
        if change.get("range") is None:
            return SourceText(change["text"])
        start = self.from_lsp(*parse_position(change["range"].get("start")))
        end = self.from_lsp(*parse_position(change["range"].get("end")))
        a, b = sorted((self.offset(start), self.offset(end)))
        return SourceText(self.source[:a] + change["text"] + self.source[b:])


def parse_position(value: Json) -> tuple[int, int]:
    if not isinstance(value, dict):
        raise BadParams("expected a Position")
    line, character = value.get("line"), value.get("character")
    if not isinstance(line, int) or not isinstance(character, int) or line < 0 or character < 0:
        raise BadParams("expected a Position {line, character}")
    return line, character


@dataclass
class Diag:
    severity: int
    message: str
    start: Pos
    end: Pos
    lean_tags: tuple[int, ...] = ()

    def to_lsp(self, text: SourceText) -> Json:
        full = text.lsp_range(self.start, self.end)
        if self.start[0] == self.end[0]:
            shown = full
        else:
            shown = {"end": {"character": 0, "line": self.start[0] + 1}, "start": full["start"]}
        out: Json = {
            "fullRange": full,
            "message": self.message,
            "range": shown,
            "severity": self.severity,
            "source": "Lean 4",
        }
        if self.lean_tags:
            out["leanTags"] = list(self.lean_tags)
        return out


# --------------------------------------------------------------------------------------------
# Lexing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Directive:
    line: int
    col: int
    end: int
    name: str
    arg: str


@dataclass(frozen=True)
class Token:
    kind: str  # "ident" | "num" | "str" | "sym"
    text: str
    line: int
    col: int
    end: int

    @property
    def start_pos(self) -> Pos:
        return (self.line, self.col)

    @property
    def end_pos(self) -> Pos:
        return (self.line, self.end)


def is_ident_start(char: str) -> bool:
    return (char.isalpha() or char == "_") and char not in NOT_IDENTIFIER_LETTERS


def is_ident_rest(char: str) -> bool:
    return (char.isalnum() or char in "_'!?") and char not in NOT_IDENTIFIER_LETTERS


def string_end(line: str, start: int) -> int:
    """Index just after the string literal opening at ``start`` (end of line if unterminated)."""
    index = start + 1
    while index < len(line):
        if line[index] == "\\":
            index += 2
        elif line[index] == '"':
            return index + 1
        else:
            index += 1
    return len(line)


def mask_comments(lines: list[str]) -> tuple[list[str], list[Directive]]:
    """Blank out comments (keeping columns) and collect ``-- standin:`` directives."""
    code: list[str] = []
    directives: list[Directive] = []
    depth = 0
    for number, line in enumerate(lines):
        chars = list(line)
        index = 0
        while index < len(line):
            if depth > 0:
                if line.startswith("/-", index):
                    depth, width = depth + 1, 2
                elif line.startswith("-/", index):
                    depth, width = depth - 1, 2
                else:
                    width = 1
                chars[index : index + width] = " " * width
                index += width
            elif line[index] == '"':
                index = string_end(line, index)
            elif line.startswith("--", index):
                words = line[index + 2 :].strip()
                if words.startswith("standin:"):
                    name, _, arg = words[len("standin:") :].strip().partition(" ")
                    directives.append(Directive(number, index, len(line), name, arg.strip()))
                chars[index:] = " " * (len(line) - index)
                break
            elif line.startswith("/-", index):
                depth += 1
                chars[index : index + 2] = "  "
                index += 2
            else:
                index += 1
        code.append("".join(chars))
    return code, directives


def tokenize_line(line: str, number: int) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(line):
        char = line[index]
        if char.isspace():
            index += 1
            continue
        if char == '"':
            end, kind = string_end(line, index), "str"
        elif char in "0123456789":
            end = index
            while end < len(line) and line[end] in "0123456789":
                end += 1
            kind = "num"
        elif is_ident_start(char) or (
            char == "#" and index + 1 < len(line) and line[index + 1].isalpha()
        ):
            end = index + 1
            while end < len(line):
                dotted = line[end] == "." and end + 1 < len(line) and is_ident_start(line[end + 1])
                if is_ident_rest(line[end]) or dotted:
                    end += 1
                else:
                    break
            kind = "ident"
        else:
            symbol = next((s for s in SYMBOLS if line.startswith(s, index)), char)
            end, kind = index + len(symbol), "sym"
        tokens.append(Token(kind, line[index:end], number, index, end))
        index = end
    return tokens


def matching_bracket(tokens: list[Token], start: int) -> int:
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth -= 1
            if depth == 0:
                return index
    return len(tokens) - 1


def find_top_level(tokens: list[Token], start: int, stops: set[str]) -> int:
    """Index of the first token in ``stops`` outside brackets, or ``len(tokens)``."""
    depth = 0
    for index in range(start, len(tokens)):
        token = tokens[index]
        if depth == 0 and token.text in stops and token.kind in ("sym", "ident"):
            return index
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
    return len(tokens)


def lean_quote(text: str) -> str:
    """A String as Lean's ``repr`` prints it."""
    out = ['"']
    for char in text:
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or char == "\x7f":
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def unquote(literal: str) -> str:
    body = literal[1:-1] if len(literal) >= 2 and literal.endswith('"') else literal[1:]
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'"}
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            code = body[index + 1]
            if code in escapes:
                out.append(escapes[code])
                index += 2
                continue
            width = {"x": 2, "u": 4}.get(code)
            digits = body[index + 2 : index + 2 + width] if width else ""
            if width and len(digits) == width:
                try:
                    out.append(chr(int(digits, 16)))
                    index += 2 + width
                    continue
                except ValueError:
                    pass
        out.append(char)
        index += 1
    return "".join(out)


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------

Value = int | str


@dataclass(frozen=True)
class Num:
    value: int
    token: Token


@dataclass(frozen=True)
class Str:
    value: str
    token: Token


@dataclass(frozen=True)
class Name:
    text: str
    token: Token


@dataclass(frozen=True)
class Bin:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class App:
    fn: Expr
    args: tuple[Expr, ...]


Expr = Num | Str | Name | Bin | App


class ExprParser:
    """Pratt parser for the expression language; raises EvalError outside it."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.index = 0

    @classmethod
    def parse(cls, tokens: list[Token]) -> Expr:
        parser = cls(tokens)
        expr = parser.expression(0)
        if parser.index != len(tokens):
            raise EvalError("trailing tokens")
        return expr

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def expression(self, min_precedence: int) -> Expr:
        left = self.application()
        while True:
            token = self.peek()
            precedence = BINARY_PRECEDENCE.get(token.text, -1) if token else -1
            if token is None or token.kind != "sym" or precedence < min_precedence:
                return left
            self.index += 1
            left = Bin(token.text, left, self.expression(precedence + 1))

    def starts_atom(self, token: Token | None) -> bool:
        if token is None:
            return False
        return token.kind in ("num", "str", "ident") or (token.kind, token.text) == ("sym", "(")

    def application(self) -> Expr:
        head = self.atom()
        args: list[Expr] = []
        while self.starts_atom(self.peek()):
            args.append(self.atom())
        return App(head, tuple(args)) if args else head

    def atom(self) -> Expr:
        token = self.peek()
        if token is None:
            raise EvalError("unexpected end of expression")
        self.index += 1
        if token.kind == "num":
            return Num(int(token.text), token)
        if token.kind == "str":
            return Str(unquote(token.text), token)
        if token.kind == "ident" and token.text not in KEYWORD_WORDS:
            return Name(token.text, token)
        if token.kind == "sym" and token.text == "(":
            close = matching_bracket(self.tokens, self.index - 1)
            if self.tokens[close].text != ")":
                raise EvalError("unbalanced parenthesis")
            colon = find_top_level(self.tokens[:close], self.index, {":"})
            inner = ExprParser.parse(self.tokens[self.index : colon])
            self.index = close + 1
            return inner
        raise EvalError(f"unexpected {token.text}")


def expr_names(expr: Expr) -> Iterator[Name]:
    if isinstance(expr, Name):
        yield expr
    elif isinstance(expr, Bin):
        yield from expr_names(expr.left)
        yield from expr_names(expr.right)
    elif isinstance(expr, App):
        yield from expr_names(expr.fn)
        for arg in expr.args:
            yield from expr_names(arg)


def value_type(value: Value) -> str:
    return "String" if isinstance(value, str) else "Nat"


def arithmetic(op: str, left: Value, right: Value) -> Value:
    if op == "++":
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        raise EvalError("++ needs strings")
    if not isinstance(left, int) or not isinstance(right, int):
        raise EvalError("arithmetic needs Nat")
    if op == "+":
        return left + right
    if op == "-":
        return max(0, left - right)
    if op == "*":
        return left * right
    if op == "/":
        return left // right if right else 0
    return left % right if right else left


# --------------------------------------------------------------------------------------------
# Declarations, builtins, scopes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Where a command sits: its namespace and the opened namespaces."""

    namespace: str = ""
    opens: tuple[str, ...] = ()

    def prefixes(self) -> list[str]:
        parts = self.namespace.split(".") if self.namespace else []
        return [".".join(parts[:k]) for k in range(len(parts), 0, -1)]

    def candidates(self, name: str) -> list[str]:
        if name.startswith("_root_."):
            return [name[len("_root_.") :]]
        return (
            [f"{p}.{name}" for p in self.prefixes()] + [name] + [f"{o}.{name}" for o in self.opens]
        )


ROOT = Context()


@dataclass
class Decl:
    name: str
    kind: str
    type: str
    result_type: str = ""
    params: tuple[str, ...] = ()
    body: Expr | None = None
    body_text: str = ""
    value: Value | None = None
    doc: str | None = None
    fn: Callable[..., Value] | None = None
    signature: tuple[str, ...] = ()
    ctx: Context = ROOT
    name_range: tuple[Pos, Pos] | None = None
    cmd_range: tuple[Pos, Pos] | None = None

    @property
    def is_function(self) -> bool:
        return bool(self.params) or self.fn is not None


def _builtin(
    name: str,
    kind: str,
    type_: str,
    doc: str | None = None,
    fn: Callable[..., Value] | None = None,
    signature: tuple[str, ...] = (),
    value: Value | None = None,
) -> Decl:
    result = type_.rsplit(" → ", 1)[-1]
    return Decl(
        name=name,
        kind=kind,
        type=type_,
        result_type=result,
        doc=doc,
        fn=fn,
        signature=signature,
        value=value,
    )


BUILTINS: dict[str, Decl] = {
    d.name: d
    for d in [
        _builtin("Nat", "inductive", "Type", "The natural numbers: `0`, `1`, `2`, ..."),
        _builtin("Nat.zero", "constructor", "Nat", value=0),
        _builtin(
            "Nat.succ",
            "constructor",
            "Nat → Nat",
            "The successor `n + 1`.",
            lambda n: n + 1,
            ("Nat",),
        ),
        _builtin(
            "Nat.add",
            "def",
            "Nat → Nat → Nat",
            "Addition of natural numbers.",
            lambda a, b: a + b,
            ("Nat", "Nat"),
        ),
        _builtin(
            "Nat.sub",
            "def",
            "Nat → Nat → Nat",
            "Truncated subtraction.",
            lambda a, b: max(0, a - b),
            ("Nat", "Nat"),
        ),
        _builtin("Nat.mul", "def", "Nat → Nat → Nat", None, lambda a, b: a * b, ("Nat", "Nat")),
        _builtin("Nat.add_comm", "theorem", "∀ (n m : Nat), n + m = m + n"),
        _builtin("Nat.zero_add", "theorem", "∀ (n : Nat), 0 + n = n"),
        _builtin("List", "inductive", "Type u → Type u"),
        _builtin("List.map", "def", "(α → β) → List α → List β"),
        _builtin("id", "def", "α → α", "The identity function.", lambda a: a, ("α",)),
        _builtin("True", "inductive", "Prop"),
        _builtin("False", "inductive", "Prop"),
        _builtin("Unit", "inductive", "Type"),
        _builtin("Bool", "inductive", "Type"),
        _builtin("String", "structure", "Type"),
        _builtin("String.length", "def", "String → Nat", None, len, ("String",)),
        _builtin(
            "String.append",
            "def",
            "String → String → String",
            None,
            lambda a, b: a + b,
            ("String", "String"),
        ),
        _builtin("toString", "def", "α → String", None, str, ("α",)),
        _builtin("IO.println", "def", "α → IO Unit", "Prints the argument and a newline."),
        _builtin("IO.print", "def", "α → IO Unit", "Prints the argument."),
    ]
}


def resolve_name(name: str, ctx: Context, decls: dict[str, Decl]) -> Decl | None:
    for candidate in ctx.candidates(name):
        found = decls.get(candidate) or BUILTINS.get(candidate)
        if found is not None:
            return found
    return None


class Evaluator:
    """Evaluates expressions against the declarations known so far."""

    def __init__(self, decls: dict[str, Decl]) -> None:
        self.decls = decls

    def evaluate(self, expr: Expr, ctx: Context, local: dict[str, Value], depth: int = 0) -> Value:
        if depth > 100:
            raise EvalError("too deep")
        if isinstance(expr, Num | Str):
            return expr.value
        if isinstance(expr, Bin):
            return arithmetic(
                expr.op,
                self.evaluate(expr.left, ctx, local, depth),
                self.evaluate(expr.right, ctx, local, depth),
            )
        if isinstance(expr, Name):
            if expr.text in local:
                return local[expr.text]
            decl = resolve_name(expr.text, ctx, self.decls)
            if decl is None or decl.is_function or decl.value is None:
                raise EvalError(f"no value for {expr.text}")
            return decl.value
        if not isinstance(expr.fn, Name) or expr.fn.text in local:
            raise EvalError("unsupported application")
        decl = resolve_name(expr.fn.text, ctx, self.decls)
        args = [self.evaluate(arg, ctx, local, depth) for arg in expr.args]
        if decl is not None and decl.fn is not None and len(args) == len(decl.signature):
            for arg, expected in zip(args, decl.signature, strict=True):
                if expected != "α" and value_type(arg) != expected:
                    raise EvalError("argument type")
            return decl.fn(*args)
        if decl is not None and decl.body is not None and len(args) == len(decl.params):
            return self.evaluate(
                decl.body, decl.ctx, dict(zip(decl.params, args, strict=True)), depth + 1
            )
        raise EvalError("unsupported application")

    def infer(self, expr: Expr, ctx: Context, local_types: dict[str, str]) -> str | None:
        if isinstance(expr, Num):
            return "Nat"
        if isinstance(expr, Str):
            return "String"
        if isinstance(expr, Bin):
            return "String" if expr.op == "++" else "Nat"
        head = expr.fn if isinstance(expr, App) else expr
        if not isinstance(head, Name):
            return None
        if head.text in local_types:
            return local_types[head.text] if isinstance(expr, Name) else None
        decl = resolve_name(head.text, ctx, self.decls)
        if decl is None:
            return None
        if isinstance(expr, Name):
            return None if decl.is_function else decl.type
        return decl.result_type or None


# --------------------------------------------------------------------------------------------
# Analysis results
# --------------------------------------------------------------------------------------------


@dataclass
class Goal:
    case: str | None
    target: str

    def render(self, hyps: list[str]) -> str:
        lines = [f"case {self.case}"] if self.case else []
        return "\n".join([*lines, *hyps, f"⊢ {self.target}"])


@dataclass
class Tactic:
    name: str
    start: Pos
    end: Pos
    args: list[Token]


@dataclass
class Proof:
    by_start: Pos
    region_end: Pos
    hyps: list[str]
    initial: list[Goal]
    tactics: list[Tactic]
    before: list[list[Goal]]
    after: list[list[Goal]]

    def goals_at(self, pos: Pos) -> list[Goal] | None:
        if pos < self.by_start or pos >= self.region_end:
            return None
        last = None
        for index, tactic in enumerate(self.tactics):
            if tactic.start <= pos:
                last = index
        if last is None:
            return self.initial
        return self.before[last] if pos == self.tactics[last].start else self.after[last]


@dataclass
class TermBody:
    start: Pos
    end: Pos
    hyps: list[str]
    expected: str


@dataclass
class Symbol:
    name: str
    kind: int
    start: Pos
    end: Pos
    selection: tuple[Pos, Pos]
    children: list[Symbol] | None = None

    def to_lsp(self, text: SourceText) -> Json:
        out: Json = {
            "kind": self.kind,
            "name": self.name,
            "range": text.lsp_range(self.start, self.end),
            "selectionRange": text.lsp_range(*self.selection),
        }
        if self.children is not None:
            out["children"] = [child.to_lsp(text) for child in self.children]
        return out


@dataclass
class Command:
    start_line: int
    end_line: int
    tokens: list[Token]
    error: bool
    region_end: Pos
    ctx: Context = ROOT
    diags: list[Diag] = field(default_factory=list)
    locals: dict[str, str] = field(default_factory=dict)
    proof: Proof | None = None
    term: TermBody | None = None

    @property
    def end_pos(self) -> Pos:
        return self.tokens[-1].end_pos if self.tokens else (self.end_line, 0)


@dataclass
class Step:
    """One unit of elaboration: a command (completes at its last line) or a directive."""

    line: int
    order: int
    progress_line: int
    diagnostics: list[Diag]
    directive: Directive | None = None


def completion_kind(decl: Decl) -> int:
    """LSP CompletionItemKind as Lean picks it for a constant."""
    kinds = {"inductive": 22, "structure": 22, "class": 7, "constructor": 4}
    if decl.kind in kinds:
        return kinds[decl.kind]
    return 3 if "→" in decl.type and decl.kind != "theorem" else 21


@dataclass
class Analysis:
    """Everything the stand-in knows about one version of a document."""

    text: SourceText
    header: tuple[str, ...]
    commands: list[Command]
    steps: list[Step]
    decls: dict[str, Decl]
    symbols: list[Symbol]
    semantic: list[tuple[int, int, int, int]]

    def command_at_line(self, line: int) -> Command | None:
        return next((c for c in self.commands if c.start_line <= line <= c.end_line), None)

    def needed_line(self, line: int) -> int:
        """The last line that must be elaborated before a position on ``line`` can be answered."""
        command = self.command_at_line(line)
        return command.end_line if command else line

    def context_at(self, line: int) -> Context:
        ctx = ROOT
        for command in self.commands:
            if command.start_line > line:
                break
            ctx = command.ctx
        return ctx

    def token_at(self, pos: Pos) -> tuple[Command, Token] | None:
        command = self.command_at_line(pos[0])
        if command is None:
            return None
        for token in command.tokens:
            if token.line == pos[0] and token.col <= pos[1] < token.end:
                return command, token
        return None

    def lookup(self, command: Command, name: str) -> Decl | None:
        return resolve_name(name, command.ctx, self.decls)

    def hover(self, pos: Pos) -> Json:
        found = self.token_at(pos)
        if found is None:
            return None
        command, token = found
        doc = None
        if token.kind == "num":
            shown = f"{token.text} : Nat"
        elif token.kind == "ident" and token.text in command.locals:
            shown = f"{token.text} : {command.locals[token.text]}"
        elif token.kind == "ident" and (decl := self.lookup(command, token.text)) is not None:
            shown, doc = f"{decl.name} : {decl.type}", decl.doc
        else:
            return None
        value = f"```lean\n{shown}\n```" + (f"\n***\n{doc}" if doc else "")
        return {
            "contents": {"kind": "markdown", "value": value},
            "range": self.text.lsp_range(token.start_pos, token.end_pos),
        }

    def completion(self, uri: str, pos: Pos) -> Json:
        line = self.text.lines[pos[0]] if pos[0] < len(self.text.lines) else ""
        start = pos[1]
        while start > 0 and (is_ident_rest(line[start - 1]) or line[start - 1] == "."):
            start -= 1
        prefix = line[start : pos[1]]
        if not prefix or not is_ident_start(prefix[0]):
            return {"isIncomplete": True, "items": []}
        ctx = self.context_at(pos[0])
        cut = prefix.rfind(".") + 1
        items: dict[tuple[str, str], Json] = {}
        # A `prelude` document has no library: only its own declarations are offered.
        known = [] if "prelude" in self.header else [*BUILTINS.items()]
        line, character = self.text.lsp(pos)["line"], self.text.lsp(pos)["character"]
        for full, decl in [*known, *self.decls.items()]:
            forms = [full] + [
                full[len(p) + 1 :]
                for p in [*ctx.prefixes(), *ctx.opens]
                if full.startswith(p + ".")
            ]
            for form in forms:
                if form.startswith(prefix) and form[cut:] and "." not in form[cut:]:
                    label = form[cut:]
                    items[(label, full)] = {
                        "data": [uri, line, character, 0, f"c{full}"],
                        "kind": completion_kind(decl),
                        "label": label,
                    }
        return {"isIncomplete": True, "items": [items[k] for k in sorted(items)]}

    def resolve_completion(self, item: Json) -> Json:
        data = item.get("data") if isinstance(item, dict) else None
        if not (isinstance(data, list) and len(data) == 5 and isinstance(data[4], str)):
            return item
        name = data[4][1:]
        decl = self.decls.get(name) or BUILTINS.get(name)
        out = dict(item)
        if decl is not None:
            out["detail"] = decl.type
            if decl.doc:
                out["documentation"] = {"kind": "markdown", "value": decl.doc}
        return out

    def plain_goal(self, pos: Pos) -> Json:
        for command in self.commands:
            goals = command.proof.goals_at(pos) if command.proof else None
            if goals is None:
                continue
            if not goals:
                return {"goals": [], "rendered": "no goals"}
            texts = [goal.render(command.proof.hyps) for goal in goals]
            return {"goals": texts, "rendered": "\n---\n".join(f"```lean\n{t}\n```" for t in texts)}
        return None

    def interactive_goals(self, pos: Pos) -> Json:
        """``Lean.Widget.getInteractiveGoals``: the goals of plain_goal as Lean's widget structure
        (each type one tagged text; ``p`` are the RPC references Lean hands out)."""
        for command in self.commands:
            goals = command.proof.goals_at(pos) if command.proof else None
            if goals is None:
                continue
            refs = iter(range(1 << 30))

            def tagged(text: str, refs: Iterator[int] = refs) -> Json:
                return {
                    "tag": [{"info": {"p": str(next(refs))}, "subexprPos": "/"}, {"text": text}]
                }

            hyps = [hyp.partition(" : ") for hyp in command.proof.hyps]
            out = []
            for index, goal in enumerate(goals):
                widget: Json = {
                    "hyps": [
                        {
                            "fvarIds": [f"_uniq.{n}" for n in range(len(names.split()))],
                            "names": names.split(),
                            "type": tagged(type_),
                        }
                        for names, _, type_ in hyps
                    ],
                    "type": tagged(goal.target),
                    "ctx": {"p": str(next(refs))},
                    "goalPrefix": "⊢ ",
                    "mvarId": f"_uniq.goal.{index}",
                }
                if goal.case:
                    widget["userName"] = goal.case
                out.append(widget)
            return {"goals": out}
        return None

    def plain_term_goal(self, pos: Pos) -> Json:
        for command in self.commands:
            term = command.term
            if term is not None and term.start <= pos <= term.end:
                return {
                    "goal": Goal(None, term.expected).render(term.hyps),
                    "range": self.text.lsp_range(term.start, term.end),
                }
            proof = command.proof
            if proof is None:
                continue
            for index, tactic in enumerate(proof.tactics):
                if tactic.name != "exact" or not tactic.args or not proof.before[index]:
                    continue
                start, end = tactic.args[0].start_pos, tactic.args[-1].end_pos
                if start <= pos <= end:
                    return {
                        "goal": proof.before[index][0].render(proof.hyps),
                        "range": self.text.lsp_range(start, end),
                    }
        return None

    def definition(self, uri: str, pos: Pos) -> Json:
        found = self.token_at(pos)
        if found is None or found[1].kind != "ident":
            return []
        command, token = found
        decl = self.lookup(command, token.text)
        if decl is None or decl.name_range is None or decl.cmd_range is None:
            return []
        return [
            {
                "originSelectionRange": self.text.lsp_range(token.start_pos, token.end_pos),
                "targetRange": self.text.lsp_range(*decl.cmd_range),
                "targetSelectionRange": self.text.lsp_range(*decl.name_range),
                "targetUri": uri,
            }
        ]

    def document_symbols(self) -> Json:
        return [symbol.to_lsp(self.text) for symbol in self.symbols]

    def semantic_tokens(self, lines: tuple[int, int] | None = None) -> Json:
        data: list[int] = []
        previous_line, previous_char = 0, 0
        for line, col, end, kind in sorted(self.semantic):
            if lines is not None and not lines[0] <= line <= lines[1]:
                continue
            text = self.text.lines[line]
            char = utf16_len(text[:col])
            delta_char = char - previous_char if line == previous_line else char
            data += [line - previous_line, delta_char, utf16_len(text[col:end]), kind, 0]
            previous_line, previous_char = line, char
        return {"data": data}


# --------------------------------------------------------------------------------------------
# The analyzer: the tiny "Lean"
# --------------------------------------------------------------------------------------------


@dataclass
class Scope:
    kind: str  # "root" | "namespace" | "section"
    name: str
    opens: list[str] = field(default_factory=list)
    symbol: Symbol | None = None


@dataclass
class Binder:
    bracket: str
    names: list[Token]
    type: str

    def pairs(self) -> list[tuple[str, str]]:
        if self.bracket == "[" and not self.names:
            return [("inst✝", self.type)]
        return [(name.text, self.type) for name in self.names]

    def render(self) -> str:
        names = " ".join(n.text for n in self.names)
        if self.bracket == "[":
            return f"[{self.type}]"
        close = OPEN_BRACKETS[self.bracket]
        return f"{self.bracket}{names} : {self.type}{close}"


def hypothesis_lines(pairs: list[tuple[str, str]]) -> list[str]:
    merged: list[tuple[list[str], str]] = []
    for name, type_ in pairs:
        if merged and merged[-1][1] == type_:
            merged[-1][0].append(name)
        else:
            merged.append(([name], type_))
    return [f"{' '.join(names)} : {type_}" for names, type_ in merged]


def split_conjunction(target: str) -> tuple[str, str] | None:
    depth = 0
    for index, char in enumerate(target):
        if char in "([{⟨":
            depth += 1
        elif char in ")]}⟩":
            depth -= 1
        elif char == "∧" and depth == 0:
            return target[:index].strip(), target[index + 1 :].strip()
    return None


def split_tactics(tokens: list[Token]) -> list[list[Token]]:
    """One tactic per line (continuing while brackets are open), split at top-level ``;``."""
    segments: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    for token in tokens:
        if current and depth == 0 and token.line != current[-1].line:
            segments.append(current)
            current = []
        if token.kind == "sym" and token.text == ";" and depth == 0:
            if current:
                segments.append(current)
            current = []
            continue
        if token.kind == "sym" and token.text in OPEN_BRACKETS:
            depth += 1
        elif token.kind == "sym" and token.text in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
        current.append(token)
    if current:
        segments.append(current)
    return segments


@dataclass
class Span:
    start: int
    end: int
    error: bool
    prefix: bool = False  # only modifiers/attributes so far: the next command line joins


class Analyzer:
    """Turns one version of a document into an Analysis (no I/O, no timing)."""

    def __init__(self, text: SourceText) -> None:
        self.text = text
        self.code, self.directives = mask_comments(text.lines)
        self.line_tokens = [tokenize_line(line, n) for n, line in enumerate(self.code)]
        self.decls: dict[str, Decl] = {}
        self.evaluator = Evaluator(self.decls)
        self.scopes: list[Scope] = [Scope("root", "")]
        self.header: list[str] = []
        self.in_header = True
        self.symbols: list[Symbol] = []
        self.semantic: list[tuple[int, int, int, int]] = []
        self.commands: list[Command] = []

    # --- entry point -------------------------------------------------------------------------

    def run(self) -> Analysis:
        spans = self.split_commands()
        for index, span in enumerate(spans):
            following = spans[index + 1] if index + 1 < len(spans) else None
            region_end = (following.start, 0) if following else (INF, 0)
            tokens = [t for n in range(span.start, span.end + 1) for t in self.line_tokens[n]]
            command = Command(span.start, span.end, tokens, span.error, region_end, self.ctx())
            self.commands.append(command)
            try:
                self.command(command, following)
            except Exception as exc:  # a stand-in bug must not kill the server
                command.diags.append(
                    Diag(
                        SEVERITY_ERROR,
                        f"standin: internal error: {exc!r}",
                        (span.start, 0),
                        command.end_pos,
                    )
                )
        for scope in self.scopes[1:]:
            if scope.symbol is not None:
                scope.symbol.end = self.text.eof()
        return Analysis(
            self.text,
            tuple(self.header),
            self.commands,
            self.steps(),
            self.decls,
            self.symbols,
            self.semantic,
        )

    def steps(self) -> list[Step]:
        steps = [Step(c.end_line, 1, c.start_line, c.diags) for c in self.commands]
        for directive in self.directives:
            enclosing = next(
                (c for c in self.commands if c.start_line <= directive.line <= c.end_line), None
            )
            line = enclosing.start_line if enclosing else directive.line
            steps.append(Step(directive.line, 0, line, [], directive))
        return sorted(steps, key=lambda s: (s.line, s.order))

    # --- command structure -------------------------------------------------------------------

    def role(self, tokens: list[Token]) -> str:
        """ "command", "prefix", "continuation" or "error" for a line starting at column 0."""
        index = self.keyword_index(tokens)
        if index < len(tokens) and tokens[index].text in COMMAND_KEYWORDS:
            return "command"
        if index == len(tokens):
            return "prefix"
        first = tokens[0]
        if first.kind == "sym" or first.text in CONTINUATION_WORDS:
            return "continuation"
        return "error"

    @staticmethod
    def keyword_index(tokens: list[Token]) -> int:
        index = 0
        while index < len(tokens):
            token = tokens[index]
            if token.text in MODIFIERS:
                index += 1
            elif token.text == "@" and index + 1 < len(tokens) and tokens[index + 1].text == "[":
                index = matching_bracket(tokens, index + 1) + 1
            else:
                break
        return index

    def split_commands(self) -> list[Span]:
        spans: list[Span] = []
        current: Span | None = None
        for number, tokens in enumerate(self.line_tokens):
            if not tokens:
                continue
            if current is not None and tokens[0].col > 0:
                current.end = number
                continue
            role = self.role(tokens)
            if current is not None and current.prefix and role in ("command", "prefix"):
                current.end, current.prefix = number, role == "prefix"
                continue
            if current is not None and (
                role == "continuation" or (role == "error" and current.error)
            ):
                current.end = number
                continue
            current = Span(number, number, role == "error", role == "prefix")
            spans.append(current)
        return spans

    def ctx(self) -> Context:
        namespace = ".".join(s.name for s in self.scopes if s.kind == "namespace")
        opens = tuple(o for s in self.scopes for o in s.opens)
        return Context(namespace, opens)

    def qualify(self, name: str) -> str:
        if name.startswith("_root_."):
            return name[len("_root_.") :]
        namespace = self.ctx().namespace
        return f"{namespace}.{name}" if namespace else name

    def slice_text(self, tokens: list[Token]) -> str:
        if not tokens:
            return ""
        first, last = tokens[0], tokens[-1]
        if first.line == last.line:
            text = self.code[first.line][first.col : last.end]
        else:
            text = " ".join(
                [
                    self.code[first.line][first.col :],
                    *self.code[first.line + 1 : last.line],
                    self.code[last.line][: last.end],
                ]
            )
        return " ".join(text.split())

    def mark_keywords(self, tokens: Iterable[Token]) -> None:
        for token in tokens:
            if token.kind == "ident" and token.text == "sorry":
                self.semantic.append((token.line, token.col, token.end, SORRY_TOKEN))
            elif token.kind == "ident" and (
                token.text in KEYWORD_WORDS
                or token.text in COMMAND_KEYWORDS
                or token.text in MODIFIERS
            ):
                self.semantic.append((token.line, token.col, token.end, KEYWORD_TOKEN))

    @staticmethod
    def error(command: Command, message: str, start: Pos, end: Pos) -> None:
        command.diags.append(Diag(SEVERITY_ERROR, message, start, end))

    def unexpected(
        self,
        command: Command,
        tokens: list[Token],
        index: int,
        expected: str,
        following: Span | None,
    ) -> None:
        if index < len(tokens):
            token = tokens[index]
        elif following is not None:
            token = self.line_tokens[following.start][0]
        else:
            eof = self.text.eof()
            self.error(command, f"unexpected end of input; expected {expected}", eof, eof)
            return
        what = "identifier" if token.kind == "ident" else f"token '{token.text}'"
        self.error(
            command, f"unexpected {what}; expected {expected}", token.start_pos, token.end_pos
        )

    # --- commands ----------------------------------------------------------------------------

    def command(self, command: Command, following: Span | None) -> None:
        tokens = command.tokens
        if command.error:
            first = tokens[0]
            what = "identifier" if first.kind == "ident" else f"token '{first.text}'"
            self.error(
                command, f"unexpected {what}; expected command", first.start_pos, first.end_pos
            )
            return
        self.mark_keywords(tokens)
        index = self.keyword_index(tokens)
        if index >= len(tokens):
            return
        keyword = tokens[index].text
        if keyword == "prelude" and not (self.in_header and not self.header):
            self.error(
                command,
                "unexpected identifier; expected command",
                tokens[index].start_pos,
                tokens[index].end_pos,
            )
            return
        if keyword not in ("import", "prelude"):
            self.in_header = False
        args = tokens[index + 1 :]
        if keyword == "prelude":
            self.header.append("prelude")
        elif keyword == "import":
            self.import_(command, tokens[index], args)
        elif keyword in ("namespace", "section"):
            self.open_scope(command, keyword, tokens[index], args)
        elif keyword == "end":
            self.end_scope(command, tokens[index])
        elif keyword == "open":
            self.scopes[-1].opens.extend(t.text for t in args if t.kind == "ident")
        elif keyword in DECLARATION_KEYWORDS:
            self.declaration(command, tokens, index, following)
        elif keyword in TYPE_KEYWORDS:
            self.type_declaration(command, keyword, args)
        elif keyword == "#eval":
            self.eval_(command, tokens[index], args)
        elif keyword == "#check":
            self.check(command, tokens[index], args)
        elif keyword == "#print":
            self.print_(command, tokens[index], args)

    def import_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if self.in_header:
            self.header.extend(t.text for t in args)
        else:
            self.error(
                command,
                "invalid 'import' command, it must be used in the beginning of the file",
                keyword.start_pos,
                keyword.end_pos,
            )

    def open_scope(self, command: Command, keyword: str, token: Token, args: list[Token]) -> None:
        name = args[0].text if args and args[0].kind == "ident" else ""
        selection = args[0] if name else token
        symbol = Symbol(
            name or "<section>",
            3,
            (command.start_line, 0),
            command.end_pos,
            (selection.start_pos, selection.end_pos),
            [],
        )
        self.current_symbols().append(symbol)
        self.scopes.append(Scope(keyword, name, symbol=symbol))

    def end_scope(self, command: Command, token: Token) -> None:
        if len(self.scopes) == 1:
            self.error(
                command, "invalid 'end', insufficient scopes", token.start_pos, token.end_pos
            )
            return
        scope = self.scopes.pop()
        if scope.symbol is not None:
            scope.symbol.end = command.end_pos

    def current_symbols(self) -> list[Symbol]:
        for scope in reversed(self.scopes):
            if scope.symbol is not None and scope.symbol.children is not None:
                return scope.symbol.children
        return self.symbols

    def register(self, decl: Decl, name_token: Token, command: Command) -> None:
        decl.name_range = (name_token.start_pos, name_token.end_pos)
        decl.cmd_range = ((command.start_line, 0), command.end_pos)
        self.decls[decl.name] = decl
        self.current_symbols().append(
            Symbol(name_token.text, 6, (command.start_line, 0), command.end_pos, decl.name_range)
        )

    def type_declaration(self, command: Command, keyword: str, args: list[Token]) -> None:
        if not args or args[0].kind != "ident":
            return
        full = self.qualify(args[0].text)
        if full in self.decls or full in BUILTINS:
            self.error(
                command, f"'{full}' has already been declared", args[0].start_pos, args[0].end_pos
            )
            return
        self.register(Decl(full, keyword, "Type", "Type", ctx=command.ctx), args[0], command)
        if keyword == "inductive":
            self.constructors(command, full, args[1:])

    def constructors(self, command: Command, inductive: str, args: list[Token]) -> None:
        """``| c (x : T) ...`` alternatives declare ``inductive.c : T → ... → inductive``."""
        bars = [i for i, t in enumerate(args) if t.kind == "sym" and t.text == "|"]
        for bar in bars:
            if bar + 1 >= len(args) or args[bar + 1].kind != "ident":
                continue
            binders, _ = self.parse_binders(args, bar + 2)
            arrows = [b.type for b in binders for _ in b.names if b.bracket == "("]
            name = f"{inductive}.{args[bar + 1].text}"
            type_ = " → ".join([*arrows, inductive])
            self.decls[name] = Decl(name, "constructor", type_, inductive, ctx=command.ctx)

    def parse_binders(self, tokens: list[Token], index: int) -> tuple[list[Binder], int]:
        binders: list[Binder] = []
        while (
            index < len(tokens)
            and tokens[index].kind == "sym"
            and tokens[index].text in ("(", "{", "[", "⦃")
        ):
            close = matching_bracket(tokens, index)
            inner = tokens[index + 1 : close]
            colon = find_top_level(inner, 0, {":"})
            bracket = tokens[index].text
            if colon < len(inner):
                names = [t for t in inner[:colon] if t.kind == "ident"]
                binders.append(Binder(bracket, names, self.slice_text(inner[colon + 1 :])))
            elif bracket == "[":
                binders.append(Binder(bracket, [], self.slice_text(inner)))
            else:
                names = [t for t in inner if t.kind == "ident"]
                binders.append(Binder(bracket, names, "Sort u_1" if bracket == "{" else "?"))
            index = close + 1
        return binders, index

    def declaration(
        self, command: Command, tokens: list[Token], index: int, following: Span | None
    ) -> None:
        keyword = tokens[index]
        kind = "theorem" if keyword.text == "lemma" else keyword.text
        index += 1
        name_token: Token | None = None
        if kind != "example":
            if index >= len(tokens) or tokens[index].kind != "ident":
                self.unexpected(command, tokens, index, "identifier", following)
                return
            name_token = tokens[index]
            index += 1
        binders, index = self.parse_binders(tokens, index)
        type_tokens: list[Token] = []
        if index < len(tokens) and tokens[index].text == ":":
            stop = find_top_level(tokens, index + 1, {":=", "where", "|"})
            type_tokens, index = tokens[index + 1 : stop], stop
        elif kind == "theorem":
            self.unexpected(command, tokens, index, "':'", following)
            return
        if index >= len(tokens) or tokens[index].text not in (":=", "where", "|"):
            self.unexpected(command, tokens, index, "':=', 'where' or '|'", following)
            return
        body = tokens[index + 1 :] if tokens[index].text == ":=" else []
        full = self.qualify(name_token.text) if name_token else ""
        if name_token is not None and (full in self.decls or full in BUILTINS):
            self.error(
                command,
                f"'{full}' has already been declared",
                name_token.start_pos,
                name_token.end_pos,
            )
            return
        pairs = [pair for binder in binders for pair in binder.pairs()]
        command.locals = dict(pairs)
        hyps = hypothesis_lines(pairs)
        declared = self.slice_text(type_tokens)
        decl = Decl(
            full,
            kind,
            declared,
            declared,
            ctx=command.ctx,
            params=tuple(n.text for b in binders if b.bracket == "(" for n in b.names),
            body_text=self.slice_text(body),
        )
        if body and body[0].text == "by":
            self.tactic_block(command, body, hyps, declared or "?")
        elif body:
            self.term_body(command, decl, body, hyps)
        if kind == "theorem" or kind == "example":
            decl.type = (
                f"∀ {' '.join(b.render() for b in binders)}, {declared}" if binders else declared
            )
        else:
            arrows: list[str] = []
            for binder in binders:
                if binder.bracket == "(":
                    arrows.extend([binder.type] * max(1, len(binder.names)))
                else:
                    arrows.append(binder.render())
            decl.type = " → ".join([*arrows, decl.result_type or "?"])
        if any(t.kind == "ident" and t.text == "sorry" for t in body):
            anchor = name_token or keyword
            command.diags.append(
                Diag(SEVERITY_WARNING, "declaration uses `sorry`", anchor.start_pos, anchor.end_pos)
            )
        if name_token is not None:
            self.register(decl, name_token, command)

    def term_body(self, command: Command, decl: Decl, body: list[Token], hyps: list[str]) -> None:
        expected = decl.result_type
        try:
            expr: Expr | None = ExprParser.parse(body)
        except EvalError:
            expr = None
        if expr is not None and decl.kind in ("def", "abbrev"):
            unknown = self.unknown_identifiers(command, expr, set(command.locals))
            command.diags.extend(unknown)
            decl.body = None if unknown else expr
            if not unknown:
                expected = expected or self.evaluator.infer(expr, command.ctx, command.locals) or ""
                decl.result_type = expected
            if not unknown and not decl.params:
                try:
                    decl.value = self.evaluator.evaluate(expr, command.ctx, {})
                except EvalError:
                    decl.value = None
            if decl.value is not None and decl.result_type == "Nat" and isinstance(decl.value, str):
                command.diags.append(
                    Diag(
                        SEVERITY_ERROR,
                        f"Type mismatch\n  {self.slice_text(body)}\nhas type\n  String : Type\n"
                        "but is expected to have type\n  Nat : Type",
                        body[0].start_pos,
                        body[-1].end_pos,
                    )
                )
                decl.value = None
        if (
            isinstance(expr, Name)
            and expected not in ("", "Type")
            and (named := self.lookup_type(expr, command)) == "Type"
        ):
            command.diags.append(
                Diag(
                    SEVERITY_ERROR,
                    f"Type mismatch\n  {expr.text}\nhas type\n  {named}\nof sort `Type 1` but is "
                    f"expected to have type\n  {expected}\nof sort `Type`",
                    body[0].start_pos,
                    body[-1].end_pos,
                )
            )
        if expected:
            command.term = TermBody(body[0].start_pos, body[-1].end_pos, hyps, expected)

    def lookup_type(self, expr: Name, command: Command) -> str | None:
        decl = resolve_name(expr.text, command.ctx, self.decls)
        return decl.type if decl is not None and expr.text not in command.locals else None

    def tactic_block(
        self, command: Command, body: list[Token], hyps: list[str], target: str
    ) -> None:
        by = body[0]
        tactics: list[Tactic] = []
        for segment in split_tactics(body[1:]):
            head = 0
            while head < len(segment) - 1 and segment[head].text in ("·", "."):
                head += 1
            tactics.append(
                Tactic(
                    segment[head].text,
                    segment[head].start_pos,
                    segment[-1].end_pos,
                    segment[head + 1 :],
                )
            )
        initial = [Goal(None, target)]
        goals = initial
        before: list[list[Goal]] = []
        after: list[list[Goal]] = []
        for tactic in tactics:
            before.append(goals)
            if not goals:
                self.error(command, "no goals to be proved", tactic.start, tactic.end)
            elif tactic.name in CLOSING_TACTICS:
                goals = goals[1:]
            elif tactic.name == "constructor" and (parts := split_conjunction(goals[0].target)):
                goals = [Goal("left", parts[0]), Goal("right", parts[1]), *goals[1:]]
            after.append(goals)
        if goals:
            end = tactics[-1].end if tactics else by.end_pos
            message = "unsolved goals\n" + "\n\n".join(g.render(hyps) for g in goals)
            command.diags.append(
                Diag(SEVERITY_ERROR, message, by.start_pos, end, (LEAN_TAG_UNSOLVED_GOALS,))
            )
        command.proof = Proof(
            by.start_pos, command.region_end, hyps, initial, tactics, before, after
        )

    def is_known(self, command: Command, name: str, local: set[str]) -> bool:
        if name == "sorry" or name in local:
            return True
        if resolve_name(name, command.ctx, self.decls) is not None:
            return True
        head, dot, _ = name.partition(".")
        return bool(dot) and (
            head in local or resolve_name(head, command.ctx, self.decls) is not None
        )

    def unknown_identifiers(self, command: Command, expr: Expr, local: set[str]) -> list[Diag]:
        return [
            Diag(
                SEVERITY_ERROR,
                f"unknown identifier '{name.text}'",
                name.token.start_pos,
                name.token.end_pos,
            )
            for name in expr_names(expr)
            if not self.is_known(command, name.text, local)
        ]

    def parse_or_report(
        self, command: Command, keyword: Token, args: list[Token], what: str
    ) -> Expr | None:
        if not args:
            self.error(
                command, "unexpected end of input; expected term", keyword.end_pos, keyword.end_pos
            )
            return None
        try:
            return ExprParser.parse(args)
        except EvalError:
            self.error(
                command,
                f"standin: cannot {what} this expression",
                args[0].start_pos,
                args[-1].end_pos,
            )
            return None

    def info(self, command: Command, keyword: Token, message: str) -> None:
        command.diags.append(Diag(SEVERITY_INFO, message, keyword.start_pos, keyword.end_pos))

    def eval_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        expr = self.parse_or_report(command, keyword, args, "evaluate")
        if expr is None:
            return
        unknown = self.unknown_identifiers(command, expr, set())
        if unknown:
            command.diags.extend(unknown)
            return
        printer = None
        if (
            isinstance(expr, App)
            and isinstance(expr.fn, Name)
            and len(expr.args) == 1
            and expr.fn.text in ("IO.println", "IO.print")
        ):
            printer, expr = expr.fn.text, expr.args[0]
        try:
            value = self.evaluator.evaluate(expr, command.ctx, {})
        except EvalError:
            self.error(
                command,
                "standin: cannot evaluate this expression",
                args[0].start_pos,
                args[-1].end_pos,
            )
            return
        if printer is not None:
            text = str(value) + ("\n" if printer == "IO.println" else "")
        else:
            text = lean_quote(value) if isinstance(value, str) else str(value)
        self.info(command, keyword, text)

    def check(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if len(args) == 1 and args[0].kind == "ident":
            decl = resolve_name(args[0].text, command.ctx, self.decls)
            if decl is None:
                self.error(
                    command,
                    f"unknown identifier '{args[0].text}'",
                    args[0].start_pos,
                    args[0].end_pos,
                )
            else:
                self.info(command, keyword, f"{decl.name} : {decl.type}")
            return
        expr = self.parse_or_report(command, keyword, args, "elaborate")
        if expr is None:
            return
        unknown = self.unknown_identifiers(command, expr, set())
        if unknown:
            command.diags.extend(unknown)
            return
        type_ = self.evaluator.infer(expr, command.ctx, {})
        if type_ is None:
            self.error(
                command,
                "standin: cannot elaborate this expression",
                args[0].start_pos,
                args[-1].end_pos,
            )
        else:
            self.info(command, keyword, f"{self.slice_text(args)} : {type_}")

    def print_(self, command: Command, keyword: Token, args: list[Token]) -> None:
        if len(args) == 1 and args[0].kind == "str":
            self.info(command, keyword, unquote(args[0].text))
            return
        if len(args) != 1 or args[0].kind != "ident":
            self.error(
                command,
                "standin: #print expects a name or a string",
                keyword.start_pos,
                keyword.end_pos,
            )
            return
        decl = resolve_name(args[0].text, command.ctx, self.decls)
        if decl is None:
            self.error(
                command, f"unknown identifier '{args[0].text}'", args[0].start_pos, args[0].end_pos
            )
        elif decl.name in self.decls and decl.kind in ("def", "abbrev", "theorem"):
            body = decl.body_text
            if decl.params:
                body = f"fun {' '.join(decl.params)} => {body}"
            self.info(command, keyword, f"{decl.kind} {decl.name} : {decl.type} :=\n{body}")
        else:
            self.info(command, keyword, f"{decl.kind} {decl.name} : {decl.type}")


def analyze(text: SourceText) -> Analysis:
    return Analyzer(text).run()


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------
