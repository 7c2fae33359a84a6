// Request bodies are bounded before they are read: compressed bodies, oversized bodies (declared or streamed)
// and stalled bodies are refused by the request guard in front of the Functions Framework, in Google error JSON
// with an X-Request-Id and one log line. Most of it runs against a real function process with a small heap.
import {readFileSync} from 'node:fs';
import {connect} from 'node:net';
import {createGzip} from 'node:zlib';
import request from 'supertest';
import {setLogSink} from '../functions/logs';
import {ClassroomStandIn} from '../standin/server';
import {newFirestore, uniquePrefix} from './support/emulator';
import {startTestGateway, TestGateway} from './support/gateway';
import {Instance, startInstance, stopInstance} from './support/processes';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const BODY_TIMEOUT_MS = 1000;

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Time from the first byte sent to the end of the answer. */
  ms: number;
  /** Informational answers (100 Continue) that came before the final one. */
  interim: number[];
}

/**
 * One HTTP/1.1 exchange over a bare socket, so that a test controls exactly what is sent and when: the head,
 * then `parts` (each after `gapMs`), then nothing. Resolves with the first final answer, or rejects after
 * `waitMs` without one (the old server, which waits for the rest of the body).
 */
function exchange(
  port: number,
  head: string,
  parts: (string | Buffer)[] = [],
  opts: {gapMs?: number; waitMs?: number} = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    let sending = true;
    const fail = (why: string) => {
      sending = false;
      socket.destroy();
      reject(new Error(why));
    };
    const timer = setTimeout(
      () => fail(`no answer within ${opts.waitMs ?? 5000} ms`),
      opts.waitMs ?? 5000,
    );
    socket.on('error', () => undefined); // a reset after the answer is the server closing, not a failure
    socket.on('connect', async () => {
      socket.write(head);
      for (const part of parts) {
        if (opts.gapMs) await new Promise(r => setTimeout(r, opts.gapMs));
        if (!sending || socket.destroyed) return;
        socket.write(part);
      }
    });
    const interim: number[] = [];
    socket.on('data', (d: Buffer) => {
      received = Buffer.concat([received, d]);
      for (;;) {
        const text = received.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
        const status = Number(statusLine!.split(' ')[1]);
        const headers = Object.fromEntries(
          lines.map(l => [
            l.slice(0, l.indexOf(':')).toLowerCase(),
            l.slice(l.indexOf(':') + 1).trim(),
          ]),
        );
        if (status < 200) {
          interim.push(status);
          received = received.subarray(end + 4);
          continue;
        }
        const length = Number(headers['content-length'] ?? 0);
        if (received.length < end + 4 + length) return;
        clearTimeout(timer);
        sending = false;
        socket.destroy();
        resolve({
          status,
          headers,
          body: received.subarray(end + 4, end + 4 + length).toString('utf8'),
          ms: performance.now() - started,
          interim,
        });
        return;
      }
    });
  });
}

const postHead = (path: string, headers: Record<string, string | number>) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

const chunk = (data: Buffer | string) =>
  Buffer.concat([
    Buffer.from(`${Buffer.byteLength(data).toString(16)}\r\n`),
    Buffer.from(data),
    Buffer.from('\r\n'),
  ]);

/** gzip of `{"a":"aaa…"}` that inflates to about 200 MB: about 200 KB on the wire. */
async function gzipBomb(): Promise<Buffer> {
  const gz = createGzip({level: 9});
  const out: Buffer[] = [];
  gz.on('data', (d: Buffer) => out.push(d));
  const done = new Promise(r => gz.on('end', r));
  const mib = Buffer.alloc(1024 * 1024, 'a');
  gz.write('{"a":"');
  for (let i = 0; i < 200; i++) gz.write(mib);
  gz.end('"}');
  await done;
  return Buffer.concat(out);
}

function expectGoogleError(
  answer: {status: number; headers: Record<string, string>; body: string},
  status: string,
  reason: string,
) {
  const body = JSON.parse(answer.body) as {
    error: {code: number; status: string; details: {reason: string}[]};
  };
  expect(body.error).toMatchObject({code: answer.status, status});
  expect(body.error.details[0]!.reason).toBe(reason);
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  expect(answer.headers['x-request-id']).toMatch(UUID);
  expect(answer.headers['cache-control']).toBe('no-store');
}

/** Resident memory of a process in MiB: VmRSS now, VmHWM the peak so far (Linux). */
function memoryOf(pid: number): {rss: number; peak: number} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)![1]);
  return {rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024};
}

describe('a real function process with a 96 MiB heap', () => {
  const standIn = new ClassroomStandIn();
  const db = newFirestore();
  let fn: Instance;
  let port: number;

  beforeAll(async () => {
    const standInUrl = await standIn.start();
    fn = await startInstance({
      CLASSROOM_ROOT_URL: standInUrl,
      COLLECTION_PREFIX: uniquePrefix('body'),
      BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
      NODE_OPTIONS: '--max-old-space-size=96',
    });
    port = fn.port;
    // The first create loads the function's modules and opens its Firestore and Classroom clients: memory
    // figures below start once that has settled.
    await fetch(`${fn.url}/v1/invitations`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({
        courseId: 'd:warm',
        userId: 'warm@school.example',
        role: 'STUDENT',
      }),
    });
    await new Promise(r => setTimeout(r, 500));
  }, 30_000);
  afterAll(async () => {
    await stopInstance(fn);
    await standIn.stop();
    await db.terminate();
  });
  beforeEach(() => standIn.reset());

  const logLine = (requestId: string) =>
    fn
      .output()
      .split('\n')
      .filter(l => l.includes(requestId))
      .map(l => JSON.parse(l) as Record<string, unknown>);

  it('a gzip body that would inflate to 200 MB is refused with 415 before it is inflated, on both POST routes, while a request alongside completes', async () => {
    const bomb = await gzipBomb();
    const before = memoryOf(fn.child.pid!);
    const send = (path: string) =>
      fetch(`${fn.url}${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'Content-Encoding': 'gzip',
        },
        body: bomb,
      }).then(async r => ({
        status: r.status,
        headers: Object.fromEntries(r.headers),
        body: await r.text(),
      }));
    const legit = fetch(`${fn.url}/v1/invitations`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({
        courseId: 'd:beside-the-bomb',
        userId: 'beside@school.example',
        role: 'STUDENT',
      }),
    });
    const [invitations, webhooks, created] = await Promise.all([
      send('/v1/invitations'),
      send('/webhooks/sis'),
      legit,
    ]);
    for (const answer of [invitations, webhooks]) {
      expect(answer.status).toBe(415);
      expectGoogleError(answer, 'INVALID_ARGUMENT', 'ENCODING_UNSUPPORTED');
      expect(logLine(answer.headers['x-request-id']!)).toEqual([
        expect.objectContaining({
          outcome: 'rejected',
          httpRequest: expect.objectContaining({status: 415}),
        }),
      ]);
    }
    expect(created.status).toBe(200);
    expect(standIn.calls.create).toBe(1);
    expect((await fetch(`${fn.url}/healthz`)).status).toBe(200);
    expect(fn.child.exitCode).toBeNull();
    const after = memoryOf(fn.child.pid!);
    console.log(
      `gzip bomb (${bomb.length} bytes, ~200 MB inflated) x2: peak RSS ${before.peak.toFixed(0)} → ${after.peak.toFixed(0)} MiB`,
    );
    expect(after.peak - before.peak).toBeLessThan(50);
  });

  it('a body declared at 20 MB is refused with 413 before any of it is sent', async () => {
    const answer = await exchange(
      port,
      postHead('/v1/invitations', {
        'Content-Type': 'application/json',
        'Content-Length': 20 * 1024 * 1024,
      }),
    );
    expect(answer.status).toBe(413);
    expectGoogleError(answer, 'OUT_OF_RANGE', 'BODY_TOO_LARGE');
    expect(answer.headers.connection).toBe('close');
    console.log(
      `20 MB declared: 413 after ${answer.ms.toFixed(1)} ms, no body sent`,
    );
  });

  it('a 20 MB body sent whole is answered 413 quickly, and the process does not take it in', async () => {
    const before = memoryOf(fn.child.pid!);
    const started = performance.now();
    const res = await fetch(`${fn.url}/v1/invitations`, {
      method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: Buffer.alloc(20 * 1024 * 1024, ' '),
    });
    const ms = performance.now() - started;
    expect(res.status).toBe(413);
    expect(ms).toBeLessThan(1000);
    const requestId = res.headers.get('x-request-id')!;
    expect(((await res.json()) as {error: {code: number}}).error.code).toBe(
      413,
    );
    // Refused on its Content-Length: the guard read none of it.
    expect(logLine(requestId)).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        httpRequest: expect.objectContaining({status: 413, requestSize: '0'}),
      }),
    ]);
    const after = memoryOf(fn.child.pid!);
    console.log(
      `20 MB sent: 413 after ${ms.toFixed(1)} ms; peak RSS ${before.peak.toFixed(0)} → ${after.peak.toFixed(0)} MiB`,
    );
    expect(after.peak - before.peak).toBeLessThan(10);
  });

  it('a chunked body without Content-Length is refused with 413 as soon as it passes the cap, without waiting for its end', async () => {
    const parts = Array.from({length: 8}, () => chunk(Buffer.alloc(4096, ' '))); // 32 KiB, never terminated
    const answer = await exchange(
      port,
      postHead('/v1/invitations', {
        'Content-Type': 'application/json',
        'Transfer-Encoding': 'chunked',
      }),
      parts,
      {gapMs: 20},
    );
    expect(answer.status).toBe(413);
    expectGoogleError(answer, 'OUT_OF_RANGE', 'BODY_TOO_LARGE');
    const [line] = logLine(answer.headers['x-request-id']!);
    expect(
      Number((line!.httpRequest as {requestSize: string}).requestSize),
    ).toBeLessThanOrEqual(16 * 1024 + 4096);
  });

  it('each route has its own cap: a webhook delivery may be 1 MiB, one byte more is 413', async () => {
    const sized = (n: number) =>
      exchange(
        port,
        postHead('/webhooks/sis', {
          'Content-Type': 'application/json',
          'Transfer-Encoding': 'chunked',
        }),
        [chunk(Buffer.alloc(n, ' ')), '0\r\n\r\n'],
      );
    const within = await sized(1024 * 1024);
    expect(within.status).toBe(401); // past the guard: refused by the signature check, as an unsigned delivery
    const over = await sized(1024 * 1024 + 1);
    expect(over.status).toBe(413);
    expectGoogleError(over, 'OUT_OF_RANGE', 'BODY_TOO_LARGE');
  });

  it('a body that stalls is answered 408 once BODY_TIMEOUT_MS has passed', async () => {
    const answer = await exchange(
      port,
      postHead('/v1/invitations', {
        'Content-Type': 'application/json',
        'Content-Length': 100,
      }),
      ['{"userId":'],
      {waitMs: BODY_TIMEOUT_MS + 3000},
    );
    expect(answer.status).toBe(408);
    expectGoogleError(answer, 'DEADLINE_EXCEEDED', 'BODY_TIMEOUT');
    expect(answer.ms).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(answer.ms).toBeLessThan(BODY_TIMEOUT_MS + 1500);
    expect(logLine(answer.headers['x-request-id']!)).toEqual([
      expect.objectContaining({outcome: 'rejected', reason: 'BODY_TIMEOUT'}),
    ]);
  });

  it('a client that waits for 100 Continue is refused an oversized upload before sending it, and continued for one in bounds', async () => {
    const refused = await exchange(
      port,
      postHead('/webhooks/sis', {
        'Content-Type': 'application/json',
        'Content-Length': 5 * 1024 * 1024,
        Expect: '100-continue',
      }),
    );
    expect(refused.interim).toEqual([]);
    expect(refused.status).toBe(413);
    const body = JSON.stringify({
      courseId: 'd:continued',
      userId: 'continued@school.example',
      role: 'STUDENT',
    });
    const head = postHead('/v1/invitations?validateOnly=true', {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      Expect: '100-continue',
    });
    const continued = await exchange(port, head, [body], {gapMs: 100});
    expect(continued.interim).toEqual([100]);
    expect(continued.status).toBe(200);
  });

  it('malformed HTTP gets Node’s 400 in Google error JSON, with an X-Request-Id', async () => {
    const answer = await exchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(answer.status).toBe(400);
    expectGoogleError(answer, 'INVALID_ARGUMENT', 'MALFORMED_REQUEST');
  });
});

describe('through the framework pipeline in this process', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway('body');
  });
  afterAll(() => t.close());

  /** The response of `send`, with the log lines written meanwhile. */
  async function loggedWhile(send: () => Promise<request.Response>) {
    const lines: string[] = [];
    setLogSink(l => lines.push(l));
    try {
      return {res: await send(), lines};
    } finally {
      setLogSink(() => undefined);
    }
  }

  it('malformed JSON is a 400 answered by the function: X-Request-Id, one log line and an audit event under the same id', async () => {
    const {res, lines} = await loggedWhile(() =>
      request(t.server)
        .post('/v1/invitations')
        .set('Content-Type', 'application/json')
        .send('{"userId": "a@school.example", ')
        .expect(400),
    );
    const requestId = res.headers['x-request-id'] as string;
    expect(requestId).toMatch(UUID);
    expect(res.body.error).toMatchObject({
      code: 400,
      status: 'INVALID_ARGUMENT',
      details: [expect.objectContaining({reason: 'ENTITY_PARSE_FAILED'})],
    });
    const requestLines = lines
      .map(l => JSON.parse(l) as Record<string, unknown>)
      .filter(l => l.requestId === requestId && l.httpRequest);
    expect(requestLines).toEqual([
      expect.objectContaining({outcome: 'rejected'}),
    ]);
    expect(
      (await t.auditDocs()).filter(e => e.requestId === requestId),
    ).toEqual([
      expect.objectContaining({outcome: 'rejected', httpStatus: 400}),
    ]);
  });

  it('a compressed body is refused with 415 in Google error JSON, logged and not audited', async () => {
    const {res, lines} = await loggedWhile(() =>
      request(t.server)
        .post('/v1/invitations')
        .set('Content-Type', 'application/json')
        .set('Content-Encoding', 'deflate')
        .send('x\x9c\xab\xae\x05\x00\x01u\x00\xf9')
        .expect(415),
    );
    const requestId = res.headers['x-request-id'] as string;
    expect(res.body.error).toMatchObject({
      code: 415,
      status: 'INVALID_ARGUMENT',
    });
    expect(
      lines
        .map(l => JSON.parse(l) as Record<string, unknown>)
        .filter(l => l.requestId === requestId),
    ).toEqual([
      expect.objectContaining({
        outcome: 'rejected',
        reason: 'ENCODING_UNSUPPORTED',
      }),
    ]);
    expect(
      (await t.auditDocs()).filter(e => e.requestId === requestId),
    ).toEqual([]);
  });
});
