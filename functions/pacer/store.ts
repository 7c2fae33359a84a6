// The pacer's shared state in Firestore: which positions of each one-second slot are taken (one small document per
// scope and slot, written only while that slot is near, so no document stays hot), and each subject's last rate cut.
// One conditional write leases the positions for every call waiting in an instance at that moment.
import {
  DocumentData,
  DocumentSnapshot,
  Firestore,
  Timestamp,
  WriteBatch,
} from '@google-cloud/firestore';
import {isAlreadyExists, isLostRace} from '../firestore-errors';
import {
  allocate,
  capacity,
  PROJECT_SCOPE,
  ScopeSlots,
  SLOT_MS,
} from './schedule';
import {currentRate, cutAfterThrottle, RateCut} from './rate';

export const PACER_SLOTS_COLLECTION = 'pacer_slots';
export const PACER_RATES_COLLECTION = 'pacer_rates';
/** Slots read per transaction: the current one and the next two hold a backlog of up to three seconds. */
export const LEASE_WINDOW_SLOTS = 3;
/** Leases recomputed after losing a race to another instance, at most, before the error is the request's. */
const MAX_LEASE_ATTEMPTS = 20;
/** Slot documents are useless once their second has passed; the TTL policy deletes them after this. */
const SLOT_TTL_MS = 60 * 60 * 1000;

export interface PacerRates {
  /** Calls per second per impersonated subject, at most. */
  subjectQps: number;
  /** Calls per second over all subjects, at most. */
  projectQps: number;
}

/** What a 429 did: the cut in force after it, and whether this 429 made it. */
export interface Throttle {
  cut: RateCut;
  fresh: boolean;
}

export interface LeaseRequest {
  subjects: string[];
  /**
   * Subjects configured, in the rotation or not. Whether the project's limit counts must not depend on which
   * subjects one instance has out: an instance that counted too few would lease without project positions.
   */
  poolSize: number;
  wanted: number;
  /** No position later than this (epoch ms). */
  latest: number;
  /** The first slot to read. */
  first: number;
}

export interface Lease {
  grants: Array<{subject: string; at: number}>;
  /** Per subject, where its backlog ends as far as the lease could see (epoch ms). */
  frontier: Map<string, number>;
  /** Per subject, the rate the lease paced it at (calls per second). */
  rates: Map<string, number>;
  /** The end of the slots read: a frontier there means the window was full. */
  windowEnd: number;
}

/**
 * Firestore document id of a subject's scope ('' is the service account's own identity, no delegation). A '/'
 * would make the id a path and break every lease of the pool, so it is escaped (and '%', to keep ids distinct).
 */
export function scopeId(subject: string): string {
  return subject
    ? `user:${subject.replace(/[%/]/g, c => encodeURIComponent(c))}`
    : 'adc';
}

export class PacerStore {
  private readonly slots;
  private readonly rates;

  constructor(
    private readonly db: Firestore,
    prefix: string,
    private readonly settings: PacerRates,
    private readonly now: () => number = Date.now,
  ) {
    this.slots = db.collection(prefix + PACER_SLOTS_COLLECTION);
    this.rates = db.collection(prefix + PACER_RATES_COLLECTION);
  }

  /**
   * The project's limit needs its own positions only when the subjects together could pass it: one subject at
   * 19 per second never reaches a project limit of 47, and then a lease costs no project documents.
   */
  private projectCounts(subjects: number): boolean {
    return subjects * this.settings.subjectQps > this.settings.projectQps;
  }

  async lease(req: LeaseRequest): Promise<Lease> {
    const first = req.first;
    const slotsRead = Array.from(
      {length: LEASE_WINDOW_SLOTS},
      (_, i) => first + i,
    );
    const scopes = [
      ...req.subjects.map(scopeId),
      ...(this.projectCounts(Math.max(req.poolSize, req.subjects.length))
        ? [PROJECT_SCOPE]
        : []),
    ];
    const slotRefs = scopes.flatMap(scope =>
      slotsRead.map(slot => this.slots.doc(`${scope}~${slot}`)),
    );
    const rateRefs = req.subjects.map(s => this.rates.doc(scopeId(s)));
    // Optimistic, not a transaction: every instance leases from the same few documents at the same moment, and
    // a transaction's read locks make them queue behind each other (on the emulator, for seconds). The write is
    // conditional on each slot document being exactly as read; if another instance took positions in between,
    // the batch fails whole and the lease is computed again from fresh reads.
    for (let attempt = 1; ; attempt++) {
      const [rateSnaps, slotSnaps] = await Promise.all([
        this.db.getAll(...rateRefs),
        this.db.getAll(...slotRefs),
      ]);
      const now = this.now();
      const takenOf = (scope: string) => {
        const taken = new Map<number, number>();
        slotsRead.forEach((slot, i) => {
          const snap = slotSnaps[scopes.indexOf(scope) * slotsRead.length + i];
          const n = snap?.get('taken') as unknown;
          if (typeof n === 'number' && n > 0) taken.set(slot, n);
        });
        return taken;
      };
      const subjects = new Map<string, ScopeSlots>();
      req.subjects.forEach((subject, i) => {
        const rate = currentRate(
          this.settings.subjectQps,
          rateCutOf(rateSnaps[i]?.data()),
          now,
        );
        subjects.set(subject, {rate, taken: takenOf(scopeId(subject))});
      });
      const project = scopes.includes(PROJECT_SCOPE)
        ? {rate: this.settings.projectQps, taken: takenOf(PROJECT_SCOPE)}
        : undefined;
      const result = allocate({
        wanted: req.wanted,
        latest: req.latest,
        first,
        window: LEASE_WINDOW_SLOTS,
        subjects,
        project,
      });
      const batch = this.db.batch();
      for (const [scope, changedSlots] of result.changed) {
        const counts =
          scope === PROJECT_SCOPE ? project! : subjects.get(scope)!;
        const id = scope === PROJECT_SCOPE ? PROJECT_SCOPE : scopeId(scope);
        for (const slot of changedSlots) {
          const i = slotRefs.findIndex(r => r.id === `${id}~${slot}`);
          writeSlot(batch, slotSnaps[i]!, counts, slot);
        }
      }
      const lease: Lease = {
        grants: result.grants,
        frontier: result.frontier,
        rates: new Map([...subjects].map(([s, slots]) => [s, slots.rate])),
        windowEnd: (first + LEASE_WINDOW_SLOTS) * SLOT_MS,
      };
      if (result.changed.size === 0) return lease;
      try {
        await batch.commit();
        return lease;
      } catch (err) {
        // Another instance wrote a slot between our read and our write (or created it first).
        const lost = isLostRace(err) || isAlreadyExists(err);
        if (!lost || attempt >= MAX_LEASE_ATTEMPTS) throw err;
      }
    }
  }

  /** A 429 for a call granted at `grantedAt`: cuts the subject's rate for every instance (once per burst). */
  async throttled(subject: string, grantedAt: number): Promise<Throttle> {
    const ref = this.rates.doc(scopeId(subject));
    return this.db.runTransaction(async tx => {
      const now = this.now();
      const previous = rateCutOf((await tx.get(ref)).data());
      const cut = cutAfterThrottle(
        this.settings.subjectQps,
        previous,
        grantedAt,
        now,
      );
      if (!cut) return {cut: previous!, fresh: false}; // a cut came after the grant
      tx.set(ref, {
        qps: cut.qps,
        cutAt: Timestamp.fromMillis(cut.at),
        ceilingQps: this.settings.subjectQps,
      });
      return {cut, fresh: true};
    });
  }

  /** The rate a subject may be called at now (for logs and tests). */
  async currentRate(subject: string): Promise<number> {
    const snap = await this.rates.doc(scopeId(subject)).get();
    return currentRate(
      this.settings.subjectQps,
      rateCutOf(snap.data()),
      this.now(),
    );
  }
}

/** The slot's new count, on condition that nobody wrote it since it was read (created: that nobody created it). */
function writeSlot(
  batch: WriteBatch,
  read: DocumentSnapshot,
  counts: ScopeSlots,
  slot: number,
): void {
  const data = {
    taken: counts.taken.get(slot) ?? 0,
    capacity: capacity(counts.rate),
    expireAt: Timestamp.fromMillis((slot + 1) * SLOT_MS + SLOT_TTL_MS),
  };
  if (read.exists)
    batch.update(read.ref, data, {lastUpdateTime: read.updateTime!});
  else batch.create(read.ref, data);
}

function rateCutOf(data: DocumentData | undefined): RateCut | undefined {
  const qps = data?.qps as unknown;
  const at = data?.cutAt as unknown;
  if (typeof qps !== 'number' || !(at instanceof Timestamp)) return undefined;
  return {qps, at: at.toMillis()};
}
