'use strict';
/*
 * orders.test.js - quotes and orders: prices, the order as created and as read back,
 * Idempotency-Key (sequential and concurrent), and every business rejection of the public
 * routes (card not rechargeable, amounts, channels, payment methods).
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrder,
  getOrder,
  getMetrics,
  metricValue,
  assertLedgerBalanced,
} = require('../lib/client');

let lebd;
before(async () => {
  lebd = await startLebd();
});
after(() => lebd && lebd.close());

function quote(fields) {
  return api(lebd, 'POST', '/api/v1/quotes', {
    body: { card: DEMO.active.card_no, channel: 'web', payment_method: 'sandbox', ...fields },
  });
}

async function ordersCreated() {
  const value = metricValue(await getMetrics(lebd), 'leb_orders_created_total');
  assert.ok(value !== null, '/metrics has leb_orders_created_total');
  return value;
}

function newKey() {
  return `test-${crypto.randomUUID()}`;
}

test('a quote for each denomination and the limits: pay_amount is the face amount', async () => {
  for (const face of [5000, 10000, 20000, 1000, 50000, 1200]) {
    const response = await quote({ face_amount: face });
    assertStatus(response, 200, `quote of ${face}`);
    assert.deepEqual(
      {
        face_amount: response.body.face_amount,
        discount_amount: response.body.discount_amount,
        fee_amount: response.body.fee_amount,
        bonus_amount: response.body.bonus_amount,
        pay_amount: response.body.pay_amount,
        currency: response.body.currency,
      },
      {
        face_amount: face,
        discount_amount: 0,
        fee_amount: 0,
        bonus_amount: 0,
        pay_amount: face,
        currency: 'CNY',
      },
    );
  }
});

test('a quote creates no order', async () => {
  const before_ = await ordersCreated();
  assertStatus(await quote({ face_amount: 5000 }), 200);
  assert.equal(await ordersCreated(), before_);
});

test('an order: 201 with the payment to make, then read back by its number', async () => {
  const startedMs = Date.now();
  const response = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 10000 });
  assertStatus(response, 201);
  const order = response.body;
  assert.equal(typeof order.order_no, 'string');
  assert.ok(order.order_no.length > 0 && order.order_no.length <= 64, `order_no ${order.order_no}`);
  assert.match(order.order_no, /^[A-Za-z0-9_-]+$/, 'an order number is URL-safe');
  assert.equal(order.status, 'pending_payment');
  assert.equal(order.face_amount, 10000);
  assert.equal(order.pay_amount, 10000);
  assert.equal(order.currency, 'CNY');
  assert.equal(typeof order.payment, 'object');
  assert.equal(order.payment.provider, 'sandbox');
  assert.equal(typeof order.payment.pay_url, 'string');
  assert.ok(order.payment.pay_url.length > 0, 'pay_url');
  assert.equal(typeof order.payment.qr_text, 'string');
  assert.ok(order.payment.qr_text.length > 0, 'qr_text');
  assert.match(order.expires_at, RFC3339_UTC);
  const expiresMs = Date.parse(order.expires_at);
  const ttlMs = 15 * 60 * 1000;
  assert.ok(
    expiresMs >= startedMs + ttlMs - 60000 && expiresMs <= Date.now() + ttlMs + 60000,
    `expires_at ${order.expires_at} is about 15 minutes ahead`,
  );
  assert.ok(!response.text.includes(DEMO.active.card_no), 'no full card number in the order');

  const read = await getOrder(lebd, order.order_no);
  assertStatus(read, 200);
  const view = read.body;
  assert.equal(view.order_no, order.order_no);
  assert.equal(view.status, 'pending_payment');
  assert.equal(typeof view.card_no_masked, 'string');
  assert.ok(view.card_no_masked.endsWith('0018'), `card_no_masked ${view.card_no_masked}`);
  assert.ok(!read.text.includes(DEMO.active.card_no), 'no full card number in the order view');
  assert.equal(view.face_amount, 10000);
  assert.equal(view.pay_amount, 10000);
  assert.equal(view.bonus_amount, 0);
  assert.equal(view.currency, 'CNY');
  assert.match(view.created_at, RFC3339_UTC);
  const createdMs = Date.parse(view.created_at);
  assert.ok(
    createdMs >= startedMs - 5000 && createdMs <= Date.now() + 5000,
    `created_at ${view.created_at} is now`,
  );
  assert.ok('paid_at' in view, 'paid_at is present');
  assert.equal(view.paid_at, null);
  assert.ok('credited_at' in view, 'credited_at is present');
  assert.equal(view.credited_at, null);
});

test('orders without Idempotency-Key are distinct orders', async () => {
  const first = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  const second = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertStatus(first, 201);
  assertStatus(second, 201);
  assert.notEqual(first.body.order_no, second.body.order_no);
});

test('404 order_not_found for an unknown order number', async () => {
  assertError(await getOrder(lebd, 'NO-SUCH-ORDER-000'), 404, 'order_not_found');
  assertError(await getOrder(lebd, '1'), 404, 'order_not_found');
});

test('Idempotency-Key: same key and body answers 200 with the same order; other body 409', async () => {
  const before_ = await ordersCreated();
  const key = newKey();
  const fields = { card: DEMO.active.card_no, face_amount: 5000 };
  const first = await createOrder(lebd, fields, key);
  assertStatus(first, 201, 'first use of the key');
  const again = await createOrder(lebd, fields, key);
  assertStatus(again, 200, 'same key, same body');
  assert.equal(again.body.order_no, first.body.order_no);
  assert.equal(again.body.status, 'pending_payment');
  assert.equal(again.body.face_amount, 5000);
  assert.equal(again.body.pay_amount, first.body.pay_amount);
  assert.equal(again.body.expires_at, first.body.expires_at);

  const other = await createOrder(lebd, { ...fields, face_amount: 10000 }, key);
  assertError(other, 409, 'idempotency_conflict', 'same key, other amount');
  const otherCard = await createOrder(lebd, { ...fields, card: DEMO.suspended.card_no }, key);
  assertError(otherCard, 409, 'idempotency_conflict', 'same key, other card');

  assert.equal(await ordersCreated(), before_ + 1, 'exactly one order was created');
  const stillOne = await createOrder(lebd, fields, key);
  assertStatus(stillOne, 200, 'the key still answers the first order after a conflict');
  assert.equal(stillOne.body.order_no, first.body.order_no);
});

test('Idempotency-Key: 20 concurrent identical requests create one order', async () => {
  const before_ = await ordersCreated();
  const key = newKey();
  const fields = { card: DEMO.active.card_no, face_amount: 20000 };
  const responses = await Promise.all(
    Array.from({ length: 20 }, () => createOrder(lebd, fields, key)),
  );
  const statuses = responses.map((response) => response.status).sort();
  assert.equal(statuses.filter((status) => status === 201).length, 1, `statuses ${statuses}`);
  assert.equal(statuses.filter((status) => status === 200).length, 19, `statuses ${statuses}`);
  const numbers = new Set(responses.map((response) => response.body && response.body.order_no));
  assert.equal(numbers.size, 1, `one order number, got ${[...numbers]}`);
  assert.equal(await ordersCreated(), before_ + 1, 'exactly one order was created');
  assertStatus(await getOrder(lebd, [...numbers][0]), 200);
});

test('422 card_not_rechargeable for the recycled demo card (quote and order)', async () => {
  const before_ = await ordersCreated();
  const fields = { card: DEMO.recycled.card_no, face_amount: 5000 };
  assertError(await quote(fields), 422, 'card_not_rechargeable', 'quote');
  assertError(await createOrder(lebd, fields), 422, 'card_not_rechargeable', 'order');
  assert.equal(await ordersCreated(), before_, 'no order for a recycled card');
});

test('422 amount_out_of_range below the minimum and above the maximum', async () => {
  const before_ = await ordersCreated();
  for (const face of [999, 50001, 0, -100, 100, 60000]) {
    const fields = { card: DEMO.active.card_no, face_amount: face };
    assertError(await quote(fields), 422, 'amount_out_of_range', `quote of ${face}`);
    assertError(await createOrder(lebd, fields), 422, 'amount_out_of_range', `order of ${face}`);
  }
  assert.equal(await ordersCreated(), before_, 'no order out of range');
});

test('422 amount_not_allowed for an amount that is not a whole yuan', async () => {
  const before_ = await ordersCreated();
  for (const face of [1050, 1001, 49999]) {
    const fields = { card: DEMO.active.card_no, face_amount: face };
    assertError(await quote(fields), 422, 'amount_not_allowed', `quote of ${face}`);
    assertError(await createOrder(lebd, fields), 422, 'amount_not_allowed', `order of ${face}`);
  }
  assert.equal(await ordersCreated(), before_);
});

test('422 channel_not_allowed for agent channels and auto_renew from the public', async () => {
  const before_ = await ordersCreated();
  for (const channel of ['business_hall', 'convenience_store', 'courier_point', 'auto_renew']) {
    const fields = { card: DEMO.active.card_no, face_amount: 5000, channel };
    assertError(await quote(fields), 422, 'channel_not_allowed', `quote on ${channel}`);
    assertError(await createOrder(lebd, fields), 422, 'channel_not_allowed', `order on ${channel}`);
  }
  assert.equal(await ordersCreated(), before_);
  for (const channel of ['web', 'app']) {
    const response = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000, channel });
    assertStatus(response, 201, `the public may use ${channel}`);
  }
});

test('400 invalid_amount for a fraction, a string or a huge number', async () => {
  const before_ = await ordersCreated();
  for (const face of [10.5, '100', '5000', 1e30, 5000.01]) {
    const fields = { card: DEMO.active.card_no, face_amount: face };
    assertError(await quote(fields), 400, 'invalid_amount', `quote of ${JSON.stringify(face)}`);
    assertError(
      await createOrder(lebd, fields),
      400,
      'invalid_amount',
      `order of ${JSON.stringify(face)}`,
    );
  }
  assert.equal(await ordersCreated(), before_);
});

test('422 payment_method_unavailable for providers that are not configured', async () => {
  const before_ = await ordersCreated();
  for (const method of ['alipay', 'wechatpay', 'wechatpay_v2', 'card']) {
    const fields = { card: DEMO.active.card_no, face_amount: 5000, payment_method: method };
    assertError(await quote(fields), 422, 'payment_method_unavailable', `quote with ${method}`);
    assertError(
      await createOrder(lebd, fields),
      422,
      'payment_method_unavailable',
      `order with ${method}`,
    );
  }
  assert.equal(await ordersCreated(), before_);
});

test('unknown and invalid cards: 404 card_not_found, 400 invalid_card_number', async () => {
  const before_ = await ordersCreated();
  const unknown = { card: '8986010000000000091', face_amount: 5000 };
  assertError(await quote(unknown), 404, 'card_not_found');
  assertError(await createOrder(lebd, unknown), 404, 'card_not_found');
  const invalid = { card: '8986010000000000019', face_amount: 5000 };
  assertError(await quote(invalid), 400, 'invalid_card_number');
  assertError(await createOrder(lebd, invalid), 400, 'invalid_card_number');
  assert.equal(await ordersCreated(), before_);
});

test('orders for the suspended demo card are accepted', async () => {
  const response = await createOrder(lebd, { card: DEMO.suspended.card_no, face_amount: 10000 });
  assertStatus(response, 201);
  assert.equal(response.body.status, 'pending_payment');
});

test('creating orders moves no money: the ledger is balanced', async () => {
  await assertLedgerBalanced(lebd);
});
