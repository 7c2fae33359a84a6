// An in-memory ledger with the Firestore ledger's preconditions (create-if-absent, update-if-unchanged by
// version), for unit tests of the create flow's branches. The Firestore Ledger itself is tested on the emulator.
import {Timestamp} from '@google-cloud/firestore';
import type {AuditEvent, AuditFields} from '../../functions/audit';
import type {Invitation} from '../../functions/classroom';
import type {CreateLedger} from '../../functions/create/flow';
import type {
  Claim,
  LedgerEntry,
  LedgerOrigin,
  LedgerSnapshot,
} from '../../functions/ledger';
import type {InvitationRequest} from '../../functions/validation';

interface Stored {
  entry: LedgerEntry;
  version: number;
}

export class MemoryLedger implements CreateLedger {
  readonly entries = new Map<string, Stored>();
  readonly audit = new Map<string, AuditEvent & {finished?: boolean}>();
  private versions = 0;

  constructor(
    private readonly leaseMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private put(key: string, entry: LedgerEntry): Timestamp {
    const version = ++this.versions;
    this.entries.set(key, {entry, version});
    return Timestamp.fromMillis(version);
  }

  private snapshotOf(s: Stored): LedgerSnapshot {
    return {entry: {...s.entry}, updateTime: Timestamp.fromMillis(s.version)};
  }

  private unchanged(key: string, at: Timestamp): Stored | undefined {
    const s = this.entries.get(key);
    return s && s.version === at.toMillis() ? s : undefined;
  }

  private pending(req: InvitationRequest, requestId: string): LedgerEntry {
    const ts = Timestamp.fromMillis(this.now());
    return {
      courseId: req.courseId,
      userId: req.userId,
      role: req.role,
      state: 'pending',
      requestId,
      leaseExpiresAt: Timestamp.fromMillis(this.now() + this.leaseMs),
      updatedAt: ts,
    };
  }

  private finishAudit(requestId: string, fields: AuditFields): void {
    const e = this.audit.get(requestId);
    if (e) this.audit.set(requestId, {...e, ...fields, finished: true});
  }

  /** Puts an entry as another instance would have left it. */
  seed(key: string, entry: LedgerEntry): void {
    this.put(key, entry);
  }

  async read(key: string): Promise<LedgerSnapshot | undefined> {
    const s = this.entries.get(key);
    return s ? this.snapshotOf(s) : undefined;
  }

  isLeaseExpired(entry: LedgerEntry): boolean {
    return (
      entry.state === 'pending' &&
      (entry.leaseExpiresAt?.toMillis() ?? 0) <= this.now()
    );
  }

  async claimNew(
    key: string,
    req: InvitationRequest,
    event: AuditEvent,
  ): Promise<Claim | undefined> {
    if (this.entries.has(key) || this.audit.has(event.requestId))
      return undefined;
    const writeTime = this.put(key, this.pending(req, event.requestId));
    this.audit.set(event.requestId, event);
    return {
      key,
      requestId: event.requestId,
      writeTime,
      courseId: req.courseId,
      userId: req.userId,
    };
  }

  async takeOver(
    snapshot: LedgerSnapshot,
    key: string,
    req: InvitationRequest,
    event: AuditEvent,
  ): Promise<Claim | undefined> {
    if (
      !this.unchanged(key, snapshot.updateTime) ||
      this.audit.has(event.requestId)
    )
      return undefined;
    const writeTime = this.put(key, this.pending(req, event.requestId));
    this.audit.set(event.requestId, event);
    return {
      key,
      requestId: event.requestId,
      writeTime,
      courseId: req.courseId,
      userId: req.userId,
    };
  }

  async recordCreated(
    claim: Claim,
    invitation: Invitation,
    origin: LedgerOrigin,
    audit: AuditFields,
  ): Promise<void> {
    const s = this.unchanged(claim.key, claim.writeTime);
    this.finishAudit(claim.requestId, audit);
    if (!s && this.entries.has(claim.key)) return; // another request holds it: it meets ALREADY_EXISTS
    const ts = Timestamp.fromMillis(this.now());
    const base = s?.entry ?? {
      courseId: claim.courseId,
      userId: claim.userId,
      requestId: claim.requestId,
    };
    this.put(claim.key, {
      ...base,
      role: invitation.role,
      state: 'created',
      invitation,
      origin,
      checkedAt: ts,
      updatedAt: ts,
      leaseExpiresAt: undefined,
    });
  }

  async release(claim: Claim, audit: AuditFields): Promise<void> {
    if (this.unchanged(claim.key, claim.writeTime))
      this.entries.delete(claim.key);
    this.finishAudit(claim.requestId, audit);
  }

  async expireLease(claim: Claim, audit: AuditFields): Promise<void> {
    const s = this.unchanged(claim.key, claim.writeTime);
    if (s)
      this.put(claim.key, {
        ...s.entry,
        leaseExpiresAt: Timestamp.fromMillis(0),
      });
    this.finishAudit(claim.requestId, audit);
  }

  async findByInvitationId(
    id: string,
  ): Promise<{key: string; snapshot: LedgerSnapshot}[]> {
    return [...this.entries]
      .filter(([, s]) => s.entry.invitation?.id === id)
      .map(([key, s]) => ({key, snapshot: this.snapshotOf(s)}));
  }

  async releaseInvitation(
    id: string,
    opts: {except?: string} = {},
  ): Promise<{key: string; entry: LedgerEntry}[]> {
    const released: {key: string; entry: LedgerEntry}[] = [];
    for (const [key, s] of this.entries) {
      if (
        key === opts.except ||
        s.entry.state !== 'created' ||
        s.entry.invitation?.id !== id
      )
        continue;
      this.entries.delete(key);
      released.push({key, entry: s.entry});
    }
    return released;
  }

  async markChecked(
    key: string,
    snapshot: LedgerSnapshot,
  ): Promise<LedgerSnapshot | undefined> {
    const s = this.unchanged(key, snapshot.updateTime);
    if (!s) return undefined;
    const updateTime = this.put(key, {
      ...s.entry,
      checkedAt: Timestamp.fromMillis(this.now()),
    });
    return {entry: snapshot.entry, updateTime};
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    if (this.audit.has(event.requestId))
      throw new Error(`audit event ${event.requestId} already exists`);
    this.audit.set(event.requestId, {...event, finished: true});
  }
}
