// POST /v1/invitations:batchCreate (AIP-233): `{"requests":[{"invitation":{userId, courseId, role}}, …]}`, up to
// 10,000 items. The envelope must be right or the whole call is refused; each item is then validated as a single
// create is, and a bad one becomes that item's result (400 INVALID_ARGUMENT) while the good ones go ahead.
import {ApiError, badRequest, toApiError} from './errors';
import {
  fieldName,
  InvitationRequest,
  parseJsonObjectBody,
  RawRequest,
  validateInvitation,
} from './validation';

export const MAX_BATCH_ITEMS = 10_000;

/** Each item in order: the invitation to create, or why it cannot be. */
export type BatchItem = InvitationRequest | ApiError;

export function parseBatchCreateRequest(
  raw: RawRequest,
  maxBytes: number,
): BatchItem[] {
  const body = parseJsonObjectBody(raw, maxBytes);
  const unknown = Object.keys(body).filter(k => k !== 'requests');
  if (unknown.length > 0)
    throw badRequest(
      `Invalid batch: unknown field ${fieldName(unknown[0]!)}.`,
      unknown.slice(0, 10).map(k => ({
        field: fieldName(k),
        description: 'unknown field',
      })),
    );
  const requests = body.requests;
  if (!Array.isArray(requests) || requests.length === 0)
    throw badRequest('Invalid batch: requests must be a non-empty array.', [
      {
        field: 'requests',
        description: 'a non-empty array of {"invitation": {…}}',
      },
    ]);
  if (requests.length > MAX_BATCH_ITEMS)
    throw badRequest(
      `Invalid batch: at most ${MAX_BATCH_ITEMS} requests, got ${requests.length}.`,
      [{field: 'requests', description: `at most ${MAX_BATCH_ITEMS} items`}],
    );
  return requests.map((r: unknown, i) => {
    try {
      const o = r as Record<string, unknown> | null;
      if (typeof o !== 'object' || o === null || Array.isArray(o))
        throw badRequest(`requests[${i}] must be an object.`, [
          {field: `requests[${i}]`, description: 'must be {"invitation": {…}}'},
        ]);
      const extra = Object.keys(o).filter(k => k !== 'invitation');
      const inv = o.invitation;
      if (
        extra.length > 0 ||
        typeof inv !== 'object' ||
        inv === null ||
        Array.isArray(inv)
      )
        throw badRequest(`requests[${i}] must be {"invitation": {…}}.`, [
          {
            field: `requests[${i}]${extra.length ? `.${fieldName(extra[0]!)}` : '.invitation'}`,
            description: extra.length
              ? 'unknown field'
              : 'invitation is required',
          },
        ]);
      return validateInvitation(inv as Record<string, unknown>);
    } catch (err) {
      return toApiError(err);
    }
  });
}
