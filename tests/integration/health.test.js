'use strict';
/*
 * health.test.js - lebd's life cycle and what operators see: /healthz, /readyz, /metrics,
 * the JSON log lines on stderr (masked, no secrets), start-up errors, graceful shutdown and
 * restart on the same database.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertError,
  assertStatus,
  createOrderOk,
  getOrder,
  login,
  notify,
  assertLedgerBalanced,
  metricValue,
} = require('../lib/client');

const PASSWORD_PREFIX = 'lebd: demo admin password: ';
const PASSWORD_LINE = /^lebd: demo admin password: \S+$/;

let shared;
before(async () => {
  shared = await startLebd();
});
after(() => shared && shared.close());

test('GET /healthz answers 200 {"status":"ok"}', async () => {
  const response = await api(shared, 'GET', '/healthz');
  assertStatus(response, 200);
  assert.match(response.headers.get('content-type') || '', /^application\/json/);
  assert.deepEqual(response.body, { status: 'ok' });
});

test('GET /readyz answers 200 {"status":"ready"} once the store is open', async () => {
  const response = await api(shared, 'GET', '/readyz');
  assertStatus(response, 200);
  assert.deepEqual(response.body, { status: 'ready' });
});

test('GET /metrics is Prometheus text with leb_http_requests_total', async () => {
  for (let i = 0; i < 3; i++) assertStatus(await api(shared, 'GET', '/healthz'), 200);
  assertStatus(await api(shared, 'GET', `/api/v1/cards/${DEMO.active.card_no}`), 200);
  assertError(await api(shared, 'GET', '/no/such/route'), 404, 'not_found');

  const response = await api(shared, 'GET', '/metrics');
  assertStatus(response, 200);
  const contentType = response.headers.get('content-type') || '';
  assert.match(contentType, /^text\/plain;\s*version=0\.0\.4(;.*)?$/, `content-type ${contentType}`);

  const text = response.text;
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  /* Every line is a comment (# HELP, # TYPE) or a sample: name{labels} value [timestamp]. */
  const sample =
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?([0-9.eE+-]+|NaN|\+Inf|-Inf)( -?\d+)?$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      assert.match(
        line,
        /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/,
        `TYPE line: ${line}`,
      );
      continue;
    }
    if (line.startsWith('#')) continue;
    assert.match(line, sample, `not a Prometheus sample line: ${line}`);
  }
  assert.match(text, /^# TYPE leb_http_requests_total counter$/m);
  const total = metricValue(text, 'leb_http_requests_total');
  assert.ok(total >= 5, `leb_http_requests_total counts the requests made, got ${total}`);
  assert.ok(
    /^leb_http_requests_total\{[^}]*status="200"[^}]*\} /m.test(text),
    'leb_http_requests_total has a status label',
  );
  assert.ok(
    /^leb_http_requests_total\{[^}]*route="[^"]*"[^}]*\} /m.test(text),
    'leb_http_requests_total has a route label',
  );
  assert.ok(metricValue(text, 'leb_http_requests_total', { status: '404' }) >= 1, 'the 404 counted');
});

test('log lines are JSON and never carry full card or phone numbers nor secrets', async (t) => {
  const lebd = await startLebd({ t });
  const token = await login(lebd);

  /* Use the demo numbers everywhere they can go: look-ups, balance, orders, payments, SMS. */
  const numbers = [
    DEMO.active.card_no,
    DEMO.active.msisdn,
    '13800000001',
    '8986 0100 0000 0000 018',
    DEMO.suspended.card_no,
  ];
  for (const number of numbers) {
    assertStatus(await api(lebd, 'GET', `/api/v1/cards/${encodeURIComponent(number)}`), 200);
    assertStatus(
      await api(lebd, 'GET', `/api/v1/cards/${encodeURIComponent(number)}/balance`, { token }),
      200,
    );
  }
  assertError(
    await api(lebd, 'GET', '/api/v1/cards/8986010000000000019'),
    400,
    'invalid_card_number',
  );
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertStatus(await getOrder(lebd, order.order_no), 200);
  assertStatus(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
    200,
  );
  assertError(
    await notify(
      lebd,
      { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' },
      { secret: 'not-the-secret' },
    ),
    401,
    'invalid_signature',
  );
  const sms = await api(
    lebd,
    'GET',
    `/api/v1/sms/inbound?from=%2B8613800000001&to=10086&text=YE&key=${encodeURIComponent(lebd.smsKey)}`,
  );
  assertStatus(sms, 200);
  assertStatus(
    await api(lebd, 'GET', '/api/v1/sms/inbound?from=%2B8613800000001&to=10086&text=YE&key=wrong'),
    403,
  );
  assertError(
    await api(lebd, 'POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: `${lebd.adminPassword}x` },
    }),
    401,
    'invalid_credentials',
  );
  await assertLedgerBalanced(lebd, token);
  /* Requests the HTTP library itself refuses (too many query arguments for its memory
   * pool): its complaints must reach stderr as JSON too, or not at all. */
  for (const path of [`/healthz?${'q=1&'.repeat(1000)}`, `/${'a'.repeat(100 * 1024)}`]) {
    try {
      await (await fetch(lebd.url + path)).text();
    } catch (_) {
      /* whether it answers is bad_input.test.js's business */
    }
  }

  await lebd.stop();
  assert.ok(lebd.logs.length > 0, 'lebd logs something');
  const forbidden = [
    ['full card number', DEMO.active.card_no],
    ['full card number', DEMO.suspended.card_no],
    ['full phone number', '13800000001'],
    ['full phone number', '13800000002'],
    ['admin password', lebd.adminPassword],
    ['sandbox secret', lebd.sandboxSecret],
    ['SMS gateway key', lebd.smsKey],
    ['admin token', token],
  ];
  assert.ok(
    lebd.logs.filter((line) => line.startsWith(PASSWORD_PREFIX)).length <= 1,
    'at most one demo password line',
  );
  for (const line of lebd.logs) {
    for (const [what, value] of forbidden) {
      assert.ok(!line.includes(value), `the ${what} reached the log: ${line}`);
    }
    /* The one line that is not JSON (API-ADDITIONS.md); with LEB_ADMIN_PASSWORD set it must
     * not repeat the password, which the loop above checked. */
    if (line.startsWith(PASSWORD_PREFIX)) continue;
    let record;
    assert.doesNotThrow(() => {
      record = JSON.parse(line);
    }, `a log line that is not JSON: ${line}`);
    assert.ok(record && typeof record === 'object' && !Array.isArray(record), `not an object: ${line}`);
    assert.equal(typeof record.msg, 'string', `a log line without "msg": ${line}`);
  }
});

test('SIGTERM stops lebd with exit code 0 and it stops answering', async (t) => {
  const lebd = await startLebd({ t });
  assertStatus(await api(lebd, 'GET', '/healthz'), 200);
  const info = await lebd.stop();
  assert.deepEqual(info, { code: 0, signal: null });
  await assert.rejects(fetch(`${lebd.url}/healthz`), 'nothing listens after the exit');
});

test('with --demo and no LEB_ADMIN_PASSWORD, lebd prints a generated one once and it works', async (t) => {
  const lebd = await startLebd({ t, env: { LEB_ADMIN_PASSWORD: null } });
  const lines = lebd.logs.filter((line) => line.startsWith('lebd: demo admin password:'));
  assert.equal(lines.length, 1, 'the password line is printed exactly once');
  assert.match(lines[0], PASSWORD_LINE);
  assert.ok(lebd.adminPassword && lebd.adminPassword.length >= 8, 'a password of some length');
  const token = await login(lebd);
  assert.equal(typeof token, 'string');
});

test('an unknown key or section in the config file is a start-up error', async () => {
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'lebd-config-'));
  try {
    const cases = [
      ['unknown key', '[server]\nno_such_key = 1\n'],
      ['unknown section', '[no_such_section]\nkey = 1\n'],
    ];
    for (const [what, text] of cases) {
      const file = path.join(dir, `${what.replace(/ /g, '_')}.ini`);
      fs.writeFileSync(file, text);
      await assert.rejects(
        startLebd({ args: ['--config', file] }),
        /exited before listening/,
        `${what}: lebd must refuse to start`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a restart on the same database keeps orders and re-seeds the demo idempotently', async (t) => {
  const first = await startLebd({ t });
  const order = await createOrderOk(first, { card: DEMO.active.card_no, face_amount: 10000 });
  const second = await first.restart();
  assert.notEqual(second.url, undefined);
  const response = await getOrder(second, order.order_no);
  assertStatus(response, 200);
  assert.equal(response.body.status, 'pending_payment');
  assert.equal(response.body.face_amount, 10000);
  for (const card of [DEMO.active, DEMO.suspended, DEMO.recycled]) {
    assertStatus(await api(second, 'GET', `/api/v1/cards/${card.card_no}`), 200);
  }
  const plans = await api(second, 'GET', '/api/v1/admin/plans', { token: await login(second) });
  assertStatus(plans, 200);
  assert.equal(
    plans.body.plans.filter((plan) => plan.code === DEMO.plan.code).length,
    1,
    'the demo plan exists once after a second --demo start',
  );
  await assertLedgerBalanced(second);
});
