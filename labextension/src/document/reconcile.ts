/**
 * Plan the fewest cell removals and insertions that turn one ordered list of
 * cell ids into another.
 *
 * Cells that keep their relative order (a longest increasing subsequence of
 * their new positions) stay put; every other surviving cell is "moved", i.e.
 * removed and inserted again. A notebook move of one cell therefore costs one
 * removal and one insertion of that cell's text, whatever the notebook size.
 */
export interface IReconcilePlan {
  /** Ids to remove (cells that are gone, then cells that moved). */
  remove: string[];
  /** Ids to insert, with their index in the new order, in ascending index. */
  insert: { id: string; index: number }[];
}

export function planReconcile(
  oldIds: readonly string[],
  newIds: readonly string[]
): IReconcilePlan {
  const newIndex = new Map<string, number>();
  newIds.forEach((id, index) => newIndex.set(id, index));

  const survivors = oldIds.filter(id => newIndex.has(id));
  const keep = new Set(
    longestIncreasingSubsequence(survivors.map(id => newIndex.get(id)!)).map(
      position => survivors[position]
    )
  );

  const remove = oldIds.filter(id => !keep.has(id));
  const insert = newIds
    .map((id, index) => ({ id, index }))
    .filter(({ id }) => !keep.has(id));
  return { remove, insert };
}

/**
 * Positions (into `values`) of one longest strictly increasing subsequence,
 * O(n log n) patience sorting.
 */
export function longestIncreasingSubsequence(
  values: readonly number[]
): number[] {
  // tails[k] = position of the smallest tail of an increasing run of length k+1
  const tails: number[] = [];
  const previous: number[] = new Array(values.length).fill(-1);
  values.forEach((value, position) => {
    let low = 0;
    let high = tails.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (values[tails[middle]] < value) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    if (low > 0) {
      previous[position] = tails[low - 1];
    }
    tails[low] = position;
  });
  const result: number[] = [];
  let position = tails.length > 0 ? tails[tails.length - 1] : -1;
  while (position !== -1) {
    result.push(position);
    position = previous[position];
  }
  return result.reverse();
}
