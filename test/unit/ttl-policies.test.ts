// firestore.indexes.json declares a TTL policy for every collection whose documents carry `expireAt`,
// so that `firebase deploy --only firestore:indexes` enables them all.
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {IDEMPOTENCY_COLLECTION} from '../../functions/idempotency';
import {
  AUDIT_COLLECTION,
  LEDGER_COLLECTION,
  WEBHOOK_DELIVERIES_COLLECTION,
} from '../../functions/ledger';
import {
  OPERATIONS_COLLECTION,
  RESULTS_SUBCOLLECTION,
} from '../../functions/operations/store';
import {PACER_SLOTS_COLLECTION} from '../../functions/pacer/store';

interface FieldOverride {
  collectionGroup: string;
  fieldPath: string;
  ttl?: boolean;
  indexes?: unknown[];
}

const declared = (
  JSON.parse(
    readFileSync(join(__dirname, '../../firestore.indexes.json'), 'utf8'),
  ) as {fieldOverrides: FieldOverride[]}
).fieldOverrides;

it.each([
  LEDGER_COLLECTION,
  IDEMPOTENCY_COLLECTION,
  WEBHOOK_DELIVERIES_COLLECTION,
  AUDIT_COLLECTION,
  PACER_SLOTS_COLLECTION,
  OPERATIONS_COLLECTION,
  RESULTS_SUBCOLLECTION,
])(
  '%s has a TTL policy on expireAt, and the field is exempt from indexing',
  collection => {
    expect(declared).toContainEqual({
      collectionGroup: collection,
      fieldPath: 'expireAt',
      ttl: true,
      indexes: [],
    });
  },
);
