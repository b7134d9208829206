/**
 * The kernel's interactive outputs (`lean_kernel/interactive.py`): Lean's
 * `getInteractiveGoals` answer (`kind: "goals"`) or the messages of
 * `getInteractiveDiagnostics` (`kind: "messages"`), and the RPC session their
 * references belong to. Everything in them is Lean's (untrusted) text: it is
 * checked here for shape and later only ever put into the page as text.
 */

export const LEAN_OUTPUT_MIME = 'application/vnd.jupyter-lean.infoview+json';

/** Lean's RPC reference to a subterm's information (`{"p": "12"}`). */
export type RpcRef = unknown;

/** Lean's TaggedText of SubexprInfo (`CodeWithInfos`). */
export type TaggedText =
  | { text: string }
  | { append: TaggedText[] }
  | { tag: [{ info?: RpcRef; subexprPos?: string }, TaggedText] };

export interface IHypothesis {
  names: string[];
  type: TaggedText;
  val?: TaggedText;
}

export interface IGoal {
  hyps: IHypothesis[];
  type: TaggedText;
  userName?: string;
  goalPrefix?: string;
}

export interface IRpcTarget {
  kernel: string;
  session: string | number;
}

export interface IGoalsPayload {
  kind: 'goals';
  title: string;
  position: { line: number; character: number };
  goals: IGoal[];
  termGoal: IGoal | null;
  rpc: IRpcTarget | null;
}

/** Lean's `TraceEmbed`; `children` null: lazy (Lean sends them on request). */
export interface ITraceEmbed {
  indent: number;
  cls: string;
  msg: InteractiveMessage;
  collapsed: boolean;
  children: InteractiveMessage[] | null;
}

/** The embeds of Lean's `MsgEmbed` this renderer knows. */
export type MsgEmbed =
  | { expr: TaggedText }
  | { goal: IGoal }
  | { widget: { alt: InteractiveMessage } }
  | { trace: ITraceEmbed };

/**
 * Lean's `TaggedText MsgEmbed`, checked: a tag is replaced by its embed
 * (the tag's own text is always empty), an embed this renderer does not know
 * by the tag's text.
 */
export type InteractiveMessage =
  { text: string } | { append: InteractiveMessage[] } | { embed: MsgEmbed };

export type Severity = 1 | 2 | 3 | 4; // error, warning, information, hint

export interface IMessage {
  severity: Severity;
  where: string;
  message: InteractiveMessage;
}

export interface IMessagesPayload {
  kind: 'messages';
  title: string;
  position: { line: number; character: number };
  messages: IMessage[];
  rpc: IRpcTarget | null;
}

export type ILeanPayload = IGoalsPayload | IMessagesPayload;

const MAX_DEPTH = 500; // deeper text is cut: a hostile output must not blow the stack

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isTaggedText(value: unknown, depth = 0): value is TaggedText {
  if (!isObject(value) || depth > MAX_DEPTH) {
    return false;
  }
  if (typeof value.text === 'string') {
    return true;
  }
  if (Array.isArray(value.append)) {
    return value.append.every(part => isTaggedText(part, depth + 1));
  }
  const tag = value.tag;
  return (
    Array.isArray(tag) &&
    tag.length === 2 &&
    isObject(tag[0]) &&
    isTaggedText(tag[1], depth + 1)
  );
}

function parseGoal(value: unknown, depth = 0): IGoal | null {
  if (!isObject(value) || !isTaggedText(value.type, depth)) {
    return null;
  }
  const hyps = Array.isArray(value.hyps) ? value.hyps : [];
  const parsed: IHypothesis[] = [];
  for (const hyp of hyps) {
    if (
      !isObject(hyp) ||
      !Array.isArray(hyp.names) ||
      !hyp.names.every(name => typeof name === 'string') ||
      !isTaggedText(hyp.type, depth)
    ) {
      return null;
    }
    parsed.push({
      names: hyp.names as string[],
      type: hyp.type,
      val: isTaggedText(hyp.val, depth) ? hyp.val : undefined
    });
  }
  return {
    hyps: parsed,
    type: value.type,
    userName: typeof value.userName === 'string' ? value.userName : undefined,
    goalPrefix:
      typeof value.goalPrefix === 'string' ? value.goalPrefix : undefined
  };
}

function parsePosition(
  value: unknown
): { line: number; character: number } | null {
  return isObject(value) &&
    typeof value.line === 'number' &&
    typeof value.character === 'number'
    ? { line: value.line, character: value.character }
    : null;
}

function parseTarget(rpc: unknown): IRpcTarget | null {
  return isObject(rpc) &&
    typeof rpc.kernel === 'string' &&
    (typeof rpc.session === 'string' || typeof rpc.session === 'number')
    ? { kernel: rpc.kernel, session: rpc.session }
    : null;
}

/** A goals payload, or null when it is not one. */
export function parseGoalsPayload(data: unknown): IGoalsPayload | null {
  if (!isObject(data) || data.version !== 1 || data.kind !== 'goals') {
    return null;
  }
  const position = parsePosition(data.position);
  if (position === null) {
    return null;
  }
  const goals: IGoal[] = [];
  for (const goal of Array.isArray(data.goals) ? data.goals : []) {
    const parsed = parseGoal(goal);
    if (parsed === null) {
      return null;
    }
    goals.push(parsed);
  }
  const termGoal = data.termGoal == null ? null : parseGoal(data.termGoal);
  if (data.termGoal != null && termGoal === null) {
    return null;
  }
  return {
    kind: 'goals',
    title: typeof data.title === 'string' ? data.title : '',
    position,
    goals,
    termGoal,
    rpc: parseTarget(data.rpc)
  };
}

function parseMessages(
  values: unknown[],
  depth: number
): InteractiveMessage[] | null {
  const parsed: InteractiveMessage[] = [];
  for (const value of values) {
    const message = parseMessage(value, depth);
    if (message === null) {
      return null;
    }
    parsed.push(message);
  }
  return parsed;
}

function parseTrace(value: unknown, depth: number): ITraceEmbed | null {
  if (
    !isObject(value) ||
    typeof value.cls !== 'string' ||
    !isObject(value.children)
  ) {
    return null;
  }
  const msg = parseMessage(value.msg, depth + 1);
  if (msg === null) {
    return null;
  }
  const { strict } = value.children;
  let children: InteractiveMessage[] | null = null;
  if (Array.isArray(strict)) {
    children = parseMessages(strict, depth + 1);
    if (children === null) {
      return null;
    }
  } else if (!('lazy' in value.children)) {
    return null;
  }
  return {
    indent: typeof value.indent === 'number' ? value.indent : 0,
    cls: value.cls,
    msg,
    collapsed: value.collapsed === true,
    children
  };
}

/** A known embed checked (null: malformed), or undefined: not one known. */
function parseEmbed(
  embed: Record<string, unknown>,
  depth: number
): MsgEmbed | null | undefined {
  if ('expr' in embed) {
    return isTaggedText(embed.expr, depth) ? { expr: embed.expr } : null;
  }
  if ('goal' in embed) {
    const goal = parseGoal(embed.goal, depth);
    return goal === null ? null : { goal };
  }
  if ('widget' in embed) {
    const widget = embed.widget;
    const alt = isObject(widget) ? parseMessage(widget.alt, depth) : null;
    return alt === null ? null : { widget: { alt } };
  }
  if ('trace' in embed) {
    const trace = parseTrace(embed.trace, depth);
    return trace === null ? null : { trace };
  }
  return undefined;
}

/**
 * Lean's `TaggedText MsgEmbed` checked and normalized, or null when it is
 * malformed or nested deeper than it renders. An embed of a later Lean this
 * renderer does not know becomes the tag's text (or nothing).
 */
export function parseMessage(
  value: unknown,
  depth = 0
): InteractiveMessage | null {
  if (!isObject(value) || depth > MAX_DEPTH) {
    return null;
  }
  if (typeof value.text === 'string') {
    return { text: value.text };
  }
  if (Array.isArray(value.append)) {
    const parts = parseMessages(value.append, depth + 1);
    return parts === null ? null : { append: parts };
  }
  const tag = value.tag;
  if (!Array.isArray(tag) || tag.length !== 2 || !isObject(tag[0])) {
    return null;
  }
  const embed = parseEmbed(tag[0], depth + 1);
  if (embed !== undefined) {
    return embed === null ? null : { embed };
  }
  return parseMessage(tag[1], depth + 1) ?? { text: '' };
}

function isSeverity(value: unknown): value is Severity {
  return value === 1 || value === 2 || value === 3 || value === 4;
}

/** A messages payload, or null when it is not one. */
export function parseMessagesPayload(data: unknown): IMessagesPayload | null {
  if (!isObject(data) || data.version !== 1 || data.kind !== 'messages') {
    return null;
  }
  const position = parsePosition(data.position);
  if (position === null || !Array.isArray(data.messages)) {
    return null;
  }
  const messages: IMessage[] = [];
  for (const item of data.messages) {
    if (
      !isObject(item) ||
      !isSeverity(item.severity) ||
      typeof item.where !== 'string'
    ) {
      return null;
    }
    const message = parseMessage(item.message);
    if (message === null) {
      return null;
    }
    messages.push({ severity: item.severity, where: item.where, message });
  }
  return {
    kind: 'messages',
    title: typeof data.title === 'string' ? data.title : '',
    position,
    messages,
    rpc: parseTarget(data.rpc)
  };
}

/** The payload, or null when it is not one this renderer knows. */
export function parsePayload(data: unknown): ILeanPayload | null {
  return parseGoalsPayload(data) ?? parseMessagesPayload(data);
}

/** The plain text of tagged text. */
export function flatText(text: TaggedText): string {
  if ('text' in text) {
    return text.text;
  }
  if ('append' in text) {
    return text.append.map(flatText).join('');
  }
  return flatText(text.tag[1]);
}
