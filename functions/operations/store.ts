// Long-running operations (AIP-151) for work taken asynchronously: a batch of invitations, a large webhook
// delivery. One document per operation, and one result document per item, written once by whoever finishes the
// item (a worker, or a redelivered message finding it done). Progress is counted by aggregation over the results,
// never by a counter every worker increments: a document takes about one write per second, a term start twenty.
import {randomBytes} from 'node:crypto';
import {
  AggregateField,
  DocumentData,
  Firestore,
  Timestamp,
} from '@google-cloud/firestore';
import type {GoogleErrorObject} from '../errors';
import {isAlreadyExists} from '../firestore-errors';
import type {Invitation} from '../classroom';

export const OPERATIONS_COLLECTION = 'operations';
/** Per-item results, a subcollection of each operation (a distinct name: TTL policies are set per collection group). */
export const RESULTS_SUBCOLLECTION = 'operation_results';

export type OperationKind = 'batchCreate' | 'webhook';

/** The buckets progress is counted in (every result document carries all of them, 0 or 1: see tallyOf). */
export const COUNTED = [
  'created',
  'replayed',
  'adopted',
  'conflict',
  'failed',
  'skipped',
  'withdrawn',
] as const;
export type Counted = (typeof COUNTED)[number];

/** One item's final result, in the operation's response. */
export interface OperationItemResult {
  index: number;
  /** The item's outcome as the create flow or the delivery runner names it. */
  outcome: string;
  invitation?: Invitation;
  error?: GoogleErrorObject;
  reason?: string;
  /** Webhook items: the enrollment's OneRoster sourcedId. */
  sourcedId?: string;
}

export interface OperationRecord {
  id: string;
  kind: OperationKind;
  total: number;
  createdAt: Date;
  /** Who started it (the audit's caller), for the audit of its items. */
  caller: string;
  webhookId?: string;
}

export interface OperationProgress extends Record<Counted, number> {
  total: number;
  pending: number;
}

/** The progress of an operation at intake: only the items answered there are counted. */
export function startingProgress(
  total: number,
  answered: Partial<Record<Counted, number>>,
): OperationProgress {
  const counts = Object.fromEntries(
    COUNTED.map(c => [c, answered[c] ?? 0]),
  ) as Record<Counted, number>;
  const done = COUNTED.reduce((n, c) => n + counts[c], 0);
  return {...counts, total, pending: total - done};
}

/** Which bucket an outcome counts in. */
export function bucketOf(outcome: string): Counted {
  switch (outcome) {
    case 'created':
    case 'replaced':
      return 'created';
    case 'replayed':
    case 'adopted':
    case 'conflict':
    case 'skipped':
    case 'withdrawn':
      return outcome;
    default:
      return 'failed'; // failed, rejected, in_flight after its retries, anything unforeseen
  }
}

/**
 * One-hot over every bucket. Firestore counts a document in an aggregation only when it holds every field
 * aggregated, so each result carries all of them, zeros included.
 */
function tallyOf(outcome: string): Record<string, number> {
  const bucket = bucketOf(outcome);
  return Object.fromEntries(COUNTED.map(c => [`n_${c}`, c === bucket ? 1 : 0]));
}

export class Operations {
  private readonly ops;

  constructor(
    private readonly db: Firestore,
    prefix: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ops = db.collection(prefix + OPERATIONS_COLLECTION);
  }

  /** A new operation: an unguessable id (the name is the only thing a caller needs to read its progress). */
  async create(
    op: Omit<OperationRecord, 'id' | 'createdAt'>,
  ): Promise<OperationRecord> {
    const id = randomBytes(16).toString('base64url');
    const createdAt = new Date(this.now());
    await this.ops.doc(id).create({
      ...op,
      ...(op.webhookId === undefined ? {} : {webhookId: op.webhookId}),
      createdAt: Timestamp.fromDate(createdAt),
      expireAt: Timestamp.fromMillis(this.now() + this.ttlMs),
    });
    return {...op, id, createdAt};
  }

  async read(id: string): Promise<OperationRecord | undefined> {
    if (!isOperationId(id)) return undefined;
    const snap = await this.ops.doc(id).get();
    if (!snap.exists) return undefined;
    const d = snap.data()!;
    // Past its TTL it is gone, whenever Firestore's TTL policy gets round to deleting it.
    if ((d.expireAt as Timestamp).toMillis() <= this.now()) return undefined;
    return {
      id,
      kind: d.kind as OperationKind,
      total: d.total as number,
      createdAt: (d.createdAt as Timestamp).toDate(),
      caller: d.caller as string,
      ...(typeof d.webhookId === 'string' ? {webhookId: d.webhookId} : {}),
    };
  }

  /**
   * Records an item's final result, once: the first writer wins, and a duplicate (Pub/Sub delivers at least
   * once) changes nothing. Returns false for the duplicate.
   */
  async record(id: string, result: OperationItemResult): Promise<boolean> {
    try {
      await this.resultDoc(id, result.index).create(this.resultData(result));
      return true;
    } catch (err) {
      if (isAlreadyExists(err)) return false;
      throw err;
    }
  }

  /** Results known at intake (items refused by validation), in batches of 500 writes. */
  async recordMany(id: string, results: OperationItemResult[]): Promise<void> {
    for (let i = 0; i < results.length; i += 500) {
      const batch = this.db.batch();
      for (const r of results.slice(i, i + 500))
        batch.create(this.resultDoc(id, r.index), this.resultData(r));
      await batch.commit();
    }
  }

  /** The item's recorded result, if it has one (a redelivered message finds its item done). */
  async resultOf(
    id: string,
    index: number,
  ): Promise<OperationItemResult | undefined> {
    const snap = await this.resultDoc(id, index).get();
    return snap.exists ? toResult(snap.data()!) : undefined;
  }

  /** Which of these items have a result, in one round trip (a worker's message names up to 100). */
  async doneIndexes(id: string, indexes: number[]): Promise<Set<number>> {
    if (indexes.length === 0) return new Set();
    const snaps = await this.db.getAll(
      ...indexes.map(i => this.resultDoc(id, i)),
    );
    return new Set(snaps.filter(s => s.exists).map(s => Number(s.id)));
  }

  /** Counts per bucket, in two aggregation queries (at most five aggregations each). */
  async progress(op: OperationRecord): Promise<OperationProgress> {
    const results = this.results(op.id);
    const sums = (names: readonly Counted[]) =>
      Object.fromEntries(names.map(n => [n, AggregateField.sum(`n_${n}`)]));
    const [a, b] = await Promise.all([
      results.aggregate(sums(COUNTED.slice(0, 5))).get(),
      results.aggregate(sums(COUNTED.slice(5))).get(),
    ]);
    const counts = {...a.data(), ...b.data()} as Record<Counted, number>;
    const done = COUNTED.reduce((n, c) => n + (counts[c] ?? 0), 0);
    return {...counts, total: op.total, pending: Math.max(0, op.total - done)};
  }

  /** Every result, in item order (read when the operation is done). */
  async allResults(id: string): Promise<OperationItemResult[]> {
    const snap = await this.results(id).orderBy('index').get();
    return snap.docs.map(d => toResult(d.data()));
  }

  private results(id: string) {
    return this.ops.doc(id).collection(RESULTS_SUBCOLLECTION);
  }

  /** An item's result document: its index, zero-padded, so that the ids sort as the items do. */
  private resultDoc(id: string, index: number) {
    return this.results(id).doc(String(index).padStart(6, '0'));
  }

  private resultData(r: OperationItemResult): DocumentData {
    return {
      ...stripUndefined(r),
      ...tallyOf(r.outcome),
      at: Timestamp.fromMillis(this.now()),
      expireAt: Timestamp.fromMillis(this.now() + this.ttlMs),
    };
  }
}

/** Ids this store makes: 22 base64url characters. Anything else is not looked up. */
export function isOperationId(id: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(id);
}

/**
 * A result as Firestore can store it: no undefined fields, and every string well-formed. Firestore refuses a lone
 * surrogate (JSON's `\ud800` escape puts one in an SIS's sourcedId), which would fail the write at every
 * redelivery and leave the item pending for good; it is stored as U+FFFD, as a UTF-8 encoder writes it.
 */
function stripUndefined<T extends object>(o: T): T {
  return wellFormed(
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)),
  ) as T;
}

const LONE_SURROGATE =
  /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function wellFormed(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(LONE_SURROGATE, '\ufffd');
  if (Array.isArray(v)) return v.map(wellFormed);
  if (v !== null && typeof v === 'object' && isPlain(v))
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, wellFormed(x)]),
    );
  return v;
}

const isPlain = (v: object) => Object.getPrototypeOf(v) === Object.prototype;

function toResult(d: DocumentData): OperationItemResult {
  const r: OperationItemResult = {
    index: d.index as number,
    outcome: d.outcome as string,
  };
  for (const k of ['invitation', 'error', 'reason', 'sourcedId'] as const)
    if (d[k] !== undefined) (r as unknown as Record<string, unknown>)[k] = d[k];
  return r;
}
