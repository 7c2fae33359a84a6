// A delivery too large to finish inside a sender's timeout, taken as an operation: every enrollment becomes an
// item (skips and superseded ones answered at once, the rest published for the workers), and the sender gets
// `202 Accepted` with the operation at once. Enrollments of one pair keep their delivery order: each waits for the
// one before it (`after`).
import type {RequestContext} from '../audit';
import type {OperationAnswer} from '../answers';
import type {Config} from '../config';
import type {Intake, IntakeItem} from '../operations/intake';
import {startingProgress} from '../operations/store';
import {operationJson, operationName} from '../operations/view';
import {EnrollmentEvent, mapEnrollment, planDelivery} from './enrollments';

/** Enrollments of a delivery that would call Classroom (not skipped, not superseded by a later one). */
export function actionableCount(
  event: EnrollmentEvent,
  config: Config,
): number {
  const mappings = event.data.enrollments.map(e =>
    mapEnrollment(e, config.courseAliasPrefix),
  );
  const plan = planDelivery(mappings);
  return mappings.filter(
    (m, i) => m.kind !== 'skip' && !plan.supersededBy.has(i),
  ).length;
}

export async function startDeliveryOperation(
  event: EnrollmentEvent,
  ctx: RequestContext,
  config: Config,
  intake: Intake,
): Promise<OperationAnswer<'accepted'>> {
  const enrollments = event.data.enrollments;
  const mappings = enrollments.map(e =>
    mapEnrollment(e, config.courseAliasPrefix),
  );
  const plan = planDelivery(mappings);
  const previousOfGroup = new Map<number, number>();
  for (const group of plan.groups) {
    let previous: number | undefined;
    for (const i of group) {
      const m = mappings[i]!;
      if (m.kind === 'skip' || plan.supersededBy.has(i)) continue;
      if (previous !== undefined) previousOfGroup.set(i, previous);
      previous = i;
    }
  }
  const items: IntakeItem[] = mappings.map((m, i) => {
    const sourcedId = enrollments[i]!.sourcedId;
    if (m.kind === 'skip')
      return {result: {outcome: 'skipped', reason: m.reason, sourcedId}};
    const later = plan.supersededBy.get(i);
    if (later !== undefined)
      return {
        result: {
          outcome: 'skipped',
          reason: `superseded by enrollment ${enrollments[later]!.sourcedId} later in this delivery`,
          sourcedId,
        },
      };
    const after = previousOfGroup.get(i);
    return {
      run: {
        action: m.kind === 'withdraw' ? 'withdraw' : 'create',
        invitation: m.invitation,
        // A changed role for a pending invitation is the SIS's intent: replace it.
        ...(m.kind === 'invite' ? {replace: true} : {}),
        sourcedId,
        ...(after === undefined ? {} : {after}),
      },
    };
  });
  const op = await intake.start({
    kind: 'webhook',
    caller: ctx.caller,
    ...(ctx.webhookId === undefined ? {} : {webhookId: ctx.webhookId}),
    items,
  });
  const answered = items.filter(it => 'result' in it).length;
  return {
    kind: 'operation',
    httpStatus: 202,
    body: operationJson(
      op,
      startingProgress(items.length, {skipped: answered}),
    ),
    headers: {Location: `/v1/${operationName(op.id)}`},
    outcome: 'accepted',
    details: {
      operation: op.id,
      enrollments: items.length,
      published: items.length - answered,
    },
  };
}
