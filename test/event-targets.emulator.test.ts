// The CloudEvent targets in their own processes, sent what is not an event: each gets a Google error (405 or 400),
// never the framework's 500 with a stack trace, and the process goes on serving.
import {Instance, startInstance, stopInstance} from './support/processes';

let worker: Instance;
beforeAll(async () => {
  worker = await startInstance({}, 'invitationsWorker');
});
afterAll(() => stopInstance(worker));

const send = (method: string, body?: string, type?: string) =>
  fetch(`${worker.url}/projects/p/topics/t`, {
    method,
    ...(body === undefined ? {} : {body}),
    headers: type ? {'Content-Type': type} : {},
  });

it.each([
  ['GET', undefined, undefined, 405],
  ['DELETE', undefined, undefined, 405],
  ['POST', undefined, undefined, 400],
  ['POST', 'hello', 'text/plain', 400],
  ['POST', '{"message":', 'application/json', 400],
  ['POST', 'null', 'application/json', 400],
  ['POST', '5', 'application/json', 400],
  ['POST', '[{"message":{}}]', 'application/json', 400],
])(
  '%s %s (%s) is answered %d in Google error JSON',
  async (method, body, type, status) => {
    const res = await send(method, body, type);
    expect(res.status).toBe(status);
    const json = (await res.json()) as {error: {code: number; status: string}};
    expect(json.error).toMatchObject({
      code: status,
      status: 'INVALID_ARGUMENT',
    });
  },
);

it('an event object the worker cannot read is acknowledged (never redelivered); nothing crashed meanwhile', async () => {
  const res = await send('POST', '{}', 'application/json');
  expect(res.status).toBe(204);
  expect(worker.child.exitCode).toBeNull();
  expect(worker.output()).not.toMatch(/TypeError|at .*\.js:\d+/);
  expect(worker.output()).toContain('could not be read');
});

it('a push of the largest message there is (100 items, every id at its longest) is taken; a larger body is refused 413', async () => {
  const longest = {
    userId: `${'u'.repeat(64)}@${'d'.repeat(63)}.${'e'.repeat(63)}.${'f'.repeat(61)}`,
    courseId: `d:${'"'.repeat(254)}`,
  };
  expect(longest.userId).toHaveLength(254);
  const message = {
    operation: 'A'.repeat(22),
    items: Array.from({length: 100}, (_, index) => ({
      index,
      action: 'create',
      invitation: {...longest, role: 'STUDENT'},
      // Control characters are escaped as \u0000 in JSON: six bytes each.
      sourcedId: '\u0001'.repeat(256),
      after: index > 0 ? index - 1 : undefined,
    })),
  };
  const envelope = (data: string) =>
    JSON.stringify({
      message: {data, messageId: '1', attributes: {}},
      subscription: 'projects/p/subscriptions/s',
    });
  const data = Buffer.from(JSON.stringify(message)).toString('base64');
  const res = await send('POST', envelope(data), 'application/json');
  expect(res.status).toBe(204); // its operation does not exist: acknowledged
  expect(worker.output()).toContain('"unknown_operation":100');

  const tooLarge = await send(
    'POST',
    envelope('A'.repeat(700 * 1024)),
    'application/json',
  );
  expect(tooLarge.status).toBe(413);
});
