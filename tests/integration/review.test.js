'use strict';
/*
 * review.test.js - orders that wait for a human, and money that must go back: an operator
 * lists orders in review and resolves each (credit or refund) with a reason kept in the audit
 * log; a payment for a card recycled in between is refunded through its provider; the ledger
 * balances after every step. The sandbox provider refunds at once; the real providers'
 * refunds are tested with their simulators (pay_*.test.js).
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertError,
  assertLedgerBalanced,
  assertStatus,
  createOrderOk,
  getBalance,
  getMetrics,
  login,
  metricValue,
  notify,
  waitForOrderStatus,
} = require('../lib/client');

const DAY = 86400;

/* Test mode, the background jobs held back: the test runs them when it means to. */
async function start(t) {
  const lebd = await startLebd({
    t,
    testMode: true,
    env: { LEB_LIFECYCLE_INTERVAL_S: '86400', LEB_ORDERS_EXPIRY_INTERVAL_S: '3600', LEB_PAYMENTS_INTERVAL_S: '3600' },
  });
  const token = await login(lebd);
  return { lebd, token };
}

async function runJobs(ctx) {
  const response = await api(ctx.lebd, 'POST', '/api/v1/admin/jobs/run', { token: ctx.token });
  assertStatus(response, 200, 'jobs/run');
  return response.body;
}

async function advance(ctx, seconds) {
  assertStatus(await api(ctx.lebd, 'POST', '/api/v1/admin/clock', { token: ctx.token, body: { advance_s: seconds } }), 200);
}

/* An order on "card" paid with another amount than asked: in review. */
async function reviewOrder(ctx, card = DEMO.active.card_no, paid = 9999) {
  const order = await createOrderOk(ctx.lebd, { card, face_amount: 10000, channel: 'web', payment_method: 'sandbox' });
  const trade = `REVIEW-${order.order_no}`;
  assertStatus(await notify(ctx.lebd, { order_no: order.order_no, trade_no: trade, amount: paid }), 200, 'notify');
  await waitForOrderStatus(ctx.lebd, order.order_no, 'review');
  return { ...order, trade };
}

function resolve(ctx, orderNo, body, token = ctx.token) {
  return api(ctx.lebd, 'POST', `/api/v1/admin/orders/${orderNo}/resolve`, { token, body });
}

async function audit(ctx, subject) {
  const response = await api(ctx.lebd, 'GET', `/api/v1/admin/audit?subject=${subject}`, { token: ctx.token });
  assertStatus(response, 200, 'audit');
  return response.body.entries;
}

test('orders in review are listed; credit one with a reason: the card is credited once, audited', async (t) => {
  const ctx = await start(t);
  const before = (await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance;
  const order = await reviewOrder(ctx);
  const listed = await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=review', { token: ctx.token });
  assertStatus(listed, 200, 'list');
  assert.deepEqual(listed.body.orders.map((o) => o.order_no), [order.order_no]);
  assert.equal(listed.body.orders[0].trade_no, order.trade);
  assert.equal(listed.body.orders[0].card_no, DEMO.active.card_no);
  assert.equal((await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance, before, 'review credits nothing');

  const resolved = await resolve(ctx, order.order_no, { action: 'credit', reason: 'the payer topped up the 1 fen by bank transfer' });
  assertStatus(resolved, 200, 'resolve');
  assert.equal(resolved.body.status, 'succeeded');
  assert.equal((await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance, before + 10000);
  const [entry] = await audit(ctx, order.order_no);
  assert.equal(entry.actor, 'admin');
  assert.equal(entry.action, 'order.credit');
  assert.equal(entry.reason, 'the payer topped up the 1 fen by bank transfer');
  assert.match(entry.at, /^\d{4}-\d{2}-\d{2}T/);
  assert.deepEqual(entry.details, {
    from: 'review', to: 'succeeded', provider: 'sandbox', trade_no: order.trade, paid_amount: 9999, pay_amount: 10000,
  });
  /* Resolved once: a second decision is refused and changes nothing. */
  assertError(await resolve(ctx, order.order_no, { action: 'refund', reason: 'again' }), 409, 'illegal_transition');
  assertError(await resolve(ctx, order.order_no, { action: 'credit', reason: 'again' }), 409, 'illegal_transition');
  assert.equal((await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance, before + 10000);
  assert.equal((await audit(ctx, order.order_no)).length, 1);
  const empty = await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=review', { token: ctx.token });
  assert.deepEqual(empty.body.orders, []);
  await assertLedgerBalanced(ctx.lebd, ctx.token);
});

test('refund one: what was paid goes back through the provider, the ledger hold is reversed', async (t) => {
  const ctx = await start(t);
  const before = (await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance;
  const order = await reviewOrder(ctx, DEMO.active.card_no, 12345);
  const resolved = await resolve(ctx, order.order_no, { action: 'refund', reason: 'paid 123.45 for a 100 yuan order' });
  assertStatus(resolved, 200, 'resolve');
  assert.equal(resolved.body.status, 'refunding');
  assert.equal(resolved.body.provider_state.refund_amount, 12345, 'what was paid, not the price');
  await assertLedgerBalanced(ctx.lebd, ctx.token);
  const refunding = await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=refunding', { token: ctx.token });
  assert.deepEqual(refunding.body.orders.map((o) => o.order_no), [order.order_no]);

  const jobs = await runJobs(ctx);
  assert.equal(jobs.payments.refunded, 1);
  await waitForOrderStatus(ctx.lebd, order.order_no, 'refunded');
  assert.equal((await runJobs(ctx)).payments.refunded, 0, 'refunded once');
  /* What operators' dashboards see. */
  const metrics = await getMetrics(ctx.lebd);
  assert.equal(metricValue(metrics, 'leb_refunds_completed_total'), 1);
  assert.equal(metricValue(metrics, 'leb_refunds_refused_total'), 0);
  assert.equal(metricValue(metrics, 'leb_notifications_total', { provider: 'sandbox', outcome: 'review' }), 1);
  assert.equal(metricValue(metrics, 'leb_notifications_total', { provider: 'alipay' }), 0);
  assert.equal((await getBalance(ctx.lebd, DEMO.active.card_no, ctx.token)).balance, before, 'the card got nothing');
  const check = await api(ctx.lebd, 'GET', '/api/v1/admin/ledger/check', { token: ctx.token });
  assert.equal(check.body.balanced, true);
  const [entry] = await audit(ctx, order.order_no);
  assert.equal(entry.action, 'order.refund');
  assert.equal(entry.details.paid_amount, 12345);
  const done = await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=refunded', { token: ctx.token });
  assert.equal(done.body.orders[0].provider_state.refund_id, `SBXR${order.order_no}`);
});

test('a payment for a card recycled in between is held, then refunded once', async (t) => {
  const ctx = await start(t);
  /* The suspended demo card is recycled after its 90 days of grace. */
  const order = await createOrderOk(ctx.lebd, {
    card: DEMO.suspended.card_no, face_amount: 5000, channel: 'web', payment_method: 'sandbox',
  });
  await advance(ctx, 91 * DAY);
  await runJobs(ctx);
  assert.equal((await getBalance(ctx.lebd, DEMO.suspended.card_no, ctx.token)).status, 'recycled');
  await waitForOrderStatus(ctx.lebd, order.order_no, 'expired');
  assertStatus(await notify(ctx.lebd, { order_no: order.order_no, trade_no: `LATE-${order.order_no}`, amount: order.pay_amount }), 200);
  await waitForOrderStatus(ctx.lebd, order.order_no, 'refunding');
  await assertLedgerBalanced(ctx.lebd, ctx.token);
  const jobs = await runJobs(ctx);
  assert.equal(jobs.payments.refunded, 1);
  await waitForOrderStatus(ctx.lebd, order.order_no, 'refunded');
  /* A duplicate of the late notification changes nothing. */
  assertStatus(await notify(ctx.lebd, { order_no: order.order_no, trade_no: `LATE-${order.order_no}`, amount: order.pay_amount }), 200);
  assert.equal((await runJobs(ctx)).payments.refunded, 0);
  await waitForOrderStatus(ctx.lebd, order.order_no, 'refunded');
  await assertLedgerBalanced(ctx.lebd, ctx.token);
});

test('two operators resolving the same order at once: one decision, one audit row', async (t) => {
  const ctx = await start(t);
  const order = await reviewOrder(ctx);
  const answers = await Promise.all([
    resolve(ctx, order.order_no, { action: 'credit', reason: 'first' }),
    resolve(ctx, order.order_no, { action: 'refund', reason: 'second' }),
    resolve(ctx, order.order_no, { action: 'credit', reason: 'third' }),
  ]);
  assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409, 409]);
  assert.equal((await audit(ctx, order.order_no)).length, 1);
  await assertLedgerBalanced(ctx.lebd, ctx.token);
});

test('bad resolutions are refused with a clear error and change nothing', async (t) => {
  const ctx = await start(t);
  const order = await reviewOrder(ctx);
  const pending = await createOrderOk(ctx.lebd, { card: DEMO.active.card_no, face_amount: 5000, channel: 'web', payment_method: 'sandbox' });
  const cases = [
    [order.order_no, { action: 'credit' }, 400, 'invalid_request', 'no reason'],
    [order.order_no, { action: 'credit', reason: '' }, 400, 'invalid_request', 'an empty reason'],
    [order.order_no, { action: 'credit', reason: 'x'.repeat(501) }, 400, 'invalid_request', 'a reason too long'],
    [order.order_no, { action: 'keep', reason: 'why' }, 400, 'invalid_request', 'an unknown action'],
    [order.order_no, { action: 'credit', reason: 'why', amount: 1 }, 400, 'invalid_request', 'an unknown field'],
    [pending.order_no, { action: 'credit', reason: 'why' }, 409, 'illegal_transition', 'an order not in review'],
    ['LEB20990101T000000R0000000000', { action: 'credit', reason: 'why' }, 404, 'order_not_found', 'no such order'],
  ];
  for (const [orderNo, body, status, code, what] of cases) {
    assertError(await resolve(ctx, orderNo, body), status, code, what);
  }
  assertError(await api(ctx.lebd, 'POST', `/api/v1/admin/orders/${order.order_no}/resolve`, { body: { action: 'credit', reason: 'x' } }), 401, 'unauthorized');
  assertError(await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=lost', { token: ctx.token }), 400, 'invalid_request');
  assertError(await api(ctx.lebd, 'GET', '/api/v1/admin/orders', { token: ctx.token }), 400, 'invalid_request');
  assertError(await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=review&limit=0', { token: ctx.token }), 400, 'invalid_request');
  assertError(await api(ctx.lebd, 'GET', '/api/v1/admin/audit?limit=1001', { token: ctx.token }), 400, 'invalid_request');
  const still = await api(ctx.lebd, 'GET', '/api/v1/admin/orders?status=review', { token: ctx.token });
  assert.deepEqual(still.body.orders.map((o) => o.order_no), [order.order_no]);
  assert.deepEqual(await audit(ctx, order.order_no), []);
});
