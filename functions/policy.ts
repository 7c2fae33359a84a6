// The district's policy: which invitations this gateway may make (email domains) and what a webhook may never
// do (grant or replace ownership, replace what another tool made). Checked before the ledger and Classroom.
import type {RequestContext} from './audit';
import type {Config} from './config';
import {ApiError, errorInfo, gatewayError} from './errors';
import type {LedgerEntry} from './ledger';
import type {InvitationRequest} from './validation';

/** The refusal of a request the policy does not allow, or undefined when it does. */
export function policyRefusal(
  config: Config,
  req: InvitationRequest,
  ctx: RequestContext,
): ApiError | undefined {
  const domains = config.allowedEmailDomains;
  if (domains.length > 0) {
    const at = req.userId.lastIndexOf('@');
    if (at < 0) {
      return policyError(
        'USER_ID_NOT_CHECKABLE',
        'Only email addresses can be invited while ALLOWED_EMAIL_DOMAINS is set: a numeric user id cannot be checked against it.',
      );
    }
    const domain = req.userId.slice(at + 1);
    if (!domains.includes(domain))
      return policyError(
        'EMAIL_DOMAIN_NOT_ALLOWED',
        `Invitations to ${domain} are not allowed by this gateway's policy.`,
      );
  }
  if (ctx.source === 'webhook' && req.role === 'OWNER') {
    return policyError(
      'OWNER_NOT_FROM_WEBHOOK',
      'Course ownership is never granted from a webhook.',
    );
  }
  return undefined;
}

/**
 * Why a request may not replace this pending invitation, or undefined when it may. A replacement deletes only what
 * this gateway created (an invitation another tool or a person made is theirs), and a feed's role change never
 * deletes an OWNER invitation: ownership is a person's decision.
 */
export function replaceRefusal(
  entry: LedgerEntry,
  ctx: RequestContext,
): string | undefined {
  if (entry.origin !== 'created')
    return 'the pending invitation was not created by this gateway; it is never replaced';
  if (ctx.source === 'webhook' && entry.role === 'OWNER')
    return 'a webhook never replaces an OWNER invitation';
  return undefined;
}

/**
 * Why a tobedeleted enrollment may not withdraw this pending invitation, or undefined when it may: only one of
 * the enrollment's role that this gateway created, never an OWNER invitation.
 */
export function withdrawRefusal(
  entry: LedgerEntry,
  req: InvitationRequest,
): string | undefined {
  if (entry.role !== req.role)
    return `the pending invitation is for role ${entry.role}, not ${req.role}`;
  if (entry.origin !== 'created' || entry.role === 'OWNER')
    return 'the pending invitation was not created by this gateway';
  return undefined;
}

function policyError(reason: string, message: string): ApiError {
  return gatewayError('PERMISSION_DENIED', message, {
    details: [errorInfo(reason)],
  });
}
