'use strict';
/*
 * payments.test.js - the sandbox payment notification and what it does to orders, balances
 * and the ledger: the whole recharge, failures, exactly-once crediting under duplicates and
 * concurrency, forged and tampered notifications, amount mismatches, the reactivation of a
 * suspended card, late payments on expired orders. The ledger is checked after every test.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrderOk,
  getOrder,
  getBalance,
  login,
  notify,
  notifyBody,
  signSandbox,
  randomTradeNo,
  waitForOrderStatus,
  assertLedgerBalanced,
} = require('../lib/client');

let lebd;
let token;
before(async () => {
  lebd = await startLebd();
  token = await login(lebd);
});
after(() => lebd && lebd.close());

async function balanceOf(instance, card, tokenOf = token) {
  return (await getBalance(instance, card, tokenOf)).balance;
}

function assertReceived(response, what = 'notification') {
  assertStatus(response, 200, what);
  assert.equal(response.body && response.body.received, true, `${what}: {"received":true}`);
}

/* The order must stay exactly where it was: still pending, nothing paid or credited. */
async function assertUntouched(instance, orderNo) {
  const read = await getOrder(instance, orderNo);
  assertStatus(read, 200);
  assert.equal(read.body.status, 'pending_payment');
  assert.equal(read.body.paid_at, null);
  assert.equal(read.body.credited_at, null);
}

test('the whole recharge: order, signed SUCCESS, order succeeded, balance up once', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 10000 });

  const response = await notify(lebd, {
    order_no: order.order_no,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertReceived(response);
  assert.match(response.headers.get('content-type') || '', /^application\/json/);

  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.match(done.paid_at, RFC3339_UTC);
  assert.match(done.credited_at, RFC3339_UTC);
  assert.ok(Date.parse(done.credited_at) >= Date.parse(done.paid_at), 'credited after paid');
  assert.ok(Date.parse(done.paid_at) >= Date.parse(done.created_at), 'paid after created');
  assert.equal(done.face_amount, 10000);

  const balance = await getBalance(lebd, DEMO.active.card_no, token);
  assert.equal(balance.balance, before_ + 10000, 'the balance rose by the face amount');
  assert.equal(balance.currency, 'CNY');
  assert.equal(balance.card_no, DEMO.active.card_no);
  assert.equal(balance.msisdn, DEMO.active.msisdn);
  assert.equal(balance.status, 'active');
  assert.ok('valid_until' in balance, 'valid_until is present');
  assert.ok('next_billing_at' in balance, 'next_billing_at is present');
  /* The same card by its phone number. */
  const byPhone = await getBalance(lebd, DEMO.active.msisdn, token);
  assert.equal(byPhone.balance, balance.balance);
  assert.equal(byPhone.card_no, DEMO.active.card_no);

  await assertLedgerBalanced(lebd, token);
});

test('a FAILED notification fails the order and credits nothing', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'FAILED' }),
  );
  const failed = await waitForOrderStatus(lebd, order.order_no, 'failed');
  assert.equal(failed.credited_at, null);
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_);
  /* The same FAILED again is a duplicate: still received, still nothing. */
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'FAILED' }),
  );
  assert.equal((await getOrder(lebd, order.order_no)).body.status, 'failed');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_);
  await assertLedgerBalanced(lebd, token);
});

test('a SUCCESS after a FAILED is still credited: money paid is never dropped', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'FAILED' }),
  );
  await waitForOrderStatus(lebd, order.order_no, 'failed');
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
  );
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

test('the same notification 50 times concurrently credits once', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 20000 });
  const raw = notifyBody({
    order_no: order.order_no,
    trade_no: randomTradeNo(),
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  const responses = await Promise.all(
    Array.from({ length: 50 }, () => notify(lebd, null, { raw })),
  );
  responses.forEach((response, index) => assertReceived(response, `copy ${index}`));
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 20000, 'credited once');
  /* And once more, later, one by one. */
  for (let i = 0; i < 3; i++) assertReceived(await notify(lebd, null, { raw }), `late copy ${i}`);
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 20000, 'still once');
  await assertLedgerBalanced(lebd, token);
});

test('a second SUCCESS with another trade_no, or a FAILED, never changes a succeeded order', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
  );
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 5000);

  const other = await notify(lebd, {
    order_no: order.order_no,
    trade_no: randomTradeNo(),
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertReceived(other, 'a SUCCESS with another trade_no');
  const failed = await notify(lebd, {
    order_no: order.order_no,
    amount: order.pay_amount,
    status: 'FAILED',
  });
  assertReceived(failed, 'a FAILED after success');

  const read = await getOrder(lebd, order.order_no);
  assertStatus(read, 200);
  assert.equal(read.body.status, 'succeeded');
  assert.equal(read.body.credited_at, done.credited_at, 'credited_at does not move');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 5000, 'never twice');
  await assertLedgerBalanced(lebd, token);
});

test('forged, tampered or unsigned notifications: 401 invalid_signature, nothing changes', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 10000 });
  const fields = {
    order_no: order.order_no,
    trade_no: randomTradeNo(),
    amount: order.pay_amount,
    status: 'SUCCESS',
  };
  const raw = notifyBody(fields);
  const good = signSandbox(raw, lebd.sandboxSecret);

  const forgeries = [
    ['signed with another secret', { secret: 'demo-sandbox-secret' }],
    ['signed with an empty secret', { secret: '' }],
    ['amount changed after signing', { tamper: true }],
    ['order_no changed after signing', { tamper: (body) => body.replace(order.order_no, `${order.order_no}0`) }],
    ['whitespace added after signing', { tamper: (body) => body.replace(/,/g, ', ') }],
    ['a byte appended after signing', { tamper: (body) => `${body} ` }],
    ['no signature header', { signature: null }],
    ['an empty signature', { signature: '' }],
    ['the signature in upper case', { signature: good.toUpperCase() }],
    ['the signature one character short', { signature: good.slice(0, 63) }],
    ['the signature one character long', { signature: `${good}0` }],
    ['the signature in base64', { signature: Buffer.from(good, 'hex').toString('base64') }],
    ['the signature with a prefix', { signature: `sha256=${good}` }],
    ['a signature of zeros', { signature: '0'.repeat(64) }],
    ['a signature that is not hex', { signature: 'z'.repeat(64) }],
  ];
  for (const [what, options] of forgeries) {
    const response = await notify(lebd, fields, { raw, ...options });
    assertError(response, 401, 'invalid_signature', what);
  }
  /* A FAILED forged too: it must not fail the order either. */
  const forgedFailed = await notify(
    lebd,
    { ...fields, status: 'FAILED' },
    { secret: 'not-the-secret' },
  );
  assertError(forgedFailed, 401, 'invalid_signature', 'forged FAILED');

  await assertUntouched(lebd, order.order_no);
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_, 'no credit from forgeries');
  await assertLedgerBalanced(lebd, token);

  /* The genuine notification still works afterwards, once. */
  assertReceived(await notify(lebd, fields, { raw }));
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_ + 10000);
  await assertLedgerBalanced(lebd, token);
});

test('an amount that differs from the order: received, order in review, no credit', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  for (const delta of [-1, +1]) {
    const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 10000 });
    const response = await notify(lebd, {
      order_no: order.order_no,
      amount: order.pay_amount + delta,
      status: 'SUCCESS',
    });
    assertReceived(response, `amount pay_amount${delta > 0 ? '+' : ''}${delta}`);
    const review = await waitForOrderStatus(lebd, order.order_no, 'review');
    assert.equal(review.credited_at, null, 'not credited');
    /* A correct notification afterwards does not credit silently either: a human decides. */
    assertReceived(
      await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
    );
    const after_ = await getOrder(lebd, order.order_no);
    assert.equal(after_.body.status, 'review');
  }
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_, 'nothing credited');
  await assertLedgerBalanced(lebd, token);
});

test('a recharge on the suspended demo card credits it and makes it active', async () => {
  const before_ = await getBalance(lebd, DEMO.suspended.card_no, token);
  assert.equal(before_.status, 'suspended');
  /* Enough to cover any arrears: the smallest allowed amount at least the debt. */
  const debt = Math.max(0, -before_.balance);
  const face = [5000, 10000, 20000, 50000].find((amount) => amount >= debt);
  assert.ok(face, `arrears of ${debt} fen fit in one order`);
  const order = await createOrderOk(lebd, { card: DEMO.suspended.card_no, face_amount: face });
  assertReceived(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
  );
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  const after_ = await getBalance(lebd, DEMO.suspended.card_no, token);
  assert.equal(after_.balance, before_.balance + face);
  assert.equal(after_.status, 'active', 'a top-up that covers the arrears reactivates the card');
  const publicView = await api(lebd, 'GET', `/api/v1/cards/${DEMO.suspended.card_no}`);
  assertStatus(publicView, 200);
  assert.equal(publicView.body.status, 'active');
  await assertLedgerBalanced(lebd, token);
});

test('a notification for an unknown order: 404 order_not_found, nothing credited', async () => {
  const before_ = await balanceOf(lebd, DEMO.active.card_no);
  for (const orderNo of ['NO-SUCH-ORDER-1', '0']) {
    const response = await notify(lebd, { order_no: orderNo, amount: 10000, status: 'SUCCESS' });
    assertError(response, 404, 'order_not_found', `order ${orderNo}`);
  }
  assert.equal(await balanceOf(lebd, DEMO.active.card_no), before_);
  await assertLedgerBalanced(lebd, token);
});

test('an order that expired is still credited when its payment arrives late', async (t) => {
  const short = await startLebd({
    t,
    env: { LEB_ORDERS_TTL_S: '1', LEB_ORDERS_EXPIRY_INTERVAL_S: '1' },
  });
  const shortToken = await login(short);
  const before_ = await balanceOf(short, DEMO.active.card_no, shortToken);
  const createdMs = Date.now();
  const order = await createOrderOk(short, { card: DEMO.active.card_no, face_amount: 5000 });
  const expiresMs = Date.parse(order.expires_at);
  assert.ok(
    expiresMs <= createdMs + 5000,
    `with a 1 s time to live, expires_at ${order.expires_at} is about now`,
  );
  const expired = await waitForOrderStatus(short, order.order_no, 'expired', 10000);
  assert.equal(expired.paid_at, null);

  assertReceived(
    await notify(short, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
    'a late payment',
  );
  const done = await waitForOrderStatus(short, order.order_no, 'succeeded');
  assert.match(done.credited_at, RFC3339_UTC);
  assert.equal(await balanceOf(short, DEMO.active.card_no, shortToken), before_ + 5000);
  await assertLedgerBalanced(short, shortToken);

  /* An order that nobody pays stays expired and credits nothing. */
  const unpaid = await createOrderOk(short, { card: DEMO.active.card_no, face_amount: 5000 });
  await waitForOrderStatus(short, unpaid.order_no, 'expired', 10000);
  assert.equal(await balanceOf(short, DEMO.active.card_no, shortToken), before_ + 5000);
  await assertLedgerBalanced(short, shortToken);
});
