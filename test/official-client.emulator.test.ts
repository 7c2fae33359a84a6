// A caller using Google's own client (@googleapis/classroom) with rootUrl pointed at the gateway sees
// invitations and errors exactly as it would from Classroom.
import type {AddressInfo} from 'node:net';
import {classroom, classroom_v1} from '@googleapis/classroom';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let client: classroom_v1.Classroom;
// Node's fetch: gaxios' default dynamic import of node-fetch does not work inside Jest's sandbox.
const opts = {fetchImplementation: fetch, retry: false};

beforeAll(async () => {
  t = await startTestGateway('client');
  await new Promise<void>(r => t.server.listen(0, '127.0.0.1', () => r()));
  const {port} = t.server.address() as AddressInfo;
  client = classroom({version: 'v1', rootUrl: `http://127.0.0.1:${port}/`});
});
afterAll(() => t.close());

interface ClientError {
  status?: number;
  message?: string;
  response?: {data?: {error?: {code: number; message: string; status: string}}};
}

async function errorOf(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    return e as ClientError;
  }
  throw new Error('expected the call to fail');
}

it('creates an invitation and gets the same one back on a repeat', async () => {
  const requestBody = {
    courseId: 'd:client-1',
    userId: 'ada@school.example',
    role: 'STUDENT',
  };
  const first = await client.invitations.create({requestBody}, opts);
  expect(first.status).toBe(200);
  expect(first.data).toEqual({
    id: expect.any(String),
    courseId: expect.any(String),
    userId: expect.any(String),
    role: 'STUDENT',
  });
  const again = await client.invitations.create({requestBody}, opts);
  expect(again.data).toEqual(first.data);
  expect(t.standIn.calls.create).toBe(1);
});

it.each([
  [
    {
      courseId: 'd:client-2',
      userId: 'unknown-1@school.example',
      role: 'STUDENT',
    },
    404,
    'NOT_FOUND',
  ],
  [
    {
      courseId: 'd:client-3',
      userId: 'ineligible@school.example',
      role: 'OWNER',
    },
    400,
    'FAILED_PRECONDITION',
  ],
  [
    {courseId: 'd:forbidden-1', userId: 'x@school.example', role: 'STUDENT'},
    403,
    'PERMISSION_DENIED',
  ],
])(
  'surfaces Classroom’s error for %j as %i %s, exactly as the stand-in said it',
  async (requestBody, code, status) => {
    const viaGateway = await errorOf(
      client.invitations.create({requestBody}, opts),
    );
    const direct = await errorOf(
      classroom({version: 'v1', rootUrl: t.standIn.url}).invitations.create(
        {
          requestBody: {
            ...requestBody,
            courseId: requestBody.courseId + '-direct',
          },
        },
        opts,
      ),
    );
    expect(viaGateway.status).toBe(code);
    expect(viaGateway.response?.data?.error?.status).toBe(status);
    expect(viaGateway.message).toBe(direct.message);
    expect(viaGateway.response?.data).toEqual(direct.response?.data);
  },
);

it('a second role for the same pair is ALREADY_EXISTS, as Classroom answers it', async () => {
  const requestBody = {
    courseId: 'd:client-4',
    userId: 'grace@school.example',
    role: 'STUDENT',
  };
  await client.invitations.create({requestBody}, opts);
  const viaGateway = await errorOf(
    client.invitations.create(
      {requestBody: {...requestBody, role: 'TEACHER'}},
      opts,
    ),
  );
  const direct = await errorOf(
    classroom({version: 'v1', rootUrl: t.standIn.url}).invitations.create(
      {requestBody: {...requestBody, role: 'TEACHER'}},
      opts,
    ),
  );
  expect(viaGateway.status).toBe(409);
  expect(viaGateway.response?.data).toEqual(direct.response?.data);
});

it('a request the client library would send with a bad role gets INVALID_ARGUMENT naming the field', async () => {
  const err = await errorOf(
    client.invitations.create(
      {
        requestBody: {
          courseId: 'd:client-5',
          userId: 'x@school.example',
          role: 'COURSE_ROLE_UNSPECIFIED',
        },
      },
      opts,
    ),
  );
  expect(err.status).toBe(400);
  expect(err.response?.data?.error?.status).toBe('INVALID_ARGUMENT');
  expect(err.message).toMatch(/role/);
});
