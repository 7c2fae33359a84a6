// The stand-in's test controls under /__standin/ (never part of Classroom's API): call counts, invitations,
// reset, faults, latency, seeding, the quota and its counts, revoked subjects.
import type {ServerResponse} from 'node:http';
import {z} from 'zod';
import {googleError, invalid, send} from './http';
import {parseQuota} from './quota';
import type {ClassroomStandIn, Fault, StoredInvitation} from './server';

const subjectBody = z.object({subject: z.string().min(1)});

export function control(
  standIn: ClassroomStandIn,
  method: string,
  path: string,
  body: string,
  res: ServerResponse,
): void {
  try {
    dispatch(standIn, method, path, body, res);
  } catch (err) {
    // A body that is not JSON, or not the shape asked for, is the caller's mistake.
    if (err instanceof SyntaxError || err instanceof z.ZodError)
      return googleError(res, invalid(err.message));
    throw err;
  }
}

function dispatch(
  standIn: ClassroomStandIn,
  method: string,
  path: string,
  body: string,
  res: ServerResponse,
): void {
  if (path === '/__standin/calls' && method === 'GET')
    return send(res, 200, standIn.calls);
  if (path === '/__standin/invitations' && method === 'GET')
    return send(res, 200, [...standIn.invitations.values()]);
  if (path === '/__standin/reset' && method === 'POST') {
    standIn.reset();
    return send(res, 200, {});
  }
  if (path === '/__standin/faults' && method === 'POST') {
    standIn.injectFault(JSON.parse(body) as Fault);
    return send(res, 200, {});
  }
  if (path === '/__standin/latency' && method === 'POST') {
    standIn.latencyMs =
      Number((JSON.parse(body) as {latencyMs?: unknown}).latencyMs) || 0;
    return send(res, 200, {});
  }
  if (path === '/__standin/seed' && method === 'POST') {
    return send(res, 200, standIn.seed(JSON.parse(body) as StoredInvitation));
  }
  if (path === '/__standin/quota' && method === 'POST') {
    standIn.setQuota(parseQuota(body.trim() ? JSON.parse(body) : null));
    return send(res, 200, {quota: standIn.quota ?? null});
  }
  if (path === '/__standin/quota' && method === 'GET')
    return send(res, 200, {quota: standIn.quota ?? null});
  if (path === '/__standin/rate' && method === 'GET')
    return send(res, 200, standIn.rate());
  if (path === '/__standin/subjects' && method === 'GET')
    return send(res, 200, {
      revoked: standIn.revokedSubjects(),
      exchanges: standIn.tokenExchanges(),
    });
  const subjects = /^\/__standin\/subjects\/(revoke|restore)$/.exec(path);
  if (subjects && method === 'POST') {
    const {subject} = subjectBody.parse(JSON.parse(body));
    if (subjects[1] === 'revoke') standIn.revokeSubject(subject);
    else standIn.restoreSubject(subject);
    return send(res, 200, {revoked: standIn.revokedSubjects()});
  }
  send(res, 404, {
    error: {
      code: 404,
      message: 'unknown control endpoint',
      status: 'NOT_FOUND',
    },
  });
}
