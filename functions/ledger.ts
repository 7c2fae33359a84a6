// The dedup ledger: one document per (course, user) in `invitations`, with a deterministic id.
// Claim-in-commit / act-outside / record-after: a reservation and its audit event are one atomic commit
// with a create-if-absent (or update-if-unchanged) precondition, so concurrent duplicates never lock each
// other; Classroom is called outside; the outcome is recorded in a second commit guarded by the claim's
// write time, so a request that lost its lease can never overwrite its successor.
import type {
  DocumentReference,
  DocumentSnapshot,
  Firestore,
  WriteBatch,
} from '@google-cloud/firestore';
import {FieldValue, Timestamp} from '@google-cloud/firestore';
import {AuditEvent, AuditFields, definedOnly} from './audit';
import {TickBatcher} from './batcher';
import {isAlreadyExists, isLostRace} from './firestore-errors';
import type {Invitation} from './classroom';
import type {InvitationRequest} from './validation';
import {
  AUDIT_COLLECTION,
  Claim,
  LEDGER_COLLECTION,
  LedgerEntry,
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

export class Ledger {
  private readonly ledger;
  private readonly audit;

  constructor(
    private readonly db: Firestore,
    prefix: string,
    private readonly leaseMs: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ledger = db.collection(prefix + LEDGER_COLLECTION);
    this.audit = db.collection(prefix + AUDIT_COLLECTION);
    // Reads of one tick go out as one getAll; final audit events of one tick as one commit.
    this.reads = new TickBatcher<string, DocumentSnapshot>(async keys => {
      if (keys.length === 1) return [await this.ledger.doc(keys[0]!).get()];
      return this.db.getAll(...keys.map(k => this.ledger.doc(k)));
    }, 100);
    this.appends = new TickBatcher<AuditEvent, void>(async events => {
      if (events.length === 1) {
        await this.audit
          .doc(events[0]!.requestId)
          .create(this.auditDoc(events[0]!));
      } else {
        const batch = this.db.batch();
        for (const e of events)
          batch.create(this.audit.doc(e.requestId), this.auditDoc(e));
        await batch.commit();
      }
      return events.map(() => undefined);
    });
  }

  private readonly reads: TickBatcher<string, DocumentSnapshot>;
  private readonly appends: TickBatcher<AuditEvent, void>;

  ref(key: string): DocumentReference {
    return this.ledger.doc(key);
  }

  async read(key: string): Promise<LedgerSnapshot | undefined> {
    const snap = await this.reads.add(key);
    if (!snap.exists || !snap.updateTime) return undefined;
    return {entry: snap.data() as LedgerEntry, updateTime: snap.updateTime};
  }

  isLeaseExpired(entry: LedgerEntry): boolean {
    return (
      entry.state === 'pending' &&
      (entry.leaseExpiresAt?.toMillis() ?? 0) <= this.now()
    );
  }

  private pendingEntry(
    req: InvitationRequest,
    requestId: string,
  ): Record<string, unknown> {
    return pendingEntry(req, requestId, this.now(), this.leaseMs, this.ttlMs);
  }

  private auditDoc(event: AuditEvent): Record<string, unknown> {
    return {...definedOnly(event), at: FieldValue.serverTimestamp()};
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
    batch.create(this.audit.doc(event.requestId), this.auditDoc(event));
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
    batch.create(this.audit.doc(event.requestId), this.auditDoc(event));
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
    const auditRef = this.audit.doc(claim.requestId);
    const auditPatch = {
      ...definedOnly(audit),
      finishedAt: FieldValue.serverTimestamp(),
    };
    const batch = this.db.batch();
    write(batch, this.ledger.doc(claim.key));
    batch.update(auditRef, auditPatch);
    try {
      await batch.commit();
      return true;
    } catch (err) {
      // Our lease ran out and another request took the pair over (or the entry was released): the ledger is
      // not ours to write blindly any more; the audit event still is.
      if (!isLostRace(err)) throw err;
      await auditRef.update(auditPatch);
      return false;
    }
  }

  /** Ledger entries that hold a given Classroom invitation id (normally one; more under numeric ids and aliases). */
  async findByInvitationId(
    id: string,
  ): Promise<{key: string; snapshot: LedgerSnapshot}[]> {
    const q = await this.ledger
      .where('invitation.id', '==', id)
      .limit(20)
      .get();
    return q.docs.map(d => ({
      key: d.id,
      snapshot: {entry: d.data() as LedgerEntry, updateTime: d.updateTime},
    }));
  }

  /**
   * Releases every entry that holds invitation `id` (email and numeric user keys, alias and numeric course keys),
   * except `except`. `found` is a lookup made earlier (before a Classroom call); an entry that changed since is
   * re-read: released if it still holds `id`, left alone if it now holds something else. Returns the entries
   * released.
   */
  async releaseInvitation(
    id: string,
    opts: {
      except?: string;
      found?: {key: string; snapshot: LedgerSnapshot}[];
    } = {},
  ): Promise<{key: string; entry: LedgerEntry}[]> {
    const released: {key: string; entry: LedgerEntry}[] = [];
    for (const found of opts.found ?? (await this.findByInvitationId(id))) {
      if (found.key === opts.except) continue;
      let snap: LedgerSnapshot | undefined = found.snapshot;
      for (let attempt = 0; snap && attempt < 5; attempt++) {
        if (snap.entry.state !== 'created' || snap.entry.invitation?.id !== id)
          break;
        if (await this.releaseEntry(found.key, snap, undefined)) {
          released.push({key: found.key, entry: snap.entry});
          break;
        }
        snap = await this.readNow(found.key);
      }
    }
    return released;
  }

  /** A read that bypasses the tick batcher (for re-reads after a lost race). */
  async readNow(key: string): Promise<LedgerSnapshot | undefined> {
    const snap = await this.ledger.doc(key).get();
    if (!snap.exists || !snap.updateTime) return undefined;
    return {entry: snap.data() as LedgerEntry, updateTime: snap.updateTime};
  }

  /**
   * Removes an entry as read (precondition: unchanged since), with the decision's final audit event, in
   * one commit. False when the entry changed meanwhile.
   */
  async releaseEntry(
    key: string,
    snapshot: LedgerSnapshot,
    event: AuditEvent | undefined,
  ): Promise<boolean> {
    const batch = this.db.batch();
    batch.delete(this.ledger.doc(key), {lastUpdateTime: snapshot.updateTime});
    if (event)
      batch.create(this.audit.doc(event.requestId), this.auditDoc(event));
    try {
      await batch.commit();
      return true;
    } catch (err) {
      if (isLostRace(err)) return false;
      throw err;
    }
  }

  /** Classroom confirmed the invitation still exists. The entry as it now stands, or undefined if it changed. */
  async markChecked(
    key: string,
    snapshot: LedgerSnapshot,
  ): Promise<LedgerSnapshot | undefined> {
    try {
      const res = await this.ledger
        .doc(key)
        .update(
          {checkedAt: FieldValue.serverTimestamp()},
          {lastUpdateTime: snapshot.updateTime},
        );
      return {entry: snapshot.entry, updateTime: res.writeTime};
    } catch (err) {
      if (!isLostRace(err)) throw err;
      return undefined;
    }
  }

  /** Appends many final events (e.g. the skipped enrollments of a delivery) through the same group commit. */
  async appendAuditMany(events: AuditEvent[]): Promise<void> {
    await Promise.all(events.map(e => this.appends.add(e)));
  }

  /** Appends the final event of a request that reserved nothing (group-committed with its tick's peers). */
  async appendAudit(event: AuditEvent): Promise<void> {
    await this.appends.add(event);
  }
}
