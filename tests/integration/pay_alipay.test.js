'use strict';
/*
 * pay_alipay.test.js - the Alipay provider against a simulator of Alipay's open API
 * (tests/sim/alipay.js): the precreate of an order's QR code, signed both ways; asynchronous
 * notifications that credit exactly once whatever their number, order or concurrency; forged,
 * tampered and misdirected ones that never credit; the rotation of Alipay's key; a lost
 * notification found by alipay.trade.query; a late payment on an expired order; a payment for
 * a recycled card refunded once through alipay.trade.refund; and a start-up that refuses half
 * a configuration without showing a key.
 *
 * One lebd in test mode, its background jobs held back (the tests run them and move the clock
 * when they mean to), so the tests run in order and each leaves the ledger balanced.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startLebd, lebdPath, SANITIZED } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertError,
  assertStatus,
  assertLedgerBalanced,
  createOrderOk,
  createOrder,
  getBalance,
  getMetrics,
  getOrder,
  login,
  metricValue,
  formatYuan,
  waitForOrderStatus,
} = require('../lib/client');
const { startAlipaySim, signContent, rsaVerify, beijingTime } = require('../sim/alipay');

const DAY = 86400;
const NOTIFY_PATH = '/api/v1/payments/alipay/notify';
/* The background jobs wait: the tests run them (POST /api/v1/admin/jobs/run). */
const HELD_JOBS = {
  LEB_LIFECYCLE_INTERVAL_S: '86400',
  LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
  LEB_PAYMENTS_INTERVAL_S: '3600',
};

let sim;
let keyDir;
let files;
let lebd;
let token;

before(async () => {
  sim = await startAlipaySim();
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipay-keys-'));
  files = sim.writeKeyFiles(keyDir);
  lebd = await startLebd({ testMode: true, env: { ...sim.lebdEnv(files), ...HELD_JOBS } });
  token = await login(lebd);
});

after(async () => {
  if (lebd) await lebd.close();
  if (sim) await sim.close();
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

async function alipayOrder(instance, faceAmount = 5000, card = DEMO.active.card_no) {
  return createOrderOk(instance, { card, face_amount: faceAmount, payment_method: 'alipay' });
}

async function balanceOf(card = DEMO.active.card_no, instance = lebd, tokenOf = token) {
  return (await getBalance(instance, card, tokenOf)).balance;
}

async function runJobs() {
  const response = await api(lebd, 'POST', '/api/v1/admin/jobs/run', { token });
  assertStatus(response, 200, 'jobs/run');
  return response.body;
}

async function advance(seconds) {
  assertStatus(await api(lebd, 'POST', '/api/v1/admin/clock', { token, body: { advance_s: seconds } }), 200, 'clock');
}

async function statusOf(orderNo, instance = lebd) {
  const response = await getOrder(instance, orderNo);
  assertStatus(response, 200, `order ${orderNo}`);
  return response.body.status;
}

/* The operators' view of "orderNo" (with trade_no and provider_state), listed by "status". */
async function adminOrder(orderNo, status) {
  const response = await api(lebd, 'GET', `/api/v1/admin/orders?status=${status}&limit=1000`, { token });
  assertStatus(response, 200, `orders ${status}`);
  const row = response.body.orders.find((o) => o.order_no === orderNo);
  assert.ok(row, `${orderNo} is listed as ${status}`);
  return row;
}

/* Alipay stops resending only on exactly "success". */
function assertAnswered(answer, word, what) {
  assert.equal(answer.status, 200, `${what}: HTTP status`);
  assert.equal(answer.text, word, `${what}: the body is exactly "${word}"`);
  assert.match(answer.contentType, /^text\/plain/, `${what}: text/plain`);
}

/* Unpaid: nothing paid, nothing credited. */
async function assertUntouched(orderNo, instance = lebd) {
  const read = await getOrder(instance, orderNo);
  assertStatus(read, 200);
  assert.equal(read.body.status, 'pending_payment', `${orderNo} stays pending_payment`);
  assert.equal(read.body.paid_at, null);
  assert.equal(read.body.credited_at, null);
}

test('an alipay order is precreated at Alipay: a signed request with notify_url and amount, the QR code back', async () => {
  const order = await alipayOrder(lebd, 10000);
  assert.equal(order.status, 'pending_payment');
  assert.equal(order.payment.provider, 'alipay');
  const trade = sim.trades.get(order.order_no);
  assert.ok(trade, 'the simulator holds the precreated trade');
  assert.match(trade.qr_code, /^https:\/\/qr\.alipay\.com\/bax/);
  assert.equal(order.payment.qr_text, trade.qr_code, 'qr_text is Alipay\'s qr_code');
  assert.equal(order.payment.pay_url, trade.qr_code, 'pay_url is Alipay\'s qr_code');

  const [request] = sim.requestsOf('alipay.trade.precreate').filter((r) => r.biz && r.biz.out_trade_no === order.order_no);
  assert.ok(request, 'one precreate for the order');
  assert.match(request.contentType, /^application\/x-www-form-urlencoded;\s*charset=utf-8$/i);
  const { params, biz } = request;
  assert.equal(params.app_id, sim.appId);
  assert.equal(params.format, 'JSON');
  assert.equal(params.charset, 'utf-8');
  assert.equal(params.sign_type, 'RSA2');
  assert.equal(params.version, '1.0');
  assert.match(params.timestamp, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
  assert.ok(Math.abs(Date.parse(`${params.timestamp.replace(' ', 'T')}+08:00`) - Date.now()) < 60000, 'timestamp in Beijing time');
  assert.equal(params.notify_url, `${lebd.url}${NOTIFY_PATH}`);
  /* Checked here too, apart from the simulator: RSA2 over every parameter but sign. */
  assert.equal(request.signatureValid, true, 'the simulator verified the request');
  assert.ok(rsaVerify(signContent(params), params.sign, sim.keys.appPublicPem), 'SHA256withRSA over the sorted parameters');
  assert.equal(biz.out_trade_no, order.order_no);
  assert.equal(biz.total_amount, formatYuan(order.pay_amount));
  assert.equal(typeof biz.subject, 'string');
  assert.ok(biz.subject.length > 0 && !biz.subject.includes(DEMO.active.card_no), 'a subject, without the card number');
  assert.equal(biz.time_expire, beijingTime(new Date(order.expires_at)), 'the QR code closes with the order');

  /* The same order asked again (Idempotency-Key) is not precreated twice. */
  const key = `alipay-${order.order_no}`;
  const first = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'alipay' }, key);
  assertStatus(first, 201);
  const again = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'alipay' }, key);
  assertStatus(again, 200);
  assert.equal(again.body.payment.qr_text, first.body.payment.qr_text);
  assert.equal(sim.requestsOf('alipay.trade.precreate').filter((r) => r.biz && r.biz.out_trade_no === first.body.order_no).length, 1);
});

test('a precreate answer Alipay did not sign, or refused, gives no QR code: 503 unavailable', async () => {
  const cases = [
    ['signed with another key', { sign: 'bad', response: { code: '10000', msg: 'Success', out_trade_no: 'X', qr_code: 'https://qr.alipay.com/forged' } }],
    ['changed after signing', { sign: 'tampered', response: { code: '10000', msg: 'Success', qr_code: 'https://qr.alipay.com/forged' } }],
    ['unsigned', { sign: 'none', response: { code: '10000', msg: 'Success', qr_code: 'https://qr.alipay.com/forged' } }],
    ['a signed refusal', { response: { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.INVALID_PARAMETER', sub_msg: '参数无效' } }],
    ['a gateway error', { httpStatus: 502, sign: 'none', response: { code: '20000', msg: 'Service Currently Unavailable' } }],
  ];
  for (const [what, spec] of cases) {
    sim.queueAnswer('alipay.trade.precreate', spec);
    const response = await api(lebd, 'POST', '/api/v1/orders', {
      body: { card: DEMO.active.card_no, face_amount: 5000, channel: 'web', payment_method: 'alipay' },
      allow5xx: true,
    });
    assertError(response, 503, 'unavailable', what);
  }
  assert.ok(lebd.logs.some((line) => /alipay call failed.*signature does not verify/.test(line)), 'the reason is logged');
  /* A rotation: answers signed with Alipay's next key verify when it is configured. */
  sim.signingKey = 'next';
  try {
    const order = await alipayOrder(lebd);
    assert.match(order.payment.qr_text, /^https:\/\/qr\.alipay\.com\//);
  } finally {
    sim.signingKey = 'current';
  }
});

test('a valid notification credits once and is answered exactly "success"', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 10000);
  const trade = sim.pay(order.order_no);
  const answer = await sim.notify(order.order_no);
  assertAnswered(answer, 'success', 'a valid notification');
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.notEqual(done.paid_at, null);
  assert.notEqual(done.credited_at, null);
  assert.equal(await balanceOf(), before_ + 10000, 'the balance rose by the face amount');
  /* The notification's form body was decoded: '+' spaces and %XX escapes. */
  assert.match(answer.body, /notify_time=\d{4}-\d{2}-\d{2}\+\d{2}%3A/);
  assert.match(answer.body, /fund_bill_list=%5B%7B/);
  assert.equal((await adminOrder(order.order_no, 'succeeded')).trade_no, trade.trade_no, 'Alipay\'s trade_no is kept');
  await assertLedgerBalanced(lebd, token);
});

test('replayed 5 times, 10 concurrent copies, TRADE_SUCCESS after TRADE_FINISHED: credited exactly once', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 20000);
  sim.pay(order.order_no);
  const body = sim.rawNotifyBody(order.order_no);
  for (let i = 0; i < 5; i++) assertAnswered(await sim.notify(order.order_no, { body }), 'success', `replay ${i}`);
  const copies = await Promise.all(Array.from({ length: 10 }, () => sim.notify(order.order_no, { body })));
  copies.forEach((answer, i) => assertAnswered(answer, 'success', `concurrent copy ${i}`));
  /* Alipay signs each sending anew (another notify_id and notify_time): still the same trade. */
  assertAnswered(await sim.notify(order.order_no), 'success', 'a fresh sending');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 20000, 'credited once');

  /* Out of order: the trade finished (no refunds any more) reaches LEB before its success. */
  const late = await alipayOrder(lebd, 5000);
  sim.pay(late.order_no, { status: 'TRADE_FINISHED' });
  assertAnswered(await sim.notify(late.order_no, { status: 'TRADE_FINISHED' }), 'success', 'TRADE_FINISHED');
  assertAnswered(await sim.notify(late.order_no, { status: 'TRADE_SUCCESS' }), 'success', 'TRADE_SUCCESS after');
  await waitForOrderStatus(lebd, late.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 25000, 'each order credited once');
  await assertLedgerBalanced(lebd, token);
});

test('forged, tampered or unsigned notifications are answered "failure" and credit nothing', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 10000);
  const url = `${lebd.url}${NOTIFY_PATH}`;
  const good = sim.rawNotifyBody(order.order_no);
  const forgeries = [
    ['one byte of the body changed (total_amount)', { tamper: true }],
    ['the trade_no changed', { tamper: (body) => body.replace(/trade_no=(\d)/, (m, d) => `trade_no=${d === '9' ? '8' : '9'}`) }],
    ['signed with a key Alipay never had', { wrongKey: true }],
    ['the sign missing', { noSign: true }],
    ['sign_type RSA (SHA1) instead of RSA2', { signType: 'RSA' }],
    ['a parameter added after signing', { tamper: (body) => `${body}&refund_fee=100.00` }],
    ['a parameter dropped after signing', { tamper: (body) => body.replace(/&point_amount=[^&]*/, '') }],
    ['a parameter given twice', { tamper: (body) => `${body}&total_amount=0.01` }],
    ['a bad escape', { tamper: (body) => body.replace('subject=', 'subject=%zz') }],
    /* Signed, but stale: Alipay's own resends stop after about 25 hours. */
    ['signed 27 hours ago', { notifyTime: beijingTime(new Date(Date.now() - 27 * 3600 * 1000)) }],
    ['signed 10 minutes in the future', { notifyTime: beijingTime(new Date(Date.now() + 600 * 1000)) }],
    ['notify_time not a time', { notifyTime: '2026-13-40 99:00:00' }],
  ];
  for (const [what, opts] of forgeries) {
    const body = sim.rawNotifyBody(order.order_no, opts);
    assert.notEqual(body, good);
    assertAnswered(await sim.notify(order.order_no, { body }), 'failure', what);
  }
  assertAnswered(await sim.postNotify(url, good, 'application/json'), 'failure', 'not a form');
  assertAnswered(await sim.postNotify(url, ''), 'failure', 'an empty body');
  assertAnswered(await sim.postNotify(url, 'sign=abc'), 'failure', 'a bare sign');
  await assertUntouched(order.order_no);
  assert.equal(await balanceOf(), before_, 'nothing credited');
  /* The genuine one still counts afterwards, also as a resend a day late. */
  sim.pay(order.order_no);
  const resent = beijingTime(new Date(Date.now() - 24 * 3600 * 1000));
  assertAnswered(await sim.notify(order.order_no, { notifyTime: resent }), 'success', 'the genuine notification, resent a day later');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 10000);
  await assertLedgerBalanced(lebd, token);
});

test('signed but not ours, or not as ordered: "success" (resending cannot help), never credited', async () => {
  const before_ = await balanceOf();
  /* Another application, another seller, another amount: recorded, the order to review. */
  const misdirected = [
    ['another app_id', { appId: '2021000000009999' }],
    ['another seller_id', { sellerId: '2088000000009999' }],
    ['a swapped total_amount', { amount: formatYuan(20000) }],
  ];
  for (const [what, opts] of misdirected) {
    const order = await alipayOrder(lebd, 5000);
    sim.pay(order.order_no);
    assertAnswered(await sim.notify(order.order_no, opts), 'success', what);
    const read = await waitForOrderStatus(lebd, order.order_no, 'review');
    assert.equal(read.credited_at, null, `${what}: not credited`);
  }
  assert.equal(await balanceOf(), before_, 'nothing credited');

  /* An order LEB never made: recorded as unknown and acknowledged. Orders are durable before
   * their precreate, so a resent notification could never find one. */
  const metricsBefore = metricValue(await getMetrics(lebd), 'leb_notifications_total', { outcome: 'unknown_order' }) || 0;
  const unknown = 'LEB20990101T000000R0000000000';
  assertAnswered(await sim.notify(unknown, { url: `${lebd.url}${NOTIFY_PATH}`, amount: '50.00' }), 'success', 'an unknown out_trade_no');
  const metricsAfter = metricValue(await getMetrics(lebd), 'leb_notifications_total', { outcome: 'unknown_order' });
  assert.equal(metricsAfter, metricsBefore + 1, 'recorded as unknown_order');

  /* Verified, but nothing to act on: acknowledged, the order untouched. */
  const waiting = await alipayOrder(lebd, 5000);
  sim.scan(waiting.order_no);
  assertAnswered(await sim.notify(waiting.order_no, { status: 'WAIT_BUYER_PAY' }), 'success', 'WAIT_BUYER_PAY');
  await assertUntouched(waiting.order_no);
  /* Verified, but not a payment LEB can read: Alipay is asked to send it again. */
  for (const [what, amount] of [['three decimals', '50.001'], ['a sign', '+50.00'], ['an exponent', '5e1'], ['a space', '50.00 ']]) {
    assertAnswered(await sim.notify(waiting.order_no, { amount }), 'failure', `total_amount with ${what}`);
  }
  assertAnswered(await sim.notify(waiting.order_no, { status: 'TRADE_PENDING' }), 'failure', 'an unknown trade_status');
  await assertUntouched(waiting.order_no);
  assert.equal(await balanceOf(), before_, 'still nothing credited');
  await assertLedgerBalanced(lebd, token);
});

test('rotation: a notification signed with Alipay\'s next key verifies only where that key is configured', async (t) => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 5000);
  sim.pay(order.order_no);
  assertAnswered(await sim.notify(order.order_no, { key: 'next' }), 'success', 'next key, configured');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 5000);

  /* A lebd that knows only the current key. */
  const env = sim.lebdEnv(files, { next: false });
  const other = await startLebd({ t, env: { ...env, ...HELD_JOBS } });
  const otherToken = await login(other);
  const otherBefore = await balanceOf(DEMO.active.card_no, other, otherToken);
  const second = await alipayOrder(other, 5000);
  sim.pay(second.order_no);
  assertAnswered(await sim.notify(second.order_no, { key: 'next' }), 'failure', 'next key, not configured');
  await assertUntouched(second.order_no, other);
  assertAnswered(await sim.notify(second.order_no, { key: 'current' }), 'success', 'current key');
  await waitForOrderStatus(other, second.order_no, 'succeeded');
  assert.equal(await balanceOf(DEMO.active.card_no, other, otherToken), otherBefore + 5000);
  await other.close();
});

test('a lost notification: alipay.trade.query finds the payment, credited once; the late notification is a duplicate', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 5000);
  const trade = sim.pay(order.order_no); /* paid, but Alipay's notification never arrives */
  await advance(121); /* past payments.query_after_s */
  const jobs = await runJobs();
  assert.ok(jobs.payments.queried >= 1, 'queried');
  assert.ok(jobs.payments.found >= 1, 'found');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 5000, 'credited by the query');
  const queries = () => sim.requestsOf('alipay.trade.query').filter((r) => r.biz && r.biz.out_trade_no === order.order_no);
  assert.equal(queries().length, 1);
  assert.equal(queries()[0].signatureValid, true);
  assert.deepEqual(Object.keys(queries()[0].biz), ['out_trade_no']);

  assertAnswered(await sim.notify(order.order_no), 'success', 'the notification, late');
  await advance(600);
  await runJobs();
  assert.equal(queries().length, 1, 'a paid order is not asked about again');
  assert.equal(await balanceOf(), before_ + 5000, 'still once');
  assert.equal((await adminOrder(order.order_no, 'succeeded')).trade_no, trade.trade_no, 'the queried trade_no is kept');
  await assertLedgerBalanced(lebd, token);
});

test('a trade closed unpaid fails its order, by notification or by query; another merchant\'s does not', async () => {
  const notified = await alipayOrder(lebd, 5000);
  sim.closeTrade(notified.order_no);
  assertAnswered(await sim.notify(notified.order_no, { appId: '2021000000009999' }), 'success', 'another app\'s TRADE_CLOSED');
  await assertUntouched(notified.order_no);
  assertAnswered(await sim.notify(notified.order_no), 'success', 'TRADE_CLOSED');
  await waitForOrderStatus(lebd, notified.order_no, 'failed');

  const queried = await alipayOrder(lebd, 5000);
  sim.closeTrade(queried.order_no);
  await advance(121);
  await runJobs();
  await waitForOrderStatus(lebd, queried.order_no, 'failed');
  await assertLedgerBalanced(lebd, token);
});

test('a query answer Alipay did not sign credits nothing', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 5000);
  await advance(121);
  sim.queueAnswer('alipay.trade.query', {
    outTradeNo: order.order_no,
    sign: 'bad',
    response: { code: '10000', msg: 'Success', out_trade_no: order.order_no, trade_no: '2026112522001400000000000001', trade_status: 'TRADE_SUCCESS', total_amount: '50.00' },
  });
  await runJobs();
  const [query] = sim.requestsOf('alipay.trade.query').filter((r) => r.biz && r.biz.out_trade_no === order.order_no);
  assert.ok(query && query.answer && query.answer.includes('TRADE_SUCCESS'), 'the forged answer was given');
  await assertUntouched(order.order_no);
  assert.equal(await balanceOf(), before_);
});

test('a late payment on an expired order is still credited', async () => {
  const before_ = await balanceOf();
  const order = await alipayOrder(lebd, 5000);
  await advance(901); /* past orders.ttl_s */
  await runJobs();
  await waitForOrderStatus(lebd, order.order_no, 'expired');
  sim.pay(order.order_no);
  assertAnswered(await sim.notify(order.order_no), 'success', 'a late payment');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

test('a payment for a recycled card is refunded once through alipay.trade.refund', async () => {
  const card = DEMO.suspended.card_no;
  const order = await alipayOrder(lebd, 5000, card);
  await advance(91 * DAY); /* past the plan's 90 days of grace */
  await runJobs();
  assert.equal((await getBalance(lebd, card, token)).status, 'recycled');
  await waitForOrderStatus(lebd, order.order_no, 'expired');
  const balance = await balanceOf(card);

  sim.pay(order.order_no);
  assertAnswered(await sim.notify(order.order_no), 'success', 'the payment');
  await waitForOrderStatus(lebd, order.order_no, 'refunding');
  await assertLedgerBalanced(lebd, token);

  /* The first refund is made at Alipay but its answer is lost: LEB asks again later with the
   * same out_request_no, and Alipay's fund_change "N" is confirmed by a refund query. */
  sim.queueAnswer('alipay.trade.refund', { outTradeNo: order.order_no, drop: true });
  const first = await runJobs();
  assert.equal(first.payments.refunded, 0, 'the answer was lost');
  assert.equal(await statusOf(order.order_no), 'refunding');
  const trade = sim.trades.get(order.order_no);
  assert.deepEqual([...trade.refunds.keys()], [`R${order.order_no}`], 'one refund at Alipay');
  await advance(600);
  const second = await runJobs();
  assert.equal(second.payments.refunded, 1);
  await waitForOrderStatus(lebd, order.order_no, 'refunded');

  const refunds = sim.requestsOf('alipay.trade.refund').filter((r) => r.biz && r.biz.out_trade_no === order.order_no);
  assert.equal(refunds.length, 2, 'asked twice');
  for (const request of refunds) {
    assert.equal(request.signatureValid, true);
    assert.equal(request.biz.out_request_no, `R${order.order_no}`);
    assert.equal(request.biz.refund_amount, formatYuan(order.pay_amount));
  }
  assert.equal(sim.requestsOf('alipay.trade.fastpay.refund.query').filter((r) => r.biz.out_trade_no === order.order_no).length, 1);
  assert.equal(trade.refunds.size, 1, 'refunded exactly once');
  assert.equal(trade.refunded_fen, order.pay_amount);
  assert.equal(trade.status, 'TRADE_CLOSED', 'fully refunded');
  assert.equal((await adminOrder(order.order_no, 'refunded')).provider_state.refund_id, trade.trade_no);

  /* Alipay's TRADE_CLOSED notification of the refund, and a replay of the payment: nothing. */
  assertAnswered(await sim.notify(order.order_no, { status: 'TRADE_CLOSED', refund: true }), 'success', 'the refund\'s notification');
  assertAnswered(await sim.notify(order.order_no, { status: 'TRADE_SUCCESS' }), 'success', 'the payment again');
  await advance(600);
  assert.equal((await runJobs()).payments.refunded, 0, 'not refunded twice');
  assert.equal(await statusOf(order.order_no), 'refunded');
  assert.equal(trade.refunds.size, 1);
  assert.equal(await balanceOf(card), balance, 'the recycled card\'s balance is unchanged');
  await assertLedgerBalanced(lebd, token);
});

test('a refund Alipay refuses waits for a human, with Alipay\'s reason', async () => {
  /* A payment of another amount, which an operator decides to give back. */
  const order = await alipayOrder(lebd, 5000);
  sim.pay(order.order_no);
  assertAnswered(await sim.notify(order.order_no, { amount: '49.99' }), 'success', 'another amount');
  await waitForOrderStatus(lebd, order.order_no, 'review');
  const resolved = await api(lebd, 'POST', `/api/v1/admin/orders/${order.order_no}/resolve`, {
    token,
    body: { action: 'refund', reason: 'paid another amount' },
  });
  assertStatus(resolved, 200, 'resolve');
  sim.queueAnswer('alipay.trade.refund', {
    outTradeNo: order.order_no,
    response: { code: '40004', msg: 'Business Failed', sub_code: 'ACQ.TRADE_HAS_FINISHED', sub_msg: '交易已完结' },
  });
  const jobs = await runJobs();
  assert.equal(jobs.payments.refund_failed, 1);
  const row = await adminOrder(order.order_no, 'refunding');
  assert.equal(row.provider_state.next_refund_at, null, 'not tried again by itself');
  assert.match(row.provider_state.last_error, /ACQ\.TRADE_HAS_FINISHED.*交易已完结/, 'Alipay\'s reason is kept');
  const [request] = sim.requestsOf('alipay.trade.refund').filter((r) => r.biz.out_trade_no === order.order_no);
  assert.equal(request.biz.refund_amount, '49.99', 'what was paid goes back');
  await assertLedgerBalanced(lebd, token);
});

test('start-up refuses half an Alipay configuration, naming the setting, never a key', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alipay-half-'));
  try {
    const full = sim.lebdEnv(files);
    const cases = [
      ['app_id alone', { LEB_ALIPAY_APP_ID: full.LEB_ALIPAY_APP_ID }, /alipay\.seller_id is required/],
      ['no private key', { ...full, LEB_ALIPAY_APP_PRIVATE_KEY_FILE: null }, /alipay\.app_private_key_file is required/],
      ['no Alipay public key', { ...full, LEB_ALIPAY_ALIPAY_PUBLIC_KEY_FILE: null }, /alipay\.alipay_public_key_file is required/],
      ['no gateway', { ...full, LEB_ALIPAY_GATEWAY_URL: null }, /alipay\.gateway_url is required/],
      ['the next key alone', { LEB_ALIPAY_ALIPAY_PUBLIC_KEY_NEXT_FILE: files.alipayPublicKeyNextFile }, /alipay\.app_id is required/],
      ['a public key for the private key', { ...full, LEB_ALIPAY_APP_PRIVATE_KEY_FILE: files.alipayPublicKeyFile }, /alipay\.app_private_key_file holds no RSA private key/],
      ['a private key for Alipay\'s public key', { ...full, LEB_ALIPAY_ALIPAY_PUBLIC_KEY_FILE: files.appPrivateKeyFile }, /alipay\.alipay_public_key_file holds no usable public key/],
    ];
    const keyBodies = [sim.keys.appPrivatePem, sim.keys.alipayPublicPem, sim.keys.nextAlipayPublicPem].map((pem) => pem.split('\n')[1]);
    for (const [what, alipayEnv, message] of cases) {
      const env = {};
      for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LEB_') && k !== 'LEBD') env[k] = v;
      env.LEB_ADMIN_PASSWORD = 'half-configured';
      for (const [k, v] of Object.entries(alipayEnv)) if (v !== null) env[k] = v;
      const result = spawnSync(lebdPath(), ['--listen', '127.0.0.1:0', '--db', `sqlite:${path.join(dir, 'leb.db')}`, '--demo'], {
        env,
        encoding: 'utf8',
        timeout: 20000 * (SANITIZED ? 3 : 1),
      });
      assert.notEqual(result.status, 0, `${what}: lebd must not start`);
      assert.equal(result.signal, null, `${what}: an exit, not a crash`);
      assert.match(result.stderr, message, `${what}: a clear message`);
      assert.ok(!/PRIVATE KEY|PUBLIC KEY/.test(result.stderr), `${what}: no PEM in the message`);
      for (const body of keyBodies) assert.ok(!result.stderr.includes(body), `${what}: no key material`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('lebd\'s logs carry no key, no signature and no full card number', () => {
  const logs = lebd.logs.join('\n');
  assert.ok(!/PRIVATE KEY|PUBLIC KEY/.test(logs));
  for (const pem of Object.values(sim.keys)) assert.ok(!logs.includes(pem.split('\n')[1]), 'no key material');
  for (const request of sim.requests) {
    if (request.params.sign) assert.ok(!logs.includes(request.params.sign.slice(0, 40)), 'no request signature');
  }
  for (const card of [DEMO.active.card_no, DEMO.suspended.card_no]) assert.ok(!logs.includes(card), 'no full card number');
});
