// Request targets and client-supplied log fields: a path Express cannot decode is a Google JSON 400 with a log
// line (never Express's HTML and stack trace), and the logged client address is the hop Google's front end added.
import type {AddressInfo} from 'node:net';
import {connect} from 'node:net';
import {setLogSink, Severity} from '../functions/logs';
import {startTestGateway, TestGateway} from './support/gateway';

let t: TestGateway;
let port: number;
const lines: {line: string; severity: Severity}[] = [];

beforeAll(async () => {
  t = await startTestGateway('target');
  await new Promise<void>(resolve => t.server.listen(0, '127.0.0.1', resolve));
  port = (t.server.address() as AddressInfo).port;
  setLogSink((line, severity) => lines.push({line, severity}));
});
afterAll(async () => {
  setLogSink(() => undefined);
  await t.close();
});

/** Sends raw HTTP (clients would refuse to send these targets) and returns the status line, headers and body. */
function raw(
  request: string,
): Promise<{status: number; headers: string; body: string}> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    let data = '';
    socket.on('data', d => (data += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      resolve({status: Number(head.split(' ')[1]), headers: head, body});
    });
    setTimeout(() => socket.destroy(), 3000);
  });
}

it.each([
  ['a broken percent escape', 'DELETE /v1/invitations/%E0%A4%A HTTP/1.1'],
  ['a lone percent sign', 'POST /webhooks/sis% HTTP/1.1'],
  ['an overlong UTF-8 escape', 'GET /%C0%AF HTTP/1.1'],
  ['the asterisk form', 'OPTIONS * HTTP/1.1'],
])(
  '%s is a 400 in Google JSON with X-Request-Id and one log line, never an HTML page',
  async (_name, requestLine) => {
    lines.length = 0;
    const res = await raw(
      `${requestLine}\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
    );
    expect(res.status).toBe(400);
    expect(res.headers).toMatch(/content-type: application\/json/i);
    expect(res.headers).toMatch(/x-request-id: [0-9a-f-]{36}/i);
    expect(JSON.parse(res.body)).toMatchObject({
      error: {
        code: 400,
        status: 'INVALID_ARGUMENT',
        details: [expect.objectContaining({reason: 'MALFORMED_PATH'})],
      },
    });
    expect(res.body).not.toMatch(/at |<html|<pre/i);
    expect(lines.filter(l => l.line.includes('"requestId"'))).toHaveLength(1);
    expect(t.standIn.calls.delete).toBe(0);
  },
);

it('the logged client address is the last X-Forwarded-For hop, and only if it is an IP address', async () => {
  lines.length = 0;
  await raw(
    'GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 10.66.66.66 admin-was-here, 203.0.113.7\r\nConnection: close\r\n\r\n',
  );
  await raw(
    'GET /nowhere HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7, not-an-ip\r\nConnection: close\r\n\r\n',
  );
  const ips = lines
    .map(
      l =>
        (JSON.parse(l.line) as {httpRequest?: {remoteIp?: string}}).httpRequest
          ?.remoteIp,
    )
    .filter(Boolean);
  expect(ips).toEqual(['203.0.113.7', '127.0.0.1']);
});
