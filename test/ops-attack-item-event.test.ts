// A Pub/Sub item message that can never be run is unreadable (acknowledged and logged), not redelivered until it
// is dead-lettered: an `after` that is not an earlier item would wait for ever, and an item named twice would run
// twice in one delivery.
import {itemOf} from '../functions/operations/item-event';

const event = (m: object) => ({
  data: {
    message: {
      data: Buffer.from(JSON.stringify(m)).toString('base64'),
      messageId: '1',
    },
  },
});
const item = (index: number, after?: number) => ({
  index,
  action: 'create',
  invitation: {userId: 'a@school.example', courseId: 'd:x', role: 'STUDENT'},
  ...(after === undefined ? {} : {after}),
});
const message = (after: number) => ({
  operation: 'A'.repeat(22),
  items: [item(2, after)],
});

it('an item that waits for itself or a later item is unreadable; one that waits for an earlier item is read', () => {
  expect(itemOf(event(message(2)))).toBeUndefined();
  expect(itemOf(event(message(3)))).toBeUndefined();
  expect(itemOf(event(message(1)))?.message.items[0]?.after).toBe(1);
});

it('a message naming one item twice, or no item, or more than 100, is unreadable', () => {
  const op = 'A'.repeat(22);
  expect(
    itemOf(event({operation: op, items: [item(1), item(1)]})),
  ).toBeUndefined();
  expect(itemOf(event({operation: op, items: []}))).toBeUndefined();
  const many = Array.from({length: 101}, (_, i) => item(i));
  expect(itemOf(event({operation: op, items: many}))).toBeUndefined();
  expect(
    itemOf(event({operation: op, items: many.slice(0, 100)})),
  ).toBeDefined();
});
