// Ledger entries as they stand: batched reads, the entries holding an invitation id and their release (with a
// re-read when one changed meanwhile), Classroom's confirmations, and the audit events of requests that reserved
// nothing. The claims (reserve, record, release a reservation) build on this in ledger.ts.
import type {
  DocumentReference,
  DocumentSnapshot,
  Firestore,
} from '@google-cloud/firestore';
import {FieldValue} from '@google-cloud/firestore';
import type {AuditEvent} from './audit';
import {AuditTrail} from './audit-trail';
import {TickBatcher} from './batcher';
import {isLostRace} from './firestore-errors';
import {LEDGER_COLLECTION, LedgerEntry, LedgerSnapshot} from './ledger-model';

export class LedgerEntries {
  protected readonly ledger;
  protected readonly trail: AuditTrail;
  private readonly reads: TickBatcher<string, DocumentSnapshot>;

  constructor(
    protected readonly db: Firestore,
    prefix: string,
    protected readonly now: () => number = Date.now,
  ) {
    this.ledger = db.collection(prefix + LEDGER_COLLECTION);
    this.trail = new AuditTrail(db, prefix);
    // Reads of one tick go out as one getAll.
    this.reads = new TickBatcher<string, DocumentSnapshot>(async keys => {
      if (keys.length === 1) return [await this.ledger.doc(keys[0]!).get()];
      return this.db.getAll(...keys.map(k => this.ledger.doc(k)));
    }, 100);
  }

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
    if (event) this.trail.createIn(batch, event);
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
    await Promise.all(events.map(e => this.trail.append(e)));
  }

  /** Appends the final event of a request that reserved nothing (group-committed with its tick's peers). */
  async appendAudit(event: AuditEvent): Promise<void> {
    await this.trail.append(event);
  }
}
