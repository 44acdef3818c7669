'use strict';
/*
 * webhooks.test.js - the telecom webhooks of the outbox (DESIGN.md "Outbox"), as a real
 * receiver sees them: a node:http server on 127.0.0.1 that records every request and can be
 * told to fail the next requests (answer 500 or any status, close the socket, or hang past
 * lebd's 10 s).
 *
 * What is checked: the messages a top-up and the lifecycle job write; each delivery's body,
 * headers and HMAC-SHA256 signature ("<timestamp>.<raw body>", the secret read from a file
 * whose trailing newline is stripped); exactly one delivery per message, even with five jobs
 * runs and the background loop at once; retries with the back-off
 * min(backoff_s * 2^(n-1), 3600) on lebd's clock, never early; a redirect is a failure and is
 * not followed; dead after attempts_max, never retried; the resend route and its errors; a
 * receiver that is down (and a lebd restart meanwhile), a SIGTERM or a SIGKILL in the middle
 * of a delivery lose nothing; a hanging receiver does not stall order expiry nor a graceful
 * stop; no URL configured keeps messages pending; a change that failed writes nothing; the
 * secret never reaches a body, a header, the outbox listing or lebd's logs (nor do full card
 * numbers reach the logs).
 *
 * lebd runs with --test-mode --clock 2027-01-01T00:00:00Z: its clock is moved with
 * POST /api/v1/admin/clock, delivery is run at once with POST /api/v1/admin/jobs/run, and by
 * the background loop (every second here: LEB_OUTBOX_INTERVAL_S=1). X-Leb-Timestamp is real
 * time, not lebd's clock.
 */

const { test, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const { startLebd, delay, TIME_SCALE } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrderOk,
  login,
  mapLimit,
  notify,
  notifyBody,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client');

const CLOCK_START = '2027-01-01T00:00:00Z';
const T0 = Date.parse(CLOCK_START) / 1000;
const EVENTS = ['card.recharged', 'card.reactivated', 'card.suspended', 'card.recycled'];
const PAYLOAD_KEYS = ['at', 'card_no', 'event', 'msisdn', 'status'];
const BODY_KEYS = ['at', 'card_no', 'event', 'id', 'msisdn', 'status'];
const MESSAGE_KEYS = [
  'attempts',
  'created_at',
  'destination',
  'id',
  'kind',
  'last_error',
  'next_attempt_at',
  'payload',
  'status',
];
/* The background delivery loop's period (LEB_OUTBOX_INTERVAL_S), and a wait that covers one of
 * its passes. */
const LOOP_MS = 1000;
const ONE_LOOP_MS = (LOOP_MS + 250) * TIME_SCALE;
const HOOK_PATH = '/hook';

/* The telecom secret: in a file, with a trailing newline lebd must strip. */
const SECRET = `whsec_${crypto.randomBytes(24).toString('hex')}`;
const secretDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-webhooks-'));
const SECRET_FILE = path.join(secretDir, 'telecom_webhook_secret');
fs.writeFileSync(SECRET_FILE, `${SECRET}\n`, { mode: 0o600 });
after(() => fs.rmSync(secretDir, { recursive: true, force: true }));
process.on('exit', () => fs.rmSync(secretDir, { recursive: true, force: true }));

/* Everything lebd said or sent, for the last test: no secret anywhere. */
const seen = { lebds: [], receivers: [], texts: [] };

/* ------------------------------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------------------------- */

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(text, what = 'time') {
  assert.match(String(text), RFC3339_UTC, `${what} is RFC 3339 UTC: ${text}`);
  return Math.floor(Date.parse(text) / 1000);
}

/* ------------------------------------------------------------------------------------------
 * The receiver
 * ---------------------------------------------------------------------------------------- */

/*
 * A webhook receiver. Each request is recorded once its body is complete as
 * {method, url, headers, raw (Buffer), text, body, receivedAt, mode, closedAt}, then answered
 * by the next mode of "plan" (or "always", or 'ok'):
 *   'ok'     okStatus (200 unless changed) after delayMs;
 *   '500'    that status at once (any 3-digit status; a 3xx redirects to /elsewhere);
 *   'close'  the socket is destroyed without an answer;
 *   'hang'   no answer, ever: lebd must give up by itself.
 */
function createReceiver(t) {
  const sockets = new Set();
  const receiver = {
    requests: [],
    plan: [],
    always: null,
    okStatus: 200,
    delayMs: 0,
    port: null,
    server: null,
    get url() {
      return `http://127.0.0.1:${receiver.port}${HOOK_PATH}`;
    },
    failNext(modes) {
      receiver.plan.push(...modes);
    },
    forId(id) {
      return receiver.requests.filter((r) => r.body && r.body.id === id);
    },
    async waitFor(count, what = `${count} webhook requests`, timeout_ms = 5000) {
      try {
        await pollUntil(() => receiver.requests.length >= count, { timeout_ms, interval_ms: 25, what });
      } catch (error) {
        error.message += `; the receiver got ${receiver.requests.length}: ${describe(receiver.requests)}`;
        throw error;
      }
    },
    listen(port = 0) {
      const server = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (chunk) => chunks.push(chunk));
        req.on('end', () => {
          const raw = Buffer.concat(chunks);
          let body = null;
          try {
            body = JSON.parse(raw.toString('utf8'));
          } catch (_) {
            body = null;
          }
          const mode = receiver.plan.length > 0 ? receiver.plan.shift() : receiver.always || 'ok';
          const record = {
            method: req.method,
            url: req.url,
            headers: req.headers,
            raw,
            text: raw.toString('utf8'),
            body,
            receivedAt: Date.now(),
            mode,
            closedAt: null,
          };
          receiver.requests.push(record);
          req.socket.once('close', () => {
            record.closedAt = Date.now();
          });
          if (mode === 'ok') {
            const answer = () => {
              res.writeHead(receiver.okStatus, { 'content-type': 'text/plain' });
              res.end(receiver.okStatus === 204 ? undefined : 'ok');
            };
            if (receiver.delayMs > 0) setTimeout(answer, receiver.delayMs);
            else answer();
          } else if (/^\d{3}$/.test(mode)) {
            /* A redirect points elsewhere on this receiver: lebd must not follow it. */
            const headers = { 'content-type': 'text/plain' };
            if (mode.startsWith('3')) headers.location = '/elsewhere';
            res.writeHead(Number(mode), headers);
            res.end('the receiver is failing on purpose');
          } else if (mode === 'close') {
            req.socket.destroy();
          } else if (mode !== 'hang') {
            throw new Error(`receiver: unknown mode ${mode}`);
          }
        });
      });
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      receiver.server = server;
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => {
          server.off('error', reject);
          receiver.port = server.address().port;
          resolve(receiver);
        });
      });
    },
    close() {
      const server = receiver.server;
      receiver.server = null;
      if (!server) return Promise.resolve();
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  seen.receivers.push(receiver);
  if (t) t.after(() => receiver.close());
  return receiver;
}

async function startReceiver(t) {
  return createReceiver(t).listen(0);
}

/* A loopback port nobody listens on (for now). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function describe(requests) {
  return JSON.stringify(
    requests.map((r) => ({ mode: r.mode, event: r.headers['x-leb-event'], body: r.text.slice(0, 300) })),
  );
}

function hmacHex(secret, timestamp, raw) {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.`).update(raw).digest('hex');
}

/* One delivery as the telecom core must see it: POST to the path, JSON, the headers, the
 * signature over "<timestamp>.<raw body>" with the secret (newline stripped), a timestamp of
 * real time within 5 minutes, a body of exactly the payload's fields plus "id". */
function verifyDelivery(record, what = 'delivery') {
  const label = `${what} (${record.text.slice(0, 200)})`;
  assert.equal(record.method, 'POST', `${label}: method`);
  assert.equal(record.url, HOOK_PATH, `${label}: the configured path`);
  assert.match(
    record.headers['content-type'] || '',
    /^application\/json\s*(;.*)?$/i,
    `${label}: Content-Type`,
  );
  const timestamp = record.headers['x-leb-timestamp'];
  assert.match(timestamp || '', /^\d+$/, `${label}: X-Leb-Timestamp is unix seconds: ${timestamp}`);
  const skew = Math.abs(Number(timestamp) - record.receivedAt / 1000);
  assert.ok(
    skew <= 300,
    `${label}: X-Leb-Timestamp ${timestamp} is ${Math.round(skew)} s from real time ` +
      `${Math.floor(record.receivedAt / 1000)} (lebd's test clock must not be used for it)`,
  );
  const signature = record.headers['x-leb-signature'];
  const expected = `sha256=${hmacHex(SECRET, timestamp, record.raw)}`;
  if (signature !== expected) {
    const hints = [];
    if (signature === `sha256=${hmacHex(`${SECRET}\n`, timestamp, record.raw)}`) {
      hints.push('it is signed with the trailing newline of the secret file kept');
    }
    if (signature === `sha256=${crypto.createHmac('sha256', SECRET).update(record.raw).digest('hex')}`) {
      hints.push('it is signed over the body alone, without "<timestamp>."');
    }
    if (signature && signature.toLowerCase() === expected) hints.push('the hex is not lowercase');
    assert.equal(
      signature,
      expected,
      `${label}: X-Leb-Signature must be sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` +
        (hints.length ? ` (${hints.join('; ')})` : ''),
    );
  }
  const body = record.body;
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `${label}: a JSON object`);
  assert.deepEqual(Object.keys(body).sort(), BODY_KEYS, `${label}: the body's fields`);
  assert.ok(Number.isSafeInteger(body.id) && body.id > 0, `${label}: id is the outbox id`);
  assert.ok(EVENTS.includes(body.event), `${label}: event`);
  assert.match(body.at, RFC3339_UTC, `${label}: at`);
  assert.equal(record.headers['x-leb-event'], body.event, `${label}: X-Leb-Event`);
  assert.equal(record.headers['x-leb-delivery'], String(body.id), `${label}: X-Leb-Delivery`);
  return body;
}

function withoutId(body) {
  const { id, ...payload } = body;
  return payload;
}

/* ------------------------------------------------------------------------------------------
 * lebd as an admin drives it
 * ---------------------------------------------------------------------------------------- */

class Admin {
  constructor(lebd) {
    this.lebd = lebd;
    this.token = null;
    this.loginAt = null;
    /* lebd's clock = floor(real seconds) + offset (to a second), from the last clock answer. */
    this.offset = null;
  }

  async attach(lebd) {
    this.lebd = lebd;
    seen.lebds.push(lebd);
    this.token = await login(lebd);
    this.loginAt = null;
    /* Reads the clock (an advance of one second is the only way to read it). */
    await this.advance(1);
  }

  call(method, route, body, options = {}) {
    return api(this.lebd, method, route, { token: this.token, body, ...options });
  }

  /* lebd's clock at the real instant "ms" (to about a second). */
  lebdAt(ms = Date.now()) {
    assert.ok(this.offset !== null, 'the clock was read');
    return Math.floor(ms / 1000) + this.offset;
  }

  async moveClock(body) {
    const response = await this.call('POST', '/api/v1/admin/clock', body);
    const tResp = Date.now();
    assertStatus(response, 200, `clock ${JSON.stringify(body)}`);
    const now = parseTime(response.body.now, 'clock now');
    this.offset = now - Math.floor(tResp / 1000);
    /* Admin tokens live 12 hours of lebd's clock. */
    if (this.loginAt === null) this.loginAt = now;
    if (now - this.loginAt > 6 * 3600) {
      this.token = await login(this.lebd);
      this.loginAt = now;
    }
    return now;
  }

  advance(seconds) {
    return this.moveClock({ advance_s: seconds });
  }

  setNow(seconds) {
    return this.moveClock({ now: iso(seconds) });
  }

  async jobs() {
    const response = await this.call('POST', '/api/v1/admin/jobs/run', {});
    assertStatus(response, 200, 'jobs/run');
    return response.body;
  }

  /* The telecom webhooks, newest first, each checked for its shape. */
  async outbox({ status, limit = 1000 } = {}) {
    const query = new URLSearchParams({ kind: 'webhook', destination: 'telecom', limit: String(limit) });
    if (status) query.set('status', status);
    const route = `/api/v1/admin/outbox?${query}`;
    const response = await this.call('GET', route);
    assertStatus(response, 200, `GET ${route}`);
    seen.texts.push(response.text);
    assert.ok(
      response.body && Array.isArray(response.body.messages),
      `GET ${route}: {"messages":[...]}, got ${response.text.slice(0, 300)}`,
    );
    const messages = response.body.messages;
    for (const message of messages) checkMessage(message, status);
    for (let i = 1; i < messages.length; i++) {
      assert.ok(messages[i - 1].id > messages[i].id, `GET ${route}: newest first: ${response.text.slice(0, 500)}`);
    }
    return messages;
  }

  async message(id) {
    const found = (await this.outbox()).find((m) => m.id === id);
    assert.ok(found, `outbox message ${id} is listed`);
    return found;
  }

  /* Polls the webhook outbox until predicate(messages) holds. */
  async waitOutbox(predicate, what, timeout_ms = 5000) {
    let last = null;
    try {
      return await pollUntil(
        async () => {
          last = await this.outbox();
          return predicate(last) ? last : null;
        },
        { timeout_ms, interval_ms: 100, what },
      );
    } catch (error) {
      error.message += `; outbox: ${JSON.stringify(last)}`;
      throw error;
    }
  }

  waitMessage(id, predicate, what, timeout_ms) {
    return this.waitOutbox(
      (messages) => {
        const message = messages.find((m) => m.id === id);
        return message && predicate(message);
      },
      `message ${id}: ${what}`,
      timeout_ms,
    ).then((messages) => messages.find((m) => m.id === id));
  }

  resend(id, options = {}) {
    return api(this.lebd, 'POST', `/api/v1/admin/outbox/${id}/resend`, {
      token: options.token === undefined ? this.token : options.token,
      body: {},
    });
  }
}

function checkMessage(message, status) {
  const label = `outbox message ${JSON.stringify(message).slice(0, 400)}`;
  assert.deepEqual(Object.keys(message).sort(), MESSAGE_KEYS, `${label}: fields`);
  assert.ok(Number.isSafeInteger(message.id) && message.id > 0, `${label}: id`);
  assert.equal(message.kind, 'webhook', `${label}: kind`);
  assert.equal(message.destination, 'telecom', `${label}: destination`);
  assert.ok(message.payload && typeof message.payload === 'object', `${label}: payload is an object`);
  assert.deepEqual(Object.keys(message.payload).sort(), PAYLOAD_KEYS, `${label}: payload fields`);
  assert.ok(['pending', 'delivered', 'dead'].includes(message.status), `${label}: status`);
  if (status) assert.equal(message.status, status, `${label}: the status filter`);
  assert.ok(Number.isSafeInteger(message.attempts) && message.attempts >= 0, `${label}: attempts`);
  if (message.next_attempt_at !== null) parseTime(message.next_attempt_at, `${label}: next_attempt_at`);
  assert.ok(
    message.last_error === null || typeof message.last_error === 'string',
    `${label}: last_error is a string or null`,
  );
  parseTime(message.created_at, `${label}: created_at`);
}

async function startWebhookLebd(t, { url, env = {} } = {}) {
  const hook = url ? { LEB_TELECOM_WEBHOOK_URL: url, LEB_TELECOM_WEBHOOK_SECRET_FILE: SECRET_FILE } : {};
  const lebd = await startLebd({
    t,
    testMode: true,
    args: ['--clock', CLOCK_START],
    env: { LEB_OUTBOX_INTERVAL_S: String(LOOP_MS / 1000), ...hook, ...env },
  });
  const admin = new Admin(lebd);
  await admin.attach(lebd);
  return { lebd, admin };
}

/* An order and its signed SUCCESS, until the order succeeded. */
async function topUp(lebd, cardNo, face = 5000) {
  const order = await createOrderOk(lebd, { card: cardNo, face_amount: face });
  const paid = await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' });
  assertStatus(paid, 200, `notification of ${order.order_no}`);
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  return order;
}

function byEvent(messages, event) {
  return messages.filter((m) => m.payload.event === event);
}

/* ------------------------------------------------------------------------------------------
 * The tests
 * ---------------------------------------------------------------------------------------- */

test('a top-up on the suspended card: card.reactivated and card.recharged, signed, delivered once each', async (t) => {
  const receiver = await startReceiver(t);
  const { lebd, admin } = await startWebhookLebd(t, { url: receiver.url });

  assert.deepEqual(await admin.outbox(), [], 'the demo data writes no webhook');
  await admin.jobs();
  assert.equal(receiver.requests.length, 0, 'nothing to send yet');

  const tBefore = Date.now();
  await topUp(lebd, DEMO.suspended.card_no, 5000);
  const tAfter = Date.now();

  /* Both were written with the credit. */
  const written = await admin.outbox();
  assert.deepEqual(
    written.map((m) => m.payload.event).sort(),
    ['card.reactivated', 'card.recharged'],
    `one top-up of a suspended card: ${JSON.stringify(written)}`,
  );

  await admin.jobs();
  await receiver.waitFor(2);
  const delivered = await admin.waitOutbox(
    (messages) => messages.length === 2 && messages.every((m) => m.status === 'delivered'),
    'both messages delivered',
  );
  await delay(ONE_LOOP_MS);
  await admin.jobs();
  assert.equal(receiver.requests.length, 2, `exactly one delivery per message: ${describe(receiver.requests)}`);

  const lo = admin.lebdAt(tBefore) - 2;
  const hi = admin.lebdAt(tAfter) + 2;
  for (const record of receiver.requests) {
    const body = verifyDelivery(record);
    const message = delivered.find((m) => m.id === body.id);
    assert.ok(message, `X-Leb-Delivery ${body.id} is an outbox id: ${JSON.stringify(delivered)}`);
    assert.deepEqual(withoutId(body), message.payload, 'the body is the outbox payload plus its id');
    assert.equal(body.card_no, DEMO.suspended.card_no, 'the full card number');
    assert.equal(body.msisdn, DEMO.suspended.msisdn);
    assert.equal(body.status, 'active', `${body.event}: the status after the change`);
    const at = parseTime(body.at, 'at');
    assert.ok(at >= lo && at <= hi, `at ${body.at} is lebd's clock at the top-up [${iso(lo)}, ${iso(hi)}]`);
    assert.equal(message.attempts, 1, `${body.event}: delivered at the first attempt`);
  }
  assert.deepEqual(
    receiver.requests.map((r) => r.body.event).sort(),
    ['card.reactivated', 'card.recharged'],
  );
  assert.equal(new Set(receiver.requests.map((r) => r.body.id)).size, 2, 'two distinct ids');

  /* The status filter. */
  assert.equal((await admin.outbox({ status: 'delivered' })).length, 2);
  assert.deepEqual(await admin.outbox({ status: 'pending' }), []);
  assert.deepEqual(await admin.outbox({ status: 'dead' }), []);
  assert.equal((await admin.outbox({ limit: 1 })).length, 1, 'limit=1');

  /* A top-up of the now active card: card.recharged only. */
  await topUp(lebd, DEMO.suspended.card_no, 5000);
  await admin.jobs();
  await receiver.waitFor(3);
  const third = verifyDelivery(receiver.requests[2]);
  assert.equal(third.event, 'card.recharged', 'an active card is not reactivated again');
  assert.equal(receiver.requests.length, 3, describe(receiver.requests));
  assert.equal((await admin.outbox()).length, 3);
});

test('several delivery passes at once (five jobs runs and the loop) still send each message once', async (t) => {
  const receiver = await startReceiver(t);
  /* A slow receiver widens the window in which two passes could both send one message. */
  receiver.delayMs = 300;
  const { lebd, admin } = await startWebhookLebd(t, { url: receiver.url });
  for (let i = 0; i < 3; i++) await topUp(lebd, DEMO.active.card_no, 5000);
  const written = await admin.outbox();
  assert.equal(written.length, 3, JSON.stringify(written));

  const runs = await mapLimit([1, 2, 3, 4, 5], 5, () => admin.jobs());
  for (const run of runs) assert.ok(run.ok, `jobs/run: ${run.error && run.error.message}`);
  await receiver.waitFor(3);
  await admin.waitOutbox(
    (messages) => messages.length === 3 && messages.every((m) => m.status === 'delivered'),
    'the three messages delivered',
  );
  await delay(ONE_LOOP_MS);
  const perId = {};
  for (const record of receiver.requests) perId[record.body.id] = (perId[record.body.id] || 0) + 1;
  assert.deepEqual(
    perId,
    Object.fromEntries(written.map((m) => [m.id, 1])),
    `requests per outbox id (the same message sent by several passes at once): ${describe(receiver.requests)}`,
  );
  for (const message of await admin.outbox()) assert.equal(message.attempts, 1, JSON.stringify(message));
});

test('a receiver that fails 3 times (500, closed socket, no answer in 10 s) gets the same message a 4th time', async (t) => {
  const receiver = await startReceiver(t);
  receiver.failNext(['500', 'close', 'hang']);
  receiver.okStatus = 204; /* any 2xx is a delivery */
  /* Defaults: attempts_max 8, backoff_s 30. Orders live 2 s: one expires during the hang. */
  const { lebd, admin } = await startWebhookLebd(t, {
    url: receiver.url,
    env: { LEB_ORDERS_TTL_S: '2', LEB_ORDERS_EXPIRY_INTERVAL_S: '1' },
  });
  let expiry = null;

  await topUp(lebd, DEMO.active.card_no, 5000);
  const [message] = await admin.outbox();
  assert.equal(message.payload.event, 'card.recharged');
  assert.equal(message.status, 'pending');
  assert.equal(message.attempts, 0, 'not tried yet');
  const id = message.id;

  /* Attempt n fails; the next is due min(30 * 2^(n-1), 3600) s later, and not before. */
  const waits = [30, 60, 120];
  for (let n = 1; n <= 3; n++) {
    const mode = ['500', 'close', 'hang'][n - 1];
    if (n === 1) {
      await admin.jobs();
    } else {
      const previous = await admin.message(id);
      const next = parseTime(previous.next_attempt_at, 'next_attempt_at');
      /* Three seconds before it is due: nothing. */
      if (next - 3 > admin.lebdAt() + 1) {
        await admin.setNow(next - 3);
        await admin.jobs();
        await delay(300);
        assert.equal(receiver.forId(id).length, n - 1, `attempt ${n} not before its back-off: ${describe(receiver.requests)}`);
      }
      await admin.setNow(next + 1);
      /* The hanging attempt is left to the background loop (a jobs run would wait 10 s). */
      if (mode !== 'hang') await admin.jobs();
    }
    await pollUntil(() => receiver.forId(id).length >= n, { what: `attempt ${n} (${mode})`, timeout_ms: 6000 });
    const record = receiver.forId(id)[n - 1];
    assert.equal(record.mode, mode);

    if (mode === 'hang') {
      /* The other time-driven jobs go on while a delivery hangs: an order of 2 s expires in a
       * few seconds, not once the receiver let go (with 100 messages due to a receiver that
       * hangs, that would be 1000 s without expiry, billing or suspension). Watched in the
       * background, asserted at the end. */
      const unpaid = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
      const createdAt = Date.now();
      expiry = waitForOrderStatus(lebd, unpaid.order_no, 'expired', 20000).then(
        () => ({ ms: Date.now() - createdAt }),
        (error) => ({ error }),
      );
      /* lebd keeps serving, and writing, while a delivery hangs. */
      const started = Date.now();
      await topUp(lebd, DEMO.active.card_no, 5000);
      assert.equal((await api(lebd, 'GET', '/readyz')).status, 200);
      const took = Date.now() - started;
      assert.ok(took < 5000 * TIME_SCALE, `a top-up during a hanging delivery took ${took} ms`);
    }

    const failed = await admin.waitMessage(
      id,
      (m) => m.attempts === n,
      `attempts ${n} after the ${mode} failure`,
      (mode === 'hang' ? 20000 : 5000) * TIME_SCALE,
    );
    assert.equal(failed.status, 'pending', `attempt ${n} failed: still pending`);
    assert.ok(
      typeof failed.last_error === 'string' && failed.last_error.length > 0,
      `after the ${mode} failure last_error says why: ${JSON.stringify(failed)}`,
    );
    if (mode === 'hang') {
      await pollUntil(() => record.closedAt !== null, { what: 'lebd to drop the hanging request', timeout_ms: 5000 });
      const gaveUp = record.closedAt - record.receivedAt;
      assert.ok(
        gaveUp >= 9000 && gaveUp <= 13000 * TIME_SCALE,
        `lebd waits 10 s for an answer, then gives up: it dropped the request after ${gaveUp} ms`,
      );
    }
    const gap = parseTime(failed.next_attempt_at, 'next_attempt_at') - admin.lebdAt(record.receivedAt);
    const slack = mode === 'hang' ? 13 : 3;
    assert.ok(
      gap >= waits[n - 1] - 3 && gap <= waits[n - 1] + slack,
      `after failed attempt ${n} the next is due ${waits[n - 1]} s later on lebd's clock: ` +
        `next_attempt_at ${failed.next_attempt_at}, attempt at about ${iso(admin.lebdAt(record.receivedAt))} (${gap} s)`,
    );
  }

  /* Attempt 4 succeeds. */
  const last = await admin.message(id);
  await admin.setNow(parseTime(last.next_attempt_at) + 1);
  await admin.jobs();
  const done = await admin.waitMessage(id, (m) => m.status === 'delivered', 'delivered');
  assert.equal(done.attempts, 4, `delivered at the 4th attempt: ${JSON.stringify(done)}`);

  const records = receiver.forId(id);
  assert.deepEqual(records.map((r) => r.mode), ['500', 'close', 'hang', 'ok'], describe(receiver.requests));
  for (const [index, record] of records.entries()) {
    verifyDelivery(record, `attempt ${index + 1}`);
    assert.ok(record.raw.equals(records[0].raw), `attempt ${index + 1}: the same body on every retry`);
    assert.equal(record.headers['x-leb-delivery'], String(id), `attempt ${index + 1}: the same delivery id`);
  }
  assert.deepEqual(withoutId(records[0].body), message.payload);

  /* The message written during the hang is delivered too, once. */
  const all = await admin.waitOutbox(
    (messages) => messages.length === 2 && messages.every((m) => m.status === 'delivered'),
    'the second message delivered',
  );
  const other = all.find((m) => m.id !== id);
  assert.equal(receiver.forId(other.id).length, 1, describe(receiver.requests));

  /* Delivered is final: hours later, nothing is sent again. */
  await admin.advance(7200);
  await admin.jobs();
  await delay(ONE_LOOP_MS);
  assert.equal(receiver.requests.length, 5, `no more requests: ${describe(receiver.requests)}`);

  const expired = await expiry;
  assert.ok(!expired.error, `the unpaid order expires: ${expired.error && expired.error.message}`);
  assert.ok(
    expired.ms <= 5000 * TIME_SCALE,
    `an order with a 2 s time to live, created as a webhook delivery began to hang, expired ` +
      `only after ${expired.ms} ms: the delivery blocks the scheduler thread that also runs ` +
      'order expiry and the lifecycle job',
  );
});

test('attempts_max 3: dead after exactly 3 attempts, never retried; resend; 409, 404, 400', async (t) => {
  const receiver = await startReceiver(t);
  /* A redirect and a 404 are failures too (and the redirect is not followed). */
  receiver.failNext(['302', '404']);
  receiver.always = '500';
  /* backoff_s 2000: waits of 2000 s, then 3600 s (4000 capped). */
  const { lebd, admin } = await startWebhookLebd(t, {
    url: receiver.url,
    env: { LEB_TELECOM_ATTEMPTS_MAX: '3', LEB_TELECOM_BACKOFF_S: '2000' },
  });

  await topUp(lebd, DEMO.active.card_no, 5000);
  const [message] = await admin.outbox();
  const id = message.id;

  await admin.jobs();
  await receiver.waitFor(1);
  let current = await admin.waitMessage(id, (m) => m.attempts === 1, 'attempts 1');
  assert.equal(current.status, 'pending');
  let gap = parseTime(current.next_attempt_at) - admin.lebdAt(receiver.requests[0].receivedAt);
  assert.ok(gap >= 1997 && gap <= 2003, `first back-off 2000 s, got ${gap} s: ${JSON.stringify(current)}`);

  /* A pending message cannot be resent. */
  assertError(await admin.resend(id), 409, 'illegal_transition', 'resend of a pending message');

  await admin.setNow(parseTime(current.next_attempt_at) + 1);
  await admin.jobs();
  await receiver.waitFor(2);
  current = await admin.waitMessage(id, (m) => m.attempts === 2, 'attempts 2');
  assert.equal(current.status, 'pending');
  gap = parseTime(current.next_attempt_at) - admin.lebdAt(receiver.requests[1].receivedAt);
  assert.ok(gap >= 3597 && gap <= 3603, `second back-off min(4000, 3600) s, got ${gap} s: ${JSON.stringify(current)}`);

  await admin.setNow(parseTime(current.next_attempt_at) + 1);
  await admin.jobs();
  await receiver.waitFor(3);
  const dead = await admin.waitMessage(id, (m) => m.status === 'dead', 'dead');
  assert.equal(dead.attempts, 3, `dead after exactly attempts_max attempts: ${JSON.stringify(dead)}`);
  assert.ok(typeof dead.last_error === 'string' && dead.last_error.length > 0, 'last_error of a dead message');
  assert.deepEqual((await admin.outbox({ status: 'dead' })).map((m) => m.id), [id]);
  assert.deepEqual(await admin.outbox({ status: 'pending' }), []);

  /* Never retried: ten hours later (well past the 3600 s cap), jobs and loop included. */
  await admin.advance(36000);
  await admin.jobs();
  await delay(ONE_LOOP_MS);
  assert.equal(receiver.requests.length, 3, `a dead message is not retried: ${describe(receiver.requests)}`);
  assert.equal((await admin.message(id)).status, 'dead');
  assert.deepEqual(receiver.requests.map((r) => r.mode), ['302', '404', '500']);
  assert.ok(
    receiver.requests.every((r) => r.url === HOOK_PATH),
    `a redirect is not followed: ${receiver.requests.map((r) => r.url).join(', ')}`,
  );

  /* The receiver works again; an operator resends. */
  receiver.always = null;
  assertError(await admin.resend(id, { token: null }), 401, 'unauthorized', 'resend without a token');
  const resent = await admin.resend(id);
  assertStatus(resent, 200, 'resend of a dead message');
  const view = resent.body;
  assert.equal(view && view.id, id, `resend answers the message: ${resent.text.slice(0, 300)}`);
  checkMessage(view);
  assert.equal(view.status, 'pending');
  assert.equal(view.attempts, 0);
  assert.deepEqual(view.payload, message.payload);
  const due = parseTime(view.next_attempt_at, 'next_attempt_at after resend') - admin.lebdAt();
  assert.ok(due <= 2 && due >= -5, `a resent message is due now: ${view.next_attempt_at}, lebd ~${iso(admin.lebdAt())}`);

  await admin.jobs();
  await receiver.waitFor(4);
  const delivered = await admin.waitMessage(id, (m) => m.status === 'delivered', 'delivered after resend');
  assert.equal(delivered.attempts, 1, `one attempt since the resend: ${JSON.stringify(delivered)}`);
  const records = receiver.forId(id);
  assert.equal(records.length, 4, describe(receiver.requests));
  for (const record of records) {
    verifyDelivery(record);
    assert.ok(record.raw.equals(records[0].raw), 'the same body after a resend');
  }
  assert.equal(receiver.requests.length, 4, `delivered once after the resend: ${describe(receiver.requests)}`);

  /* Errors. */
  assertError(await admin.resend(id), 409, 'illegal_transition', 'resend of a delivered message');
  assertError(await admin.resend(999999999), 404, 'not_found', 'resend of an unknown id');
  for (const bad of ['abc', '12abc', 'x1']) {
    assertError(await admin.resend(bad), 400, 'invalid_request', `resend of id ${JSON.stringify(bad)}`);
  }
  assert.equal(receiver.requests.length, 4);
  assert.equal((await admin.message(id)).status, 'delivered');
});

test('the receiver is down while changes happen, and lebd restarts meanwhile: nothing is lost', async (t) => {
  const port = await freePort();
  const receiver = createReceiver(t);
  const url = `http://127.0.0.1:${port}${HOOK_PATH}`;
  const { lebd, admin } = await startWebhookLebd(t, { url });

  await topUp(lebd, DEMO.suspended.card_no, 5000);
  await topUp(lebd, DEMO.active.card_no, 10000);
  await admin.jobs();
  const failed = await admin.waitOutbox(
    (messages) => messages.length === 3 && messages.every((m) => m.attempts >= 1),
    'three messages tried once',
  );
  for (const message of failed) {
    assert.equal(message.status, 'pending', `connection refused is a failed attempt: ${JSON.stringify(message)}`);
    assert.equal(message.attempts, 1, `one attempt, the next one 30 s away: ${JSON.stringify(message)}`);
    assert.ok(message.last_error && message.last_error.length > 0, `last_error: ${JSON.stringify(message)}`);
  }

  /* A restart while the messages wait: they survive it (the clock goes on from where it was). */
  const restarted = await lebd.restart({ args: ['--clock', iso(admin.lebdAt() + 1)] });
  await admin.attach(restarted);
  const kept = await admin.outbox();
  assert.deepEqual(
    kept.map((m) => [m.id, m.status, m.attempts, m.payload]),
    failed.map((m) => [m.id, 'pending', 1, m.payload]),
    'the pending messages survive a restart',
  );

  receiver.okStatus = 202;
  await receiver.listen(port);
  await admin.advance(120);
  await admin.jobs();
  await receiver.waitFor(3);
  const delivered = await admin.waitOutbox(
    (messages) => messages.length === 3 && messages.every((m) => m.status === 'delivered'),
    'all three delivered',
  );
  for (const message of delivered) assert.equal(message.attempts, 2, JSON.stringify(message));
  assert.equal(receiver.requests.length, 3, `each once: ${describe(receiver.requests)}`);
  const bodies = receiver.requests.map((r) => verifyDelivery(r));
  assert.deepEqual(bodies.map((b) => b.id).sort(), failed.map((m) => m.id).sort());
  for (const body of bodies) {
    assert.deepEqual(withoutId(body), failed.find((m) => m.id === body.id).payload);
  }
  assert.deepEqual(bodies.map((b) => b.event).sort(), ['card.reactivated', 'card.recharged', 'card.recharged']);
});

test('SIGTERM while deliveries hang: lebd exits promptly, and the messages are delivered after the restart', async (t) => {
  const receiver = await startReceiver(t);
  receiver.always = 'hang';
  const { lebd, admin } = await startWebhookLebd(t, { url: receiver.url });
  for (let i = 0; i < 3; i++) await topUp(lebd, DEMO.active.card_no, 5000);
  const written = await admin.outbox();
  assert.equal(written.length, 3);
  await receiver.waitFor(1, 'the first delivery to hang');

  /* At most the attempt in flight (10 s) is waited for; the next messages are not tried. */
  const started = Date.now();
  lebd.process.kill('SIGTERM');
  const exit = await Promise.race([lebd.exited, delay(12000 * TIME_SCALE).then(() => null)]);
  const took = Date.now() - started;
  if (exit === null) await lebd.kill();
  assert.ok(
    exit !== null,
    `lebd had not exited ${took} ms after SIGTERM with 3 webhooks due to a receiver that ` +
      `hangs (it tries them one after the other, 10 s each); requests: ${receiver.requests.length}`,
  );
  assert.deepEqual(exit, { code: 0, signal: null }, 'SIGTERM exits 0');

  receiver.always = null;
  const restarted = await lebd.restart({ args: ['--clock', iso(admin.lebdAt() + 1)] });
  await admin.attach(restarted);
  const waiting = await admin.outbox();
  assert.deepEqual(waiting.map((m) => m.id), written.map((m) => m.id), 'nothing lost at the stop');
  for (const message of waiting) {
    /* The restarted dispatcher may already have delivered it (the receiver works again). */
    if (message.status === 'delivered') continue;
    assert.equal(message.status, 'pending', JSON.stringify(message));
    /* A graceful stop hands back what it had taken: no message stays held (leased) by a
     * process that is gone; at most the back-off of an attempt cut short applies. */
    const heldFor = parseTime(message.next_attempt_at) - admin.lebdAt();
    assert.ok(
      heldFor <= 60,
      `after a graceful stop, message ${message.id} is held ${heldFor} s more: ${JSON.stringify(message)}`,
    );
  }
  /* Past any back-off of the attempt that was cut short. */
  await admin.advance(120);
  await admin.jobs();
  await admin.waitOutbox(
    (messages) => messages.every((m) => m.status === 'delivered'),
    'all delivered after the restart',
  );
  for (const message of written) {
    const ok = receiver.forId(message.id).filter((r) => r.mode === 'ok');
    assert.equal(ok.length, 1, `message ${message.id} answered once: ${describe(receiver.requests)}`);
    verifyDelivery(ok[0]);
  }
});

test('a crash (SIGKILL) in the middle of a delivery loses nothing: the same ids are delivered after the restart', async (t) => {
  const receiver = await startReceiver(t);
  receiver.always = 'hang';
  const { lebd, admin } = await startWebhookLebd(t, { url: receiver.url });
  await topUp(lebd, DEMO.suspended.card_no, 5000);
  const written = await admin.outbox();
  assert.equal(written.length, 2);
  await receiver.waitFor(1, 'a delivery to hang');
  await lebd.kill();

  receiver.always = null;
  const restarted = await lebd.restart({ args: ['--clock', iso(admin.lebdAt() + 1)] });
  await admin.attach(restarted);
  assert.deepEqual((await admin.outbox()).map((m) => m.status), ['pending', 'pending'], 'nothing lost');
  /* An hour later (past any back-off or lease of the dead process), everything is sent. */
  await admin.advance(3600);
  await admin.jobs();
  await admin.waitOutbox(
    (messages) => messages.every((m) => m.status === 'delivered'),
    'both delivered after the crash',
  );
  for (const message of written) {
    const ok = receiver.forId(message.id).filter((r) => r.mode === 'ok');
    assert.equal(ok.length, 1, `message ${message.id} answered once: ${describe(receiver.requests)}`);
    assert.deepEqual(withoutId(verifyDelivery(ok[0])), message.payload);
  }
});

test('without a webhook URL the messages stay pending, untried; configured later, they are delivered', async (t) => {
  const { lebd, admin } = await startWebhookLebd(t, {});
  await topUp(lebd, DEMO.suspended.card_no, 5000);
  await admin.advance(3600);
  await admin.jobs();
  await delay(ONE_LOOP_MS);
  const waiting = await admin.outbox();
  assert.equal(waiting.length, 2, JSON.stringify(waiting));
  for (const message of waiting) {
    assert.equal(message.status, 'pending', `nothing is lost: ${JSON.stringify(message)}`);
    assert.equal(message.attempts, 0, `nothing is sent: ${JSON.stringify(message)}`);
  }

  const receiver = await startReceiver(t);
  const restarted = await lebd.restart({
    args: ['--clock', iso(admin.lebdAt() + 1)],
    env: { LEB_TELECOM_WEBHOOK_URL: receiver.url, LEB_TELECOM_WEBHOOK_SECRET_FILE: SECRET_FILE },
  });
  await admin.attach(restarted);
  await admin.jobs();
  await receiver.waitFor(2);
  const delivered = await admin.waitOutbox(
    (messages) => messages.length === 2 && messages.every((m) => m.status === 'delivered' && m.attempts === 1),
    'both delivered at the first attempt',
  );
  assert.equal(receiver.requests.length, 2, describe(receiver.requests));
  for (const record of receiver.requests) {
    const body = verifyDelivery(record);
    assert.deepEqual(withoutId(body), delivered.find((m) => m.id === body.id).payload);
  }
});

test('a change that failed writes no webhook: forged, tampered, FAILED, mismatched, duplicate', async (t) => {
  const receiver = await startReceiver(t);
  const { lebd, admin } = await startWebhookLebd(t, { url: receiver.url });

  const order = await createOrderOk(lebd, { card: DEMO.suspended.card_no, face_amount: 5000 });
  const fields = { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' };
  assertError(await notify(lebd, fields, { secret: 'not-the-secret' }), 401, 'invalid_signature', 'forged');
  assertError(await notify(lebd, fields, { tamper: true }), 401, 'invalid_signature', 'tampered');
  assertError(await notify(lebd, fields, { signature: null }), 401, 'invalid_signature', 'unsigned');

  const failedOrder = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertStatus(
    await notify(lebd, { order_no: failedOrder.order_no, amount: failedOrder.pay_amount, status: 'FAILED' }),
    200,
  );
  await waitForOrderStatus(lebd, failedOrder.order_no, 'failed');

  const mismatched = await createOrderOk(lebd, { card: DEMO.suspended.card_no, face_amount: 5000 });
  assertStatus(
    await notify(lebd, { order_no: mismatched.order_no, amount: mismatched.pay_amount + 1, status: 'SUCCESS' }),
    200,
  );
  await waitForOrderStatus(lebd, mismatched.order_no, 'review');

  await admin.jobs();
  await delay(ONE_LOOP_MS);
  assert.deepEqual(await admin.outbox(), [], 'no message for a change that did not happen');
  assert.equal(receiver.requests.length, 0, describe(receiver.requests));

  /* The control: the genuine notification, sent three times, writes its messages once. */
  const raw = notifyBody({ ...fields, trade_no: `T${Date.now()}webhooks` });
  for (let i = 0; i < 3; i++) assertStatus(await notify(lebd, null, { raw }), 200, `genuine copy ${i}`);
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  await admin.jobs();
  await receiver.waitFor(2);
  const messages = await admin.outbox();
  assert.deepEqual(messages.map((m) => m.payload.event).sort(), ['card.reactivated', 'card.recharged']);
  assert.equal(receiver.requests.length, 2, describe(receiver.requests));
  receiver.requests.forEach((record) => verifyDelivery(record));
});

test('the lifecycle job: card.suspended on a dry billing day, card.recycled after the grace', async (t) => {
  const receiver = await startReceiver(t);
  /* lebd's own lifecycle runs stay out of the way of the counts of the test's jobs runs. */
  const { admin } = await startWebhookLebd(t, {
    url: receiver.url,
    env: { LEB_LIFECYCLE_INTERVAL_S: '86400' },
  });

  /* The active demo card, balance 0, on KEEP8 (800 a month): suspended at 2027-02-01. */
  const billing = Date.parse('2027-02-01T00:00:00Z') / 1000;
  await admin.setNow(billing + 5);
  const first = await admin.jobs();
  assert.equal(first.lifecycle.suspended, 1, `one card suspended: ${JSON.stringify(first)}`);
  await receiver.waitFor(1);
  let messages = await admin.waitOutbox(
    (list) => list.length === 1 && list[0].status === 'delivered',
    'card.suspended delivered',
  );
  const suspended = verifyDelivery(receiver.requests[0]);
  assert.deepEqual(withoutId(suspended), messages[0].payload);
  assert.equal(suspended.event, 'card.suspended');
  assert.equal(suspended.card_no, DEMO.active.card_no);
  assert.equal(suspended.msisdn, DEMO.active.msisdn);
  assert.equal(suspended.status, 'suspended');
  const at = parseTime(suspended.at);
  assert.ok(at >= billing && at <= admin.lebdAt() + 1, `at ${suspended.at}: the job's time`);

  /* 90 days of grace: the demo suspended card (suspended at the start) and then this one are
   * recycled; the recycled demo card stays silent. */
  await admin.setNow(billing + 91 * 86400);
  const second = await admin.jobs();
  assert.equal(second.lifecycle.recycled, 2, `two cards recycled: ${JSON.stringify(second)}`);
  await receiver.waitFor(3);
  messages = await admin.waitOutbox(
    (list) => list.length === 3 && list.every((m) => m.status === 'delivered'),
    'the card.recycled messages delivered',
  );
  await admin.jobs();
  await delay(ONE_LOOP_MS);
  assert.equal(receiver.requests.length, 3, describe(receiver.requests));
  const recycled = receiver.requests.slice(1).map((r) => verifyDelivery(r));
  for (const body of recycled) {
    assert.equal(body.event, 'card.recycled');
    assert.equal(body.status, 'recycled');
    assert.deepEqual(withoutId(body), messages.find((m) => m.id === body.id).payload);
  }
  assert.deepEqual(
    recycled.map((b) => b.card_no).sort(),
    [DEMO.active.card_no, DEMO.suspended.card_no].sort(),
  );
});

test('the secret is in no webhook body or header, no outbox listing, no log line of lebd', async () => {
  const requests = seen.receivers.flatMap((r) => r.requests);
  assert.ok(requests.length > 0, 'the tests above delivered webhooks');
  assert.ok(seen.lebds.length > 0, 'the tests above ran lebd');
  for (const record of requests) {
    assert.ok(!record.text.includes(SECRET), `a webhook body holds the secret: ${record.text.slice(0, 200)}`);
    for (const [name, value] of Object.entries(record.headers)) {
      assert.ok(!String(value).includes(SECRET), `the webhook header ${name} holds the secret`);
    }
  }
  for (const text of seen.texts) {
    assert.ok(!text.includes(SECRET), 'an outbox listing holds the secret');
  }
  const cardNumbers = [DEMO.active.card_no, DEMO.suspended.card_no];
  for (const lebd of seen.lebds) {
    for (const line of [...lebd.logs, ...lebd.stdout]) {
      assert.ok(!line.includes(SECRET), `lebd logged the webhook secret: ${line.slice(0, 300)}`);
      for (const cardNo of cardNumbers) {
        assert.ok(!line.includes(cardNo), `lebd logged a full card number: ${line.slice(0, 300)}`);
      }
    }
  }
});
