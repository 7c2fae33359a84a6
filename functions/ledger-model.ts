// The ledger's data model: its collections, the entry one (course, user) pair holds, and the pair's key.
import {createHash} from 'node:crypto';
import type {Timestamp as TimestampT} from '@google-cloud/firestore';
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import type {Invitation} from './classroom';
import type {InvitationRequest} from './validation';

export const LEDGER_COLLECTION = 'invitations';
export const AUDIT_COLLECTION = 'audit';
export const WEBHOOK_DELIVERIES_COLLECTION = 'webhook_deliveries';

export type LedgerState = 'pending' | 'created';

/**
 * How the ledger came to hold an invitation: `created` by this gateway; `adopted` when Classroom already had exactly
 * the invitation a caller asked for; `observed` when Classroom holds another role for the pair (made elsewhere), kept
 * so that repeats are answered without a call. Only `created` ones are ever deleted, replaced or withdrawn through
 * the gateway.
 */
export type LedgerOrigin = 'created' | 'adopted' | 'observed';

export interface LedgerEntry {
  courseId: string;
  userId: string;
  role: string;
  state: LedgerState;
  /** The request that holds (pending) or made (created) the entry. */
  requestId: string;
  leaseExpiresAt?: TimestampT;
  expireAt?: TimestampT;
  invitation?: Invitation;
  origin?: LedgerOrigin;
  /** When Classroom last confirmed (or the gateway last recorded) the invitation. */
  checkedAt?: TimestampT;
  updatedAt?: TimestampT;
}

export interface LedgerSnapshot {
  entry: LedgerEntry;
  updateTime: TimestampT;
}

/** Proof of a reservation: the ledger document's write time when this request claimed it. */
export interface Claim {
  key: string;
  requestId: string;
  writeTime: TimestampT;
  /** The pair as the claiming request named it (the key's inputs). */
  courseId: string;
  userId: string;
  /** Taken over from a holder that died or timed out mid-call: what Classroom holds may be that holder's create. */
  recovered?: boolean;
}

export function pairKey(courseId: string, userId: string): string {
  // Hashing spreads ids evenly (no hotspots), avoids `/` and keeps addresses out of document ids.
  return createHash('sha256')
    .update(`${courseId}\n${userId.toLowerCase()}`)
    .digest('hex');
}

/** A reservation: the pair held by `requestId` until its lease ends. */
export function pendingEntry(
  req: InvitationRequest,
  requestId: string,
  now: number,
  leaseMs: number,
  ttlMs: number,
): Record<string, unknown> {
  return {
    courseId: req.courseId,
    userId: req.userId,
    role: req.role,
    state: 'pending',
    requestId,
    leaseExpiresAt: Timestamp.fromMillis(now + leaseMs),
    // For a Firestore TTL policy on `expireAt`: the entry outlives any SIS resync window.
    expireAt: Timestamp.fromMillis(now + ttlMs),
    updatedAt: FieldValue.serverTimestamp(),
  };
}
