// The Classroom stand-in behaves as the invitations API is documented, seen through the official client.
import {classroom, classroom_v1} from '@googleapis/classroom';
import {RESERVED_VALUES} from '../standin/reserved';
import {ClassroomStandIn} from '../standin/server';

const standIn = new ClassroomStandIn();
let api: classroom_v1.Classroom;
const opts = {fetchImplementation: fetch, retry: false};

beforeAll(async () => {
  api = classroom({version: 'v1', rootUrl: await standIn.start()});
});
afterAll(() => standIn.stop());
beforeEach(() => standIn.reset());

async function statusOf(
  p: Promise<unknown>,
): Promise<{status?: number; data?: unknown}> {
  try {
    await p;
    return {};
  } catch (e) {
    const err = e as {status?: number; response?: {data?: unknown}};
    return {status: err.status, data: err.response?.data};
  }
}

it('creates, gets, lists and deletes, one invitation per user and course', async () => {
  const created = (
    await api.invitations.create(
      {
        requestBody: {
          courseId: 'd:sci',
          userId: 'Ada@School.example',
          role: 'STUDENT',
        },
      },
      opts,
    )
  ).data;
  expect(created.id).toBeTruthy();
  expect((await api.invitations.get({id: created.id!}, opts)).data).toEqual(
    created,
  );
  // the same person under another spelling of the address is the same user
  const dup = await statusOf(
    api.invitations.create(
      {
        requestBody: {
          courseId: 'd:sci',
          userId: 'ada@school.example',
          role: 'TEACHER',
        },
      },
      opts,
    ),
  );
  expect(dup).toEqual({
    status: 409,
    data: {
      error: {
        code: 409,
        message: 'Requested entity already exists',
        status: 'ALREADY_EXISTS',
      },
    },
  });
  const listed = (
    await api.invitations.list(
      {courseId: 'd:sci', userId: 'ada@school.example'},
      opts,
    )
  ).data;
  expect(listed.invitations).toEqual([created]);
  expect((await api.invitations.delete({id: created.id!}, opts)).data).toEqual(
    {},
  );
  expect(
    (await statusOf(api.invitations.get({id: created.id!}, opts))).status,
  ).toBe(404);
  expect((await api.invitations.list({courseId: 'd:sci'}, opts)).data).toEqual(
    {},
  );
});

it('pages lists with pageSize and nextPageToken', async () => {
  for (let i = 0; i < 5; i++)
    standIn.seed({
      courseId: 'd:big',
      userId: `s${i}@school.example`,
      role: 'STUDENT',
    });
  const page1 = (
    await api.invitations.list({courseId: 'd:big', pageSize: 2}, opts)
  ).data;
  expect(page1.invitations).toHaveLength(2);
  const page2 = (
    await api.invitations.list(
      {courseId: 'd:big', pageSize: 2, pageToken: page1.nextPageToken!},
      opts,
    )
  ).data;
  const page3 = (
    await api.invitations.list(
      {courseId: 'd:big', pageSize: 2, pageToken: page2.nextPageToken!},
      opts,
    )
  ).data;
  expect(page3.invitations).toHaveLength(1);
  expect(page3.nextPageToken).toBeUndefined();
});

it('list needs a user or a course', async () => {
  expect((await statusOf(api.invitations.list({}, opts))).status).toBe(400);
});

it.each(RESERVED_VALUES)(
  'reserved $field prefix "$prefix" answers $error.status',
  async ({field, prefix, role, error}) => {
    const requestBody = {
      courseId: field === 'courseId' ? `d:${prefix}-x` : 'd:ok',
      userId:
        field === 'userId' ? `${prefix}-x@school.example` : 'ok@school.example',
      role: role ?? 'STUDENT',
    };
    const res = await statusOf(api.invitations.create({requestBody}, opts));
    expect(res).toEqual({
      status: error.httpStatus,
      data: {
        error: {
          code: error.httpStatus,
          message: error.message,
          status: error.status,
        },
      },
    });
    expect(standIn.invitations.size).toBe(0);
  },
);

it('injected faults answer the given status the given number of times, then behave', async () => {
  await fetch(new URL('/__standin/faults', standIn.url), {
    method: 'POST',
    body: JSON.stringify({
      method: 'create',
      count: 2,
      httpStatus: 503,
      status: 'UNAVAILABLE',
      retryAfterSeconds: 3,
    }),
  });
  const body = {
    requestBody: {courseId: 'd:f', userId: 'f@school.example', role: 'STUDENT'},
  };
  expect((await statusOf(api.invitations.create(body, opts))).status).toBe(503);
  expect((await statusOf(api.invitations.create(body, opts))).status).toBe(503);
  expect((await api.invitations.create(body, opts)).status).toBe(200);
  const calls = (await (
    await fetch(new URL('/__standin/calls', standIn.url))
  ).json()) as {create: number};
  expect(calls.create).toBe(3);
});

it('added latency delays answers', async () => {
  standIn.latencyMs = 150;
  const started = Date.now();
  await api.invitations.list({courseId: 'd:slow'}, opts);
  expect(Date.now() - started).toBeGreaterThanOrEqual(140);
});

it('a create body over 1 MiB is refused as Google words it, makes nothing, and the stand-in keeps serving', async () => {
  const res = await fetch(new URL('/v1/invitations', standIn.url), {
    method: 'POST',
    body: JSON.stringify({
      courseId: 'd:big',
      userId: 'big@school.example',
      role: 'STUDENT',
      padding: 'x'.repeat(2 * 1024 * 1024),
    }),
  });
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({
    error: {
      code: 400,
      message: 'Request payload size exceeds the limit: 1048576 bytes.',
      status: 'INVALID_ARGUMENT',
    },
  });
  expect(standIn.invitations.size).toBe(0);
  expect((await api.invitations.list({courseId: 'd:big'}, opts)).status).toBe(
    200,
  );
});

it('an invitation id with a malformed escape is 400 INVALID_ARGUMENT, not a stand-in failure', async () => {
  const res = await fetch(new URL('/v1/invitations/%E0%A4%A', standIn.url));
  expect(res.status).toBe(400);
  expect(await res.json()).toEqual({
    error: {
      code: 400,
      message: 'Invalid invitation id.',
      status: 'INVALID_ARGUMENT',
    },
  });
});
