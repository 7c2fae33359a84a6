// A Pub/Sub item message that can never be run is unreadable (acknowledged and logged), not redelivered until it
// is dead-lettered: an `after` that is not an earlier item would wait for ever.
import {itemOf} from '../functions/operations/item-event';

const event = (m: object) => ({
  data: {
    message: {
      data: Buffer.from(JSON.stringify(m)).toString('base64'),
      messageId: '1',
    },
  },
});
const message = (after: number) => ({
  operation: 'A'.repeat(22),
  index: 2,
  action: 'create',
  invitation: {userId: 'a@school.example', courseId: 'd:x', role: 'STUDENT'},
  after,
});

it('an item that waits for itself or a later item is unreadable; one that waits for an earlier item is read', () => {
  expect(itemOf(event(message(2)))).toBeUndefined();
  expect(itemOf(event(message(3)))).toBeUndefined();
  expect(itemOf(event(message(1)))?.message.after).toBe(1);
});
