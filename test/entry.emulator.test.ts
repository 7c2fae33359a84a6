// The deployed entry point: functions/index.ts registers the `invitations` target and reads its
// configuration from the environment when it loads.
import request from 'supertest';
import {getTestServer} from '@google-cloud/functions-framework/testing';
import {ClassroomStandIn} from '../standin/server';
import {PROJECT_ID, uniquePrefix} from './support/emulator';

const standIn = new ClassroomStandIn();

beforeAll(async () => {
  process.env.CLASSROOM_ROOT_URL = await standIn.start();
  process.env.GOOGLE_CLOUD_PROJECT = PROJECT_ID;
  process.env.COLLECTION_PREFIX = uniquePrefix('entry');
  require('../functions/index'); // registers the target, as the framework's loader does
});
afterAll(() => standIn.stop());

it('registers the `invitations` target, which serves health and creates', async () => {
  const server = getTestServer('invitations');
  await request(server).get('/healthz').expect(200);
  const res = await request(server)
    .post('/v1/invitations')
    .send({courseId: 'd:entry', userId: 'e@school.example', role: 'STUDENT'})
    .expect(200);
  expect(res.body.id).toBeTruthy();
  expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  expect(standIn.calls.create).toBe(1);
});

it('answers malformed JSON with Google error JSON through the real framework pipeline', async () => {
  const res = await request(getTestServer('invitations'))
    .post('/v1/invitations')
    .set('Content-Type', 'application/json')
    .send('{"a":')
    .expect(400);
  expect(res.body).toEqual({
    error: expect.objectContaining({code: 400, status: 'INVALID_ARGUMENT'}),
  });
});
