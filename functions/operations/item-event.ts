// The CloudEvent a Pub/Sub message arrives in (Eventarc in production; the Functions Framework builds the same
// from the emulator's push): `data.message.data` is the item message, base64-encoded JSON.
import {z} from 'zod';
import {EVENT_DATA_MAX_CHARS} from '../http/body-limits';
import {ItemMessage} from './worker';

const PubSubEventData = z.object({
  message: z.object({
    // 100 items of the longest fields, base64-encoded, with room to spare (the guard's cap on an event's body).
    data: z.string().max(EVENT_DATA_MAX_CHARS),
    messageId: z.string().max(256).optional(),
    message_id: z.string().max(256).optional(),
  }),
});

export interface ItemDelivery {
  message: ItemMessage;
  messageId: string;
}

/** The item a CloudEvent carries, or undefined for anything else (a poison message: acknowledged and logged). */
export function itemOf(event: {data?: unknown}): ItemDelivery | undefined {
  const envelope = PubSubEventData.safeParse(event.data);
  if (!envelope.success) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(
      Buffer.from(envelope.data.message.data, 'base64').toString('utf8'),
    );
  } catch {
    return undefined;
  }
  const message = ItemMessage.safeParse(json);
  if (!message.success) return undefined;
  const m = envelope.data.message;
  return {message: message.data, messageId: m.messageId ?? m.message_id ?? ''};
}
