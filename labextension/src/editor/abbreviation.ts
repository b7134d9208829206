import {
  Annotation,
  EditorSelection,
  EditorState,
  Extension,
  RangeSetBuilder,
  Transaction,
  TransactionSpec
} from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate
} from '@codemirror/view';
import {
  AbbreviationConfig,
  AbbreviationProvider,
  AbbreviationRewriter,
  AbbreviationTextSource,
  Change,
  Range,
  TrackedAbbreviation
} from '@leanprover/unicode-input';

/**
 * Lean's unicode input (`\alpha` → `α`) for CodeMirror 6, driving the
 * AbbreviationRewriter of `@leanprover/unicode-input` (the one VS Code uses)
 * with CodeMirror transactions instead of VS Code edits.
 *
 * The rewriter tracks every `\` the user types; each later change extends or
 * finishes the tracked abbreviation. A finished one (continued with a
 * character no abbreviation has, e.g. a space) or a unique and complete one
 * is replaced by its symbol; so is one the cursor leaves.
 */

/** What the driver needs of an editor: its state and a way to change it. */
export interface IEditorHost {
  readonly state: EditorState;
  dispatch(spec: TransactionSpec): void;
}

/** Marks the transactions that replace abbreviations. */
export const abbreviationReplacement = Annotation.define<boolean>();

export const DEFAULT_ABBREVIATION_CONFIG: AbbreviationConfig = {
  abbreviationCharacter: '\\',
  customTranslations: {},
  eagerReplacementEnabled: true
};

let sharedProvider: AbbreviationProvider | null = null;

/** One provider for all editors: it holds the ~1800-entry table and a cache. */
export function defaultAbbreviationProvider(): AbbreviationProvider {
  if (!sharedProvider) {
    sharedProvider = new AbbreviationProvider(DEFAULT_ABBREVIATION_CONFIG);
  }
  return sharedProvider;
}

/**
 * Feeds one editor's transactions to an AbbreviationRewriter and applies its
 * replacements. Works on any IEditorHost, so it is tested without a DOM.
 */
export class AbbreviationDriver {
  constructor(
    host: IEditorHost,
    provider: AbbreviationProvider = defaultAbbreviationProvider(),
    config: AbbreviationConfig = DEFAULT_ABBREVIATION_CONFIG
  ) {
    this._host = host;
    this._leader = config.abbreviationCharacter;
    const textSource: AbbreviationTextSource = {
      replaceAbbreviations: async changes => this._replace(changes),
      // CodeMirror maps the cursor through the replacement itself; only
      // symbols with a `$CURSOR` marker need it moved afterwards.
      selectionMoveMode: () => ({
        kind: 'OnlyMoveCursorSelections',
        updateUnchangedSelections: false
      }),
      collectSelections: () =>
        this._host.state.selection.ranges.map(
          range => new Range(range.from, range.to - range.from)
        ),
      setSelections: selections => {
        if (this._disposed || selections.length === 0) {
          return;
        }
        this._host.dispatch({
          selection: EditorSelection.create(
            selections.map(s =>
              EditorSelection.range(s.offset, s.offset + s.length)
            )
          )
        });
      }
    };
    this._rewriter = new AbbreviationRewriter(config, provider, textSource);
  }

  /** Ranges (leader included) of the abbreviations being typed. */
  trackedRanges(): { from: number; to: number }[] {
    return [...this._rewriter.getTrackedAbbreviations()]
      .map(abbreviation => ({
        from: abbreviation.range.offset,
        to: abbreviation.range.offset + abbreviation.range.length
      }))
      .sort((a, b) => a.from - b.from);
  }

  /** Tell the rewriter about a transaction the editor just applied. */
  handleTransaction(transaction: Transaction): void {
    if (this._disposed) {
      return;
    }
    if (transaction.docChanged) {
      const changes: Change[] = [];
      transaction.changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
        changes.push({
          range: new Range(fromA, toA - fromA),
          newText: inserted.toString()
        });
      });
      const tracked = this._rewriter.getTrackedAbbreviations();
      const before = new Set<TrackedAbbreviation>(tracked);
      this._rewriter.changeInput(changes);
      // A `\` typed by a collaborator (or set programmatically) is theirs to
      // replace: only start tracking what this user typed.
      if (!transaction.annotation(Transaction.userEvent)) {
        for (const abbreviation of [...tracked]) {
          if (!before.has(abbreviation)) {
            tracked.delete(abbreviation);
          }
        }
      }
    }
    if (transaction.docChanged || transaction.selection) {
      this._scheduleReplacement();
    }
  }

  /** Replace every tracked abbreviation now (e.g. on blur). */
  async replaceAll(): Promise<void> {
    await this._rewriter.replaceAllTrackedAbbreviations();
  }

  dispose(): void {
    this._disposed = true;
    this._rewriter.resetTrackedAbbreviations();
  }

  // CodeMirror forbids dispatching while it is applying a transaction, so
  // replacements run right after, in a microtask. The rewriter's positions
  // stay current meanwhile because changeInput runs synchronously.
  private _scheduleReplacement(): void {
    if (this._replacementQueued) {
      return;
    }
    this._replacementQueued = true;
    queueMicrotask(() => {
      this._replacementQueued = false;
      if (this._disposed) {
        return;
      }
      const before = this._trackedKey();
      void this._rewriter.triggerAbbreviationReplacement();
      void this._rewriter.changeSelections(
        this._host.state.selection.ranges.map(
          range => new Range(range.from, range.to - range.from)
        )
      );
      if (this._trackedKey() !== before && !this._dispatchedSinceKey) {
        // Tracking ended without an edit (an unknown abbreviation): an empty
        // transaction lets the underline go away.
        this._host.dispatch({});
      }
      this._dispatchedSinceKey = false;
    });
  }

  private _replace(changes: Change[]): boolean {
    if (this._disposed) {
      return false;
    }
    if (changes.length === 0) {
      return true;
    }
    const doc = this._host.state.doc;
    for (const change of changes) {
      const end = change.range.offset + change.range.length;
      if (
        end > doc.length ||
        doc.sliceString(change.range.offset, change.range.offset + 1) !==
          this._leader
      ) {
        return false; // the text moved under us; the rewriter retries later
      }
    }
    this._dispatchedSinceKey = true;
    this._host.dispatch({
      changes: changes.map(change => ({
        from: change.range.offset,
        to: change.range.offset + change.range.length,
        insert: change.newText
      })),
      annotations: [
        abbreviationReplacement.of(true),
        Transaction.userEvent.of('input.abbreviation')
      ]
    });
    return true;
  }

  private _trackedKey(): string {
    return this.trackedRanges()
      .map(range => `${range.from}-${range.to}`)
      .join(',');
  }

  private readonly _host: IEditorHost;
  private readonly _leader: string;
  private readonly _rewriter: AbbreviationRewriter;
  private _disposed = false;
  private _replacementQueued = false;
  private _dispatchedSinceKey = false;
}

const trackedMark = Decoration.mark({ class: 'jp-Lean-abbreviation' });

/** The CodeMirror extension: unicode input plus an underline under `\abbr`. */
export function abbreviationInput(
  provider: AbbreviationProvider = defaultAbbreviationProvider()
): Extension {
  return ViewPlugin.fromClass(
    class {
      constructor(view: EditorView) {
        this._driver = new AbbreviationDriver(
          {
            get state() {
              return view.state;
            },
            dispatch: spec => view.dispatch(spec)
          },
          provider
        );
        this.decorations = Decoration.none;
      }

      decorations: DecorationSet;

      update(update: ViewUpdate): void {
        for (const transaction of update.transactions) {
          this._driver.handleTransaction(transaction);
        }
        const builder = new RangeSetBuilder<Decoration>();
        for (const range of this._driver.trackedRanges()) {
          if (range.to > range.from && range.to <= update.state.doc.length) {
            builder.add(range.from, range.to, trackedMark);
          }
        }
        this.decorations = builder.finish();
      }

      destroy(): void {
        this._driver.dispose();
      }

      private readonly _driver: AbbreviationDriver;
    },
    { decorations: plugin => plugin.decorations }
  );
}
