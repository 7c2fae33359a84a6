// An operation as the API shows it (AIP-151): `name`, `metadata` with its progress, `done`, and when done a
// `response` with one result per item, in the order the items were sent.
import type {
  OperationItemResult,
  OperationProgress,
  OperationRecord,
} from './store';

const TYPE_PREFIX = 'type.googleapis.com/classroom_gateway.v1.';

export interface OperationJson {
  name: string;
  metadata: {
    '@type': string;
    kind: OperationRecord['kind'];
    createTime: string;
    webhookId?: string;
    progress: OperationProgress;
  };
  done: boolean;
  response?: {'@type': string; results: OperationItemResult[]};
}

export function operationName(id: string): string {
  return `operations/${id}`;
}

export function operationJson(
  op: OperationRecord,
  progress: OperationProgress,
  results?: OperationItemResult[],
): OperationJson {
  const done = progress.pending === 0 && results !== undefined;
  return {
    name: operationName(op.id),
    metadata: {
      '@type': `${TYPE_PREFIX}InvitationsOperationMetadata`,
      kind: op.kind,
      createTime: op.createdAt.toISOString(),
      ...(op.webhookId === undefined ? {} : {webhookId: op.webhookId}),
      progress,
    },
    done,
    ...(done
      ? {
          response: {
            '@type': `${TYPE_PREFIX}InvitationsOperationResponse`,
            results: results!,
          },
        }
      : {}),
  };
}
