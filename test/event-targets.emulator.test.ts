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
