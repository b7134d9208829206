import { describe, expect, it } from 'vitest';

import {
  IReconcilePlan,
  longestIncreasingSubsequence,
  planReconcile
} from '../src/document/reconcile';
import { randomGenerator } from './helpers';

/** Carry out a plan on a list of ids, as the virtual document does. */
function applyPlan(oldIds: readonly string[], plan: IReconcilePlan): string[] {
  const removed = new Set(plan.remove);
  const ids = oldIds.filter(id => !removed.has(id));
  for (const { id, index } of plan.insert) {
    ids.splice(index, 0, id);
  }
  return ids;
}

/** A random notebook edit: some cells deleted, some added, some moved. */
function shuffleEdit(
  oldIds: readonly string[],
  random: () => number
): string[] {
  const ids = oldIds.filter(() => random() > 0.2);
  let fresh = 0;
  for (let count = Math.floor(random() * 4); count > 0; count--) {
    ids.splice(Math.floor(random() * (ids.length + 1)), 0, `new${fresh++}`);
  }
  for (let moves = Math.floor(random() * 3); moves > 0 && ids.length; moves--) {
    const [moved] = ids.splice(Math.floor(random() * ids.length), 1);
    ids.splice(Math.floor(random() * (ids.length + 1)), 0, moved);
  }
  return ids;
}

describe('longestIncreasingSubsequence', () => {
  it('is empty for no values', () => {
    expect(longestIncreasingSubsequence([])).toEqual([]);
  });

  it('gives positions of a strictly increasing run of the greatest length', () => {
    const values = [3, 1, 4, 1, 5, 9, 2, 6];
    const positions = longestIncreasingSubsequence(values);
    const run = positions.map(position => values[position]);
    expect(run).toHaveLength(4);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    run.slice(1).forEach((value, i) => expect(value).toBeGreaterThan(run[i]));
  });

  it('keeps everything of a sorted list and one of a reversed one', () => {
    expect(longestIncreasingSubsequence([0, 1, 2, 3])).toEqual([0, 1, 2, 3]);
    expect(longestIncreasingSubsequence([3, 2, 1, 0])).toHaveLength(1);
  });
});

describe('planReconcile', () => {
  it('plans nothing when the order is unchanged', () => {
    expect(planReconcile(['a', 'b', 'c'], ['a', 'b', 'c'])).toEqual({
      remove: [],
      insert: []
    });
  });

  it('plans a move as one removal and one insertion', () => {
    expect(planReconcile(['a', 'b', 'c', 'd'], ['a', 'c', 'd', 'b'])).toEqual({
      remove: ['b'],
      insert: [{ id: 'b', index: 3 }]
    });
  });

  it('moves one cell of a large notebook at the cost of that cell only', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    const moved = [...ids.slice(0, 10), ...ids.slice(11, 900), ids[10]];
    moved.push(...ids.slice(900));
    const plan = planReconcile(ids, moved);
    expect(plan.remove).toEqual(['c10']);
    expect(plan.insert).toEqual([{ id: 'c10', index: 899 }]);
  });

  it('plans additions and deletions', () => {
    expect(planReconcile(['a', 'b'], ['x', 'b', 'y'])).toEqual({
      remove: ['a'],
      insert: [
        { id: 'x', index: 0 },
        { id: 'y', index: 2 }
      ]
    });
  });

  it('clears and fills a notebook', () => {
    expect(planReconcile(['a', 'b'], [])).toEqual({
      remove: ['a', 'b'],
      insert: []
    });
    expect(planReconcile([], ['a'])).toEqual({
      remove: [],
      insert: [{ id: 'a', index: 0 }]
    });
  });

  it('turns any old order into the new one with the fewest removals', () => {
    const random = randomGenerator(12);
    for (let round = 0; round < 300; round++) {
      const oldIds = Array.from(
        { length: Math.floor(random() * 12) },
        (_, i) => `c${i}`
      );
      const newIds = shuffleEdit(oldIds, random);
      const plan = planReconcile(oldIds, newIds);
      expect(applyPlan(oldIds, plan)).toEqual(newIds);
      // Inserted in ascending index, so each lands where it belongs.
      const indexes = plan.insert.map(entry => entry.index);
      expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
      // Everything kept in place is a longest run of unchanged order.
      const newIndex = new Map(newIds.map((id, index) => [id, index]));
      const survivors = oldIds.filter(id => newIndex.has(id));
      const kept = longestIncreasingSubsequence(
        survivors.map(id => newIndex.get(id)!)
      ).length;
      expect(plan.remove).toHaveLength(oldIds.length - kept);
    }
  });
});
