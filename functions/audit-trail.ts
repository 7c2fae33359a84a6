// The `audit` collection: one event per decision, keyed by request id. Events ride in the same commit as the
// ledger write they explain (a reservation, a release), or go out on their own through a group commit: the
// final events of one event-loop turn in one round trip.
import type {Firestore, WriteBatch} from '@google-cloud/firestore';
import {FieldValue} from '@google-cloud/firestore';
import {AuditEvent, AuditFields, definedOnly} from './audit';
import {TickBatcher} from './batcher';
import {AUDIT_COLLECTION} from './ledger-model';

export class AuditTrail {
  private readonly audit;
  private readonly appends: TickBatcher<AuditEvent, void>;

  constructor(
    private readonly db: Firestore,
    prefix: string,
  ) {
    this.audit = db.collection(prefix + AUDIT_COLLECTION);
    this.appends = new TickBatcher<AuditEvent, void>(async events => {
      if (events.length === 1) {
        await this.audit.doc(events[0]!.requestId).create(doc(events[0]!));
      } else {
        const batch = this.db.batch();
        for (const e of events) this.createIn(batch, e);
        await batch.commit();
      }
      return events.map(() => undefined);
    });
  }

  /** Adds the event to a commit that also writes the ledger. */
  createIn(batch: WriteBatch, event: AuditEvent): void {
    batch.create(this.audit.doc(event.requestId), doc(event));
  }

  /** Adds the outcome of a pending event to a commit. */
  completeIn(batch: WriteBatch, requestId: string, fields: AuditFields): void {
    batch.update(this.audit.doc(requestId), completion(fields));
  }

  /** Completes a pending event on its own (its ledger write was lost to another request). */
  async complete(requestId: string, fields: AuditFields): Promise<void> {
    await this.audit.doc(requestId).update(completion(fields));
  }

  /** The final event of a request that reserved nothing (group-committed with its tick's peers). */
  async append(event: AuditEvent): Promise<void> {
    await this.appends.add(event);
  }
}

function doc(event: AuditEvent): Record<string, unknown> {
  return {...definedOnly(event), at: FieldValue.serverTimestamp()};
}

function completion(fields: AuditFields): Record<string, unknown> {
  return {...definedOnly(fields), finishedAt: FieldValue.serverTimestamp()};
}
