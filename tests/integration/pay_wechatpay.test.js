'use strict';
/*
 * pay_wechatpay.test.js - the WeChat Pay API v3 provider ("wechatpay") against a simulator of
 * WeChat Pay's documented wire format (tests/sim/wechatpay.js): the Native order and its
 * signed request, notifications (signed by the platform key, the transaction encrypted under
 * the APIv3 key) credited exactly once whatever their number, order or timing, forgeries
 * refused, signed messages for another merchant or amount sent to review, a platform key
 * rotation, a lost notification found by polling, a late payment on an expired order, a
 * payment for a card recycled meanwhile refunded through WeChat Pay's refund API, and a half
 * configuration that stops lebd without showing a key.
 *
 * lebd runs in test mode: its clock moves with POST /api/v1/admin/clock and its jobs (expiry,
 * lifecycle, polling, refunds) run with POST /api/v1/admin/jobs/run; the background loops are
 * slowed down so that only the test drives them. Timestamps of signatures are real time.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startLebd, lebdPath, TIME_SCALE } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertStatus,
  assertLedgerBalanced,
  createOrderOk,
  getBalance,
  getMetrics,
  getOrder,
  login,
  metricValue,
  waitForOrderStatus,
} = require('../lib/client');
const { startWechatSim, beijingTime } = require('../sim/wechatpay');

const NOTIFY_PATH = '/api/v1/payments/wechatpay/notify';
const QUERY_AFTER_S = 30;
const ORDER_TTL_S = 900;
const DAY_S = 86400;
/* Only the test runs the jobs: the background loops wait an hour or a day of real time. */
const LEBD_ENV = {
  LEB_PAYMENTS_QUERY_AFTER_S: String(QUERY_AFTER_S),
  LEB_PAYMENTS_INTERVAL_S: '3600',
  LEB_ORDERS_TTL_S: String(ORDER_TTL_S),
  LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
  LEB_LIFECYCLE_INTERVAL_S: '86400',
};

let sim;
let lebd; /* configured with the current and the next platform key */
let token;
let plain = null; /* started on demand: the current platform key only */
const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-wechatpay-'));
process.on('exit', () => fs.rmSync(keyDir, { recursive: true, force: true }));

before(async () => {
  sim = await startWechatSim();
  lebd = await startLebd({
    testMode: true,
    env: { ...LEBD_ENV, ...sim.lebdEnv(fs.mkdtempSync(path.join(keyDir, 'main-')), { next: true }) },
  });
  token = await login(lebd);
});

after(async () => {
  if (lebd) await lebd.close();
  if (plain) await plain.instance.close();
  if (sim) await sim.close();
  fs.rmSync(keyDir, { recursive: true, force: true });
});

/* A second lebd on the same simulator that knows the current platform key only. */
async function plainLebd() {
  if (plain === null) {
    const instance = await startLebd({
      testMode: true,
      env: { ...LEBD_ENV, ...sim.lebdEnv(fs.mkdtempSync(path.join(keyDir, 'plain-'))) },
    });
    plain = { instance, token: await login(instance) };
  }
  return plain;
}

/* ---- helpers ---- */

async function wechatOrder(instance, fields = {}) {
  return createOrderOk(instance, {
    card: DEMO.active.card_no,
    face_amount: 5000,
    payment_method: 'wechatpay',
    ...fields,
  });
}

async function balanceOf(instance, card = DEMO.active.card_no, tokenOf = token) {
  return (await getBalance(instance, card, tokenOf)).balance;
}

/* WeChat Pay's "received": 204 and no body. */
function assertAccepted(response, what = 'notification') {
  assert.equal(response.status, 204, `${what}: expected 204, got ${response.status}: ${response.text}`);
  assert.equal(response.text, '', `${what}: a 204 has no body`);
}

/* Refused, so that WeChat Pay would send it again: 401 {"code":"FAIL","message":"签名错误"}. */
function assertRejected(response, what) {
  assert.equal(response.status, 401, `${what}: expected 401, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') || '', /^application\/json/, `${what}: JSON`);
  assert.deepEqual(response.body, { code: 'FAIL', message: '签名错误' }, `${what}: body`);
}

async function assertUntouched(instance, orderNo, what) {
  const read = await getOrder(instance, orderNo);
  assertStatus(read, 200);
  assert.equal(read.body.status, 'pending_payment', `${what}: the order is still pending`);
  assert.equal(read.body.paid_at, null, `${what}: not paid`);
  assert.equal(read.body.credited_at, null, `${what}: not credited`);
}

async function advance(instance, tokenOf, seconds) {
  const response = await api(instance, 'POST', '/api/v1/admin/clock', {
    token: tokenOf,
    body: { advance_s: seconds },
  });
  assertStatus(response, 200, `clock +${seconds} s`);
  return Date.parse(response.body.now) / 1000;
}

async function runJobs(instance, tokenOf) {
  const response = await api(instance, 'POST', '/api/v1/admin/jobs/run', { token: tokenOf, body: {} });
  assertStatus(response, 200, 'jobs/run');
  return response.body;
}

async function notificationCount(instance, outcome) {
  return metricValue(await getMetrics(instance), 'leb_notifications_total', { outcome }) || 0;
}

function queriesOf(orderNo) {
  return sim.requestsTo(`/v3/pay/transactions/out-trade-no/${orderNo}`, 'GET');
}

function refundsOf(orderNo) {
  return sim
    .requestsTo('/v3/refund/domestic/refunds', 'POST')
    .filter((r) => r.json && r.json.out_trade_no === orderNo);
}

/* ---- 1. the order ---- */

test('an order paid with wechatpay carries the code_url of a correctly signed Native order', async () => {
  const order = await wechatOrder(lebd, { face_amount: 10000 });
  assert.equal(order.status, 'pending_payment');
  assert.equal(order.payment.provider, 'wechatpay');
  assert.match(order.payment.pay_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=\w+$/);
  assert.equal(order.payment.qr_text, order.payment.pay_url, 'the QR code is the code_url');

  const requests = sim
    .requestsTo('/v3/pay/transactions/native', 'POST')
    .filter((r) => r.json && r.json.out_trade_no === order.order_no);
  assert.equal(requests.length, 1, 'one Native order');
  const [request] = requests;
  assert.equal(request.problem, null, `the simulator verified the request: ${request.problem}`);
  assert.ok(request.verified);
  assert.equal(request.status, 200);
  assert.equal(sim.orders.get(order.order_no).code_url, order.payment.pay_url);

  /* Authorization, field by field, in the documented order. */
  const auth = new RegExp(
    '^WECHATPAY2-SHA256-RSA2048 mchid="([^"]+)",nonce_str="([0-9A-Za-z]{16,32})",' +
      'signature="([A-Za-z0-9+/]+=*)",timestamp="(\\d+)",serial_no="([^"]+)"$',
  ).exec(request.headers.authorization);
  assert.ok(auth, `Authorization: ${request.headers.authorization}`);
  assert.equal(auth[1], sim.mchid);
  assert.ok(Math.abs(Number(auth[4]) - Date.now() / 1000) < 60, 'timestamp: now, in seconds');
  assert.equal(auth[5], sim.merchantSerial);
  assert.equal(Buffer.from(auth[3], 'base64').length, 256, 'a 2048-bit RSA signature');
  assert.match(request.headers.accept, /^application\/json$/);
  assert.match(request.headers['content-type'], /^application\/json/);
  assert.ok(request.headers['user-agent'], 'WeChat Pay wants a User-Agent');

  /* The body, exactly. */
  const body = request.json;
  assert.deepEqual(Object.keys(body).sort(), [
    'amount',
    'appid',
    'description',
    'mchid',
    'notify_url',
    'out_trade_no',
    'time_expire',
  ]);
  assert.equal(body.appid, sim.appid);
  assert.equal(body.mchid, sim.mchid);
  assert.equal(body.out_trade_no, order.order_no);
  assert.deepEqual(body.amount, { total: order.pay_amount, currency: 'CNY' });
  assert.equal(body.notify_url, `${lebd.url}${NOTIFY_PATH}`);
  assert.equal(body.time_expire, beijingTime(Date.parse(order.expires_at) / 1000));
  assert.match(body.time_expire, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$/);
  assert.ok(body.description.length > 0 && Buffer.byteLength(body.description) <= 127);

  /* An answer WeChat Pay did not sign, or signed with a key lebd does not know, is no answer:
   * the order is kept and its payment prepared again when the client retries. */
  const idem = `wx-${crypto.randomUUID()}`;
  const fields = { card: DEMO.active.card_no, face_amount: 5000, channel: 'web', payment_method: 'wechatpay' };
  for (const answerKey of ['wrong', 'none']) {
    sim.answerKey = answerKey;
    try {
      const refused = await api(lebd, 'POST', '/api/v1/orders', {
        body: fields,
        headers: { 'Idempotency-Key': idem },
        allow5xx: true,
      });
      assert.equal(refused.status, 503, `answers signed "${answerKey}": ${refused.text}`);
    } finally {
      sim.answerKey = 'current';
    }
  }
  const retried = await api(lebd, 'POST', '/api/v1/orders', {
    body: fields,
    headers: { 'Idempotency-Key': idem },
  });
  assert.ok(retried.status === 200 || retried.status === 201, `retry: ${retried.status} ${retried.text}`);
  assert.match(retried.body.payment.pay_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  assert.equal(retried.body.payment.pay_url, sim.orders.get(retried.body.order_no).code_url);
});

/* ---- 2. a notification ---- */

test('a valid notification credits the card once and is answered 204', async () => {
  const before_ = await balanceOf(lebd);
  const order = await wechatOrder(lebd);
  sim.pay(order.order_no);
  const response = await sim.notify(order.order_no);
  assertAccepted(response);
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.paid_at && done.credited_at);
  assert.equal(await balanceOf(lebd), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

/* ---- 3. duplicates ---- */

test('replayed, concurrent and out-of-order notifications credit once', async () => {
  const before_ = await balanceOf(lebd);

  /* The same message six times, one after the other. */
  const replayed = await wechatOrder(lebd);
  sim.pay(replayed.order_no);
  const message = sim.buildNotification(replayed.order_no);
  for (let i = 0; i < 6; i++) assertAccepted(await sim.post(message), `copy ${i}`);
  await waitForOrderStatus(lebd, replayed.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 5000, 'a replay credits nothing more');

  /* Ten copies at once. */
  const concurrent = await wechatOrder(lebd, { face_amount: 10000 });
  sim.pay(concurrent.order_no);
  const copy = sim.buildNotification(concurrent.order_no);
  const answers = await Promise.all(Array.from({ length: 10 }, () => sim.post(copy)));
  answers.forEach((answer, i) => assertAccepted(answer, `concurrent copy ${i}`));
  await waitForOrderStatus(lebd, concurrent.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 15000, 'ten copies credit once');

  /* A CLOSED that arrives after the SUCCESS changes nothing. */
  const late = await wechatOrder(lebd);
  sim.pay(late.order_no);
  assertAccepted(await sim.notify(late.order_no));
  const done = await waitForOrderStatus(lebd, late.order_no, 'succeeded');
  const ignored = await notificationCount(lebd, 'ignored');
  assertAccepted(await sim.notify(late.order_no, { tradeState: 'CLOSED' }), 'CLOSED after SUCCESS');
  const read = await getOrder(lebd, late.order_no);
  assert.equal(read.body.status, 'succeeded');
  assert.equal(read.body.credited_at, done.credited_at);
  assert.equal(await notificationCount(lebd, 'ignored'), ignored + 1, 'recorded as ignored');
  assert.equal(await balanceOf(lebd), before_ + 20000);
  await assertLedgerBalanced(lebd, token);
});

/* ---- 4. forgeries and messages for someone else ---- */

test('forged, tampered, stale or undecryptable notifications are refused and credit nothing', async () => {
  const before_ = await balanceOf(lebd);
  const order = await wechatOrder(lebd);
  sim.pay(order.order_no);
  const now = Math.floor(Date.now() / 1000);
  const forgeries = [
    ['one byte of the body changed after signing', { tamper: true }],
    ['signed with a platform key lebd does not know', { wrongKey: true }],
    ['an unknown platform serial', { serial: crypto.randomBytes(20).toString('hex').toUpperCase() }],
    ['a timestamp 10 minutes old', { timestamp: now - 600 }],
    ['a timestamp 10 minutes ahead', { timestamp: now + 600 }],
    ['the next platform key under the current serial', { next: true, serial: sim.platformSerial }],
    ['no Wechatpay-Signature', { omit: ['Wechatpay-Signature'] }],
    ['no Wechatpay-Serial', { omit: ['Wechatpay-Serial'] }],
    ['no Wechatpay-Timestamp', { omit: ['Wechatpay-Timestamp'] }],
    ['a signature test probe', { signature: 'WECHATPAY/SIGNTEST/AAAA' }],
    [
      'a resource that does not decrypt (another APIv3 key)',
      { apiv3Key: crypto.randomBytes(16).toString('hex') },
    ],
  ];
  for (const [what, options] of forgeries) assertRejected(await sim.notify(order.order_no, options), what);
  /* A forged CLOSED must not fail the order either. */
  assertRejected(await sim.notify(order.order_no, { tradeState: 'CLOSED', wrongKey: true }), 'forged CLOSED');
  await assertUntouched(lebd, order.order_no, 'after the forgeries');
  assert.equal(await balanceOf(lebd), before_, 'no credit from forgeries');

  /* The genuine one still goes through, once. */
  assertAccepted(await sim.notify(order.order_no));
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

test('a signed notification for another appid, mchid, amount or currency goes to review', async () => {
  const before_ = await balanceOf(lebd);
  const cases = [
    ['another appid', { appid: 'wx0000000000000000' }],
    ['another mchid', { mchid: '1900000000' }],
    ['another amount (a swapped order)', { total: 10000 }],
    ['another currency', { currency: 'USD' }],
  ];
  for (const [what, options] of cases) {
    const order = await wechatOrder(lebd);
    sim.pay(order.order_no);
    assertAccepted(await sim.notify(order.order_no, options), what);
    const review = await waitForOrderStatus(lebd, order.order_no, 'review');
    assert.equal(review.credited_at, null, `${what}: not credited`);
  }
  assert.equal(await balanceOf(lebd), before_, 'nothing credited');

  /* A verified notification for an order LEB never made: recorded, acknowledged. */
  const unknown = await notificationCount(lebd, 'unknown_order');
  const stranger = `LEB20990101T000000R${String(Date.now()).slice(-10)}`;
  const strangerNotice = await sim.notify(stranger, { url: `${lebd.url}${NOTIFY_PATH}`, total: 5000 });
  assertAccepted(strangerNotice, 'unknown order');
  assert.equal(await notificationCount(lebd, 'unknown_order'), unknown + 1, 'recorded as unknown_order');
  assert.equal((await getOrder(lebd, stranger)).status, 404);
  assert.equal(await balanceOf(lebd), before_);
  await assertLedgerBalanced(lebd, token);
});

/* ---- 5. rotation ---- */

test('a notification signed with the next platform key verifies once that key is configured', async () => {
  const before_ = await balanceOf(lebd);
  const order = await wechatOrder(lebd);
  sim.pay(order.order_no);
  assertAccepted(await sim.notify(order.order_no, { next: true }), 'signed with the next key');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 5000);

  /* Answers signed with the next key verify too. */
  sim.answerKey = 'next';
  try {
    const another = await wechatOrder(lebd);
    assert.match(another.payment.pay_url, /^weixin:\/\//);
  } finally {
    sim.answerKey = 'current';
  }

  /* A lebd that was not given the next key refuses it (and WeChat Pay will send it again). */
  const other = await plainLebd();
  const refused = await wechatOrder(other.instance);
  sim.pay(refused.order_no);
  assertRejected(await sim.notify(refused.order_no, { next: true }), 'next key not configured');
  await assertUntouched(other.instance, refused.order_no, 'next key not configured');
  assertAccepted(await sim.notify(refused.order_no), 'signed with the current key');
  await waitForOrderStatus(other.instance, refused.order_no, 'succeeded');
  await assertLedgerBalanced(lebd, token);
});

/* ---- 6. polling ---- */

test('a lost notification is found by polling and credited exactly once', async () => {
  const before_ = await balanceOf(lebd);
  const order = await wechatOrder(lebd);
  sim.pay(order.order_no); /* paid, but the notification never arrives */

  /* An answer that does not verify is no answer: nothing happens. */
  sim.answerKey = 'wrong';
  try {
    await advance(lebd, token, QUERY_AFTER_S + 1);
    await runJobs(lebd, token);
  } finally {
    sim.answerKey = 'current';
  }
  assert.equal(queriesOf(order.order_no).length, 1, 'asked once');
  await assertUntouched(lebd, order.order_no, 'after an unverified answer');

  await advance(lebd, token, 2 * QUERY_AFTER_S + 1);
  const jobs = await runJobs(lebd, token);
  assert.ok(jobs.payments.found >= 1, `jobs/run found it: ${JSON.stringify(jobs.payments)}`);
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.credited_at);
  assert.equal(await balanceOf(lebd), before_ + 5000);

  const queries = queriesOf(order.order_no);
  assert.equal(queries.length, 2);
  for (const query of queries) {
    assert.ok(query.verified, `query signed: ${query.problem}`);
    assert.deepEqual(query.query, { mchid: sim.mchid });
    assert.equal(query.body, '');
  }

  /* Settled: never asked again, and the late notification is a duplicate. */
  await advance(lebd, token, 700);
  await runJobs(lebd, token);
  assert.equal(queriesOf(order.order_no).length, 2, 'not asked again');
  assertAccepted(await sim.notify(order.order_no), 'the late notification');
  assert.equal(await balanceOf(lebd), before_ + 5000, 'exactly once');
  await assertLedgerBalanced(lebd, token);
});

/* ---- 7. late payments ---- */

test('a late payment on an expired order is credited, notified or found by polling', async () => {
  const before_ = await balanceOf(lebd);
  const notified = await wechatOrder(lebd);
  const polled = await wechatOrder(lebd, { face_amount: 10000 });
  await advance(lebd, token, ORDER_TTL_S + 1);
  const jobs = await runJobs(lebd, token);
  assert.ok(jobs.expired_orders >= 2, `both expired: ${JSON.stringify(jobs)}`);
  assert.equal((await getOrder(lebd, notified.order_no)).body.status, 'expired');
  assert.equal((await getOrder(lebd, polled.order_no)).body.status, 'expired');

  sim.pay(notified.order_no);
  assertAccepted(await sim.notify(notified.order_no), 'late notification');
  await waitForOrderStatus(lebd, notified.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 5000);

  sim.pay(polled.order_no);
  await advance(lebd, token, 600);
  await runJobs(lebd, token);
  await waitForOrderStatus(lebd, polled.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd), before_ + 15000);
  await assertLedgerBalanced(lebd, token);
});

/* ---- 8. refunds ---- */

test('a payment for a card recycled meanwhile is refunded through WeChat Pay exactly once', async () => {
  const { instance } = await plainLebd();
  let tokenOf = await login(instance);
  /* Three orders on the suspended card: refunded at once, after PROCESSING, and refused. */
  const order = await wechatOrder(instance, { card: DEMO.suspended.card_no, face_amount: 5000 });
  const processing = await wechatOrder(instance, { card: DEMO.suspended.card_no, face_amount: 10000 });
  const refused = await wechatOrder(instance, { card: DEMO.suspended.card_no, face_amount: 5000 });

  /* The suspended card's 90 days of grace run out: recycled, and the orders expired. */
  await advance(instance, tokenOf, 91 * DAY_S + 3600);
  tokenOf = await login(instance); /* sessions live 12 hours of lebd's clock */
  const jobs = await runJobs(instance, tokenOf);
  assert.ok(jobs.lifecycle.recycled >= 1, `recycled: ${JSON.stringify(jobs.lifecycle)}`);
  assert.equal((await getOrder(instance, order.order_no)).body.status, 'expired');
  assert.equal((await getBalance(instance, DEMO.suspended.card_no, tokenOf)).status, 'recycled');
  const balance = await balanceOf(instance, DEMO.suspended.card_no, tokenOf);

  /* The payer pays anyway: the money cannot reach the number and goes back. */
  sim.pay(order.order_no);
  const notification = sim.buildNotification(order.order_no);
  assertAccepted(await sim.post(notification), 'payment for a recycled card');
  await waitForOrderStatus(instance, order.order_no, 'refunding');
  assert.equal(refundsOf(order.order_no).length, 0, 'refunded by the jobs, not in the notification');

  const refunded = await runJobs(instance, tokenOf);
  assert.equal(refunded.payments.refunded, 1, `jobs/run: ${JSON.stringify(refunded.payments)}`);
  await waitForOrderStatus(instance, order.order_no, 'refunded');
  const requests = refundsOf(order.order_no);
  assert.equal(requests.length, 1, 'one refund call');
  assert.ok(requests[0].verified, `refund signed: ${requests[0].problem}`);
  assert.deepEqual(requests[0].json, {
    out_trade_no: order.order_no,
    out_refund_no: `R${order.order_no}`,
    amount: { refund: order.pay_amount, total: order.pay_amount, currency: 'CNY' },
  });
  const refund = sim.refunds.get(`R${order.order_no}`);
  assert.equal(refund.status, 'SUCCESS');
  assert.equal(refund.amount.refund, order.pay_amount);
  assert.equal(sim.orders.get(order.order_no).refunded, order.pay_amount, 'the money went back once');

  /* Nothing more: later jobs, a replayed notification, the same refund number again. */
  await advance(instance, tokenOf, 7200);
  const again = await runJobs(instance, tokenOf);
  assert.equal(again.payments.refunded, 0);
  assertAccepted(await sim.post(notification), 'a replay after the refund');
  assert.equal((await getOrder(instance, order.order_no)).body.status, 'refunded');
  assert.equal(refundsOf(order.order_no).length, 1, 'still one refund call');
  const repeated = await sim.merchantCall('POST', '/v3/refund/domestic/refunds', requests[0].json);
  assert.equal(repeated.status, 200);
  assert.ok(repeated.verified);
  assert.equal(repeated.body.refund_id, refund.refund_id, 'the same out_refund_no is the same refund');
  assert.equal(sim.orders.get(order.order_no).refunded, order.pay_amount);

  /* PROCESSING: asked again later under the same refund number, refunded once. */
  sim.refundStatus = 'PROCESSING';
  try {
    sim.pay(processing.order_no);
    assertAccepted(await sim.notify(processing.order_no), 'second payment for the recycled card');
    await waitForOrderStatus(instance, processing.order_no, 'refunding');
    const pending = await runJobs(instance, tokenOf);
    assert.equal(pending.payments.refunded, 0, 'not refunded while PROCESSING');
    assert.equal((await getOrder(instance, processing.order_no)).body.status, 'refunding');
  } finally {
    sim.refundStatus = 'SUCCESS';
  }
  sim.completeRefund(`R${processing.order_no}`);
  await advance(instance, tokenOf, 61);
  const completed = await runJobs(instance, tokenOf);
  assert.equal(completed.payments.refunded, 1, `jobs/run: ${JSON.stringify(completed.payments)}`);
  await waitForOrderStatus(instance, processing.order_no, 'refunded');
  assert.equal(refundsOf(processing.order_no).length, 2, 'asked twice');
  assert.ok(refundsOf(processing.order_no).every((r) => r.json.out_refund_no === `R${processing.order_no}`));
  assert.equal(sim.orders.get(processing.order_no).refunded, processing.pay_amount, 'refunded once');

  /* A refusal of business (no balance left): a human must look; no retry loop. */
  sim.refundError = { status: 403, code: 'NOT_ENOUGH', message: '基本账户余额不足' };
  try {
    sim.pay(refused.order_no);
    assertAccepted(await sim.notify(refused.order_no), 'third payment for the recycled card');
    await waitForOrderStatus(instance, refused.order_no, 'refunding');
    const failed = await runJobs(instance, tokenOf);
    assert.equal(failed.payments.refund_failed, 1, `jobs/run: ${JSON.stringify(failed.payments)}`);
    await advance(instance, tokenOf, 7200);
    await runJobs(instance, tokenOf);
  } finally {
    sim.refundError = null;
  }
  assert.equal((await getOrder(instance, refused.order_no)).body.status, 'refunding', 'left for a human');
  assert.equal(refundsOf(refused.order_no).length, 1, 'not retried');

  assert.equal(await balanceOf(instance, DEMO.suspended.card_no, tokenOf), balance, 'the card got nothing');
  await assertLedgerBalanced(instance, tokenOf);
});

/* ---- 9. configuration ---- */

/* Runs lebd until it exits (it must, here): {code, signal, stderr}. */
function runLebdToExit(env) {
  const dir = fs.mkdtempSync(path.join(keyDir, 'run-'));
  const base = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('LEB_') && key !== 'LEBD' && key !== 'LEBCTL') base[key] = value;
  }
  const child = spawn(lebdPath(), ['--listen', '127.0.0.1:0', '--db', `sqlite:${dir}/leb.db`], {
    env: { ...base, LEB_ADMIN_PASSWORD: 'not-used-here-123', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdout.resume();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000 * TIME_SCALE);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr });
    });
  });
}

test('a half configuration stops lebd with a clear message and no key material', async () => {
  const dir = fs.mkdtempSync(path.join(keyDir, 'half-'));
  const full = sim.lebdEnv(dir, { next: true });
  const without = (name) => {
    const env = { ...full };
    delete env[name];
    return env;
  };
  const shortKey = path.join(dir, 'short_apiv3_key');
  fs.writeFileSync(shortKey, sim.apiv3Key.slice(0, 31));
  const merchantPem = fs.readFileSync(full.LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE, 'utf8');
  const secrets = [
    sim.apiv3Key,
    sim.apiv3Key.slice(0, 31),
    ...merchantPem.split('\n').filter((line) => line.length >= 40),
  ];
  const cases = [
    [
      'appid and mch_id alone',
      { LEB_WECHATPAY_APPID: sim.appid, LEB_WECHATPAY_MCH_ID: sim.mchid },
      /\[wechatpay\] apiv3_key_file is not set \(LEB_WECHATPAY_APIV3_KEY_FILE\)/,
    ],
    [
      'the merchant key alone',
      { LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: full.LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE },
      /\[wechatpay\] appid is not set \(LEB_WECHATPAY_APPID\)/,
    ],
    [
      'all but merchant_serial',
      without('LEB_WECHATPAY_MERCHANT_SERIAL'),
      /\[wechatpay\] merchant_serial is not set/,
    ],
    ['all but base_url', without('LEB_WECHATPAY_BASE_URL'), /\[wechatpay\] base_url is not set/],
    [
      'the next key without its serial',
      without('LEB_WECHATPAY_PLATFORM_SERIAL_NEXT'),
      /platform_public_key_next_file and platform_serial_next go together/,
    ],
    [
      'an APIv3 key of 31 bytes',
      { ...full, LEB_WECHATPAY_APIV3_KEY_FILE: shortKey },
      /apiv3_key_file must hold the 32-byte APIv3 key; it holds 31 bytes/,
    ],
    [
      'a public key where the merchant private key belongs',
      { ...full, LEB_WECHATPAY_MERCHANT_PRIVATE_KEY_FILE: full.LEB_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE },
      /merchant_private_key_file holds no private key/,
    ],
    [
      'the APIv3 key where the platform key belongs',
      { ...full, LEB_WECHATPAY_PLATFORM_PUBLIC_KEY_FILE: full.LEB_WECHATPAY_APIV3_KEY_FILE },
      /platform_public_key_file holds no RSA public key/,
    ],
  ];
  const runs = await Promise.all(cases.map(([, env]) => runLebdToExit(env)));
  cases.forEach(([what, , message], i) => {
    const { code, stderr } = runs[i];
    assert.notEqual(code, 0, `${what}: lebd must not start; stderr:\n${stderr}`);
    assert.match(stderr, message, `${what}: the message names the setting`);
    assert.doesNotMatch(stderr, /"msg":"listening"/, `${what}: never listened`);
    assert.doesNotMatch(stderr, /-----BEGIN|PRIVATE KEY/, `${what}: no PEM in the message`);
    for (const secret of secrets) assert.ok(!stderr.includes(secret), `${what}: a secret reached stderr`);
  });

  /* The full configuration starts (the same files, so the failures above are the settings'). */
  const full_ = await startLebd({ testMode: true, env: { ...LEBD_ENV, ...full } });
  try {
    const configured = (line) =>
      line.includes('"payment provider configured"') && line.includes('"wechatpay"');
    assert.ok(full_.logs.some(configured), 'the provider is on');
    for (const secret of secrets) assert.ok(!full_.logs.join('\n').includes(secret), 'no secret in the logs');
  } finally {
    await full_.close();
  }
});
