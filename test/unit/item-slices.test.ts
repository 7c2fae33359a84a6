// How an operation's items are cut into Pub/Sub messages: ITEMS_PER_MESSAGE to a message in index order, and an
// item that must come after another of the same pair kept in that one's message (so the order holds in one delivery).
import {slices} from '../../functions/operations/intake';
import type {ItemSpec} from '../../functions/operations/worker';

const spec = (index: number, after?: number): ItemSpec => ({
  index,
  action: after === undefined ? 'create' : 'withdraw',
  invitation: {
    userId: `u${index}@school.example`,
    courseId: 'd:c',
    role: 'STUDENT',
  },
  ...(after === undefined ? {} : {after}),
});
const indexes = (s: ItemSpec[][]) => s.map(x => x.map(i => i.index));

it('items go in index order, size to a message, the last one shorter', () => {
  const items = Array.from({length: 7}, (_, i) => spec(i));
  expect(indexes(slices(items, 3))).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
  expect(indexes(slices(items, 1))).toHaveLength(7);
  expect(slices([], 20)).toEqual([]);
});

it('an item after an earlier one joins its message even when that one is full', () => {
  const items = [spec(0), spec(1), spec(2), spec(3, 0), spec(4), spec(5, 3)];
  expect(indexes(slices(items, 2))).toEqual([
    [0, 1, 3, 5],
    [2, 4],
  ]);
});

it('a message never holds more than 100 items: a longer chain of one pair spills into the next message', () => {
  const items = [
    spec(0),
    ...Array.from({length: 120}, (_, i) => spec(i + 1, i)),
  ];
  const out = slices(items, 20);
  expect(Math.max(...out.map(s => s.length))).toBe(100);
  expect(out.flat().map(i => i.index)).toEqual(items.map(i => i.index));
});
