// Every line written while a request is served carries that request's requestId and trace, not only the
// request line: here the circuit breaker's line, written deep inside the Classroom call.
import request from 'supertest';
import {setLogSink} from '../functions/logs';
import {PROJECT_ID} from './support/emulator';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let lines: Record<string, unknown>[] = [];
beforeAll(async () => {
  t = await startTestGateway('logctx', {
    CIRCUIT_FAILURE_THRESHOLD: '1',
    CIRCUIT_OPEN_SECONDS: '1',
    RETRY_MAX_ATTEMPTS: '1',
  });
  setLogSink(line => lines.push(JSON.parse(line) as Record<string, unknown>));
});
afterAll(async () => {
  setLogSink(() => undefined);
  await t.close();
});

const TRACE_ID = '0123456789abcdef0123456789abcdef';

it('the circuit breaker’s line, written inside the Classroom call, carries the requestId and trace of the request that opened it', async () => {
  lines = [];
  t.standIn.injectFault({
    method: 'create',
    count: 1,
    httpStatus: 503,
    status: 'UNAVAILABLE',
  });
  const res = await request(t.server)
    .post('/v1/invitations')
    .set('X-Cloud-Trace-Context', `${TRACE_ID}/1;o=1`)
    .send({
      courseId: 'd:logctx-1',
      userId: 'logctx@school.example',
      role: 'STUDENT',
    });
  expect(res.status).toBe(503);
  const requestId = res.headers['x-request-id'];
  const opened = lines.find(l => /circuit opened/.test(String(l.message)));
  expect(opened).toMatchObject({
    requestId,
    'logging.googleapis.com/trace': `projects/${PROJECT_ID}/traces/${TRACE_ID}`,
    'logging.googleapis.com/spanId': '0000000000000001',
  });
  // The request line itself keeps its fields as before.
  const requestLine = lines.find(l => l.httpRequest !== undefined);
  expect(requestLine).toMatchObject({
    requestId,
    outcome: 'failed',
    'logging.googleapis.com/trace': `projects/${PROJECT_ID}/traces/${TRACE_ID}`,
  });
});

it('the line of the probe that closes the circuit carries the requestId of the request that made the probe', async () => {
  lines = [];
  t.standIn.reset();
  await new Promise(r => setTimeout(r, 1100)); // the circuit's open interval
  const res = await request(t.server)
    .post('/v1/invitations')
    .send({
      courseId: 'd:logctx-2',
      userId: 'logctx2@school.example',
      role: 'STUDENT',
    })
    .expect(200);
  const closed = lines.find(l => /circuit closed/.test(String(l.message)));
  expect(closed).toMatchObject({requestId: res.headers['x-request-id']});
  expect(closed?.['logging.googleapis.com/trace']).toBeUndefined(); // no trace header, no trace
});
