/**
 * The kernel's interactive goals output (`lean_kernel/interactive.py`):
 * Lean's `getInteractiveGoals` answer and the RPC session its references
 * belong to. Everything in it is Lean's (untrusted) text: it is checked here
 * for shape and later only ever put into the page as text.
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

function parseGoal(value: unknown): IGoal | null {
  if (!isObject(value) || !isTaggedText(value.type)) {
    return null;
  }
  const hyps = Array.isArray(value.hyps) ? value.hyps : [];
  const parsed: IHypothesis[] = [];
  for (const hyp of hyps) {
    if (
      !isObject(hyp) ||
      !Array.isArray(hyp.names) ||
      !hyp.names.every(name => typeof name === 'string') ||
      !isTaggedText(hyp.type)
    ) {
      return null;
    }
    parsed.push({
      names: hyp.names as string[],
      type: hyp.type,
      val: isTaggedText(hyp.val) ? hyp.val : undefined
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

/** The payload, or null when it is not one this renderer knows. */
export function parsePayload(data: unknown): IGoalsPayload | null {
  if (!isObject(data) || data.version !== 1 || data.kind !== 'goals') {
    return null;
  }
  const position = data.position;
  if (
    !isObject(position) ||
    typeof position.line !== 'number' ||
    typeof position.character !== 'number'
  ) {
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
  const rpc = data.rpc;
  const target =
    isObject(rpc) &&
    typeof rpc.kernel === 'string' &&
    (typeof rpc.session === 'string' || typeof rpc.session === 'number')
      ? { kernel: rpc.kernel, session: rpc.session }
      : null;
  return {
    kind: 'goals',
    title: typeof data.title === 'string' ? data.title : '',
    position: { line: position.line, character: position.character },
    goals,
    termGoal,
    rpc: target
  };
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
