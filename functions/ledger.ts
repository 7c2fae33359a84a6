// The dedup ledger: one document per (course, user) in `invitations`, with a deterministic id.
// Claim-in-commit / act-outside / record-after: a reservation and its audit event are one atomic commit
// with a create-if-absent (or update-if-unchanged) precondition, so concurrent duplicates never lock each
// other; Classroom is called outside; the outcome is recorded in a second commit guarded by the claim's
// write time, so a request that lost its lease can never overwrite its successor.
import type {
  DocumentReference,
  Firestore,
  WriteBatch,
} from '@google-cloud/firestore';
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import type {AuditEvent, AuditFields} from './audit';
import {isAlreadyExists, isLostRace} from './firestore-errors';
import type {Invitation} from './classroom';
import {LedgerEntries} from './ledger-entries';
import type {InvitationRequest} from './validation';
import {
  Claim,
  LedgerOrigin,
  LedgerSnapshot,
  pendingEntry,
} from './ledger-model';

export {
  AUDIT_COLLECTION,
  LEDGER_COLLECTION,
  pairKey,
  WEBHOOK_DELIVERIES_COLLECTION,
} from './ledger-model';
export type {
  Claim,
  LedgerEntry,
  LedgerOrigin,
  LedgerSnapshot,
  LedgerState,
} from './ledger-model';

export class Ledger extends LedgerEntries {
  constructor(
    db: Firestore,
    prefix: string,
    private readonly leaseMs: number,
    private readonly ttlMs: number,
    now: () => number = Date.now,
  ) {
    super(db, prefix, now);
  }

  private pendingEntry(
    req: InvitationRequest,
    requestId: string,
  ): Record<string, unknown> {
    return pendingEntry(req, requestId, this.now(), this.leaseMs, this.ttlMs);
  }

  /** Reserves a pair nobody holds. Undefined when another request got there first. */
  async claimNew(
    key: string,
    req: InvitationRequest,
    event: AuditEvent,
  ): Promise<Claim | undefined> {
    const batch = this.db.batch();
    batch.create(this.ledger.doc(key), {
      ...this.pendingEntry(req, event.requestId),
      createdAt: FieldValue.serverTimestamp(),
    });
    this.trail.createIn(batch, event);
    try {
      const [ledgerWrite] = await batch.commit();
      return {
        key,
        requestId: event.requestId,
        writeTime: ledgerWrite!.writeTime,
        courseId: req.courseId,
        userId: req.userId,
      };
    } catch (err) {
      if (isAlreadyExists(err)) return undefined;
      throw err;
    }
  }

  /** Takes over a pair whose holder's lease ran out. Undefined when another request changed it first. */
  async takeOver(
    snapshot: LedgerSnapshot,
    key: string,
    req: InvitationRequest,
    event: AuditEvent,
  ): Promise<Claim | undefined> {
    const batch = this.db.batch();
    // A pending entry holds no invitation: a DELETE or a replace looking the old one up by id must not find a
    // reservation whose outcome is not known yet.
    const cleared = {
      invitation: FieldValue.delete(),
      origin: FieldValue.delete(),
      checkedAt: FieldValue.delete(),
    };
    batch.update(
      this.ledger.doc(key),
      {...this.pendingEntry(req, event.requestId), ...cleared},
      {lastUpdateTime: snapshot.updateTime},
    );
    this.trail.createIn(batch, event);
    try {
      const [ledgerWrite] = await batch.commit();
      return {
        key,
        requestId: event.requestId,
        writeTime: ledgerWrite!.writeTime,
        courseId: req.courseId,
        userId: req.userId,
      };
    } catch (err) {
      if (isLostRace(err) || isAlreadyExists(err)) return undefined;
      throw err;
    }
  }

  /**
   * Records the invitation Classroom holds for the pair and completes the claim's audit event. Classroom has
   * acted, so a lost race is re-read: when the entry is gone (released under us), the invitation is recorded
   * anew; when another request holds it, that request meets ALREADY_EXISTS and reconciles.
   */
  async recordCreated(
    claim: Claim,
    invitation: Invitation,
    origin: LedgerOrigin,
    audit: AuditFields,
  ): Promise<void> {
    const created = {
      state: 'created',
      role: invitation.role,
      invitation,
      origin,
      leaseExpiresAt: FieldValue.delete(),
      checkedAt: FieldValue.serverTimestamp(),
      updatedAt: FieldValue.serverTimestamp(),
    };
    const won = await this.finish(claim, audit, (batch, ref) =>
      batch.update(ref, created, {lastUpdateTime: claim.writeTime}),
    );
    if (won) return;
    const ref = this.ledger.doc(claim.key);
    const {leaseExpiresAt: _none, ...fields} = created;
    const entry = {
      ...fields,
      courseId: claim.courseId,
      userId: claim.userId,
      requestId: claim.requestId,
      expireAt: Timestamp.fromMillis(this.now() + this.ttlMs),
      createdAt: FieldValue.serverTimestamp(),
    };
    try {
      await ref.create(entry);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /** Frees the pair so that the next request goes to Classroom again. */
  async release(claim: Claim, audit: AuditFields): Promise<void> {
    await this.finish(claim, audit, (batch, ref) =>
      batch.delete(ref, {lastUpdateTime: claim.writeTime}),
    );
  }

  /** Keeps the reservation but ends its lease at once: the next request takes over and reconciles. */
  async expireLease(claim: Claim, audit: AuditFields): Promise<void> {
    await this.finish(claim, audit, (batch, ref) =>
      batch.update(
        ref,
        {
          leaseExpiresAt: Timestamp.fromMillis(0),
          updatedAt: FieldValue.serverTimestamp(),
        },
        {lastUpdateTime: claim.writeTime},
      ),
    );
  }

  /** The claim's final write with its audit event; false when the claim was lost (only the audit is written). */
  private async finish(
    claim: Claim,
    audit: AuditFields,
    write: (batch: WriteBatch, ref: DocumentReference) => void,
  ): Promise<boolean> {
    const batch = this.db.batch();
    write(batch, this.ledger.doc(claim.key));
    this.trail.completeIn(batch, claim.requestId, audit);
    try {
      await batch.commit();
      return true;
    } catch (err) {
      // Our lease ran out and another request took the pair over (or the entry was released): the ledger is
      // not ours to write blindly any more; the audit event still is.
      if (!isLostRace(err)) throw err;
      await this.trail.complete(claim.requestId, audit);
      return false;
    }
  }
}
