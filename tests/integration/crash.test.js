'use strict';
/*
 * crash.test.js - a crash at any instant loses no acknowledged payment, and nothing is
 * credited twice (DESIGN.md guarantee 1). 300 orders on 10 cards; their 300 signed SUCCESS
 * notifications go in 64 at a time, and lebd is killed with SIGKILL as soon as about 100 have
 * been acknowledged. After a restart on the same database every acknowledged order must be
 * succeeded; then all 300 are sent again (as providers retry) and every card's balance must
 * be exactly the sum of its orders' face amounts: each credited once.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const {
  api,
  assertStatus,
  getBalance,
  getOrder,
  login,
  luhnCardNo,
  mapLimit,
  notifyBody,
  signSandbox,
  waitForOrderStatus,
  assertLedgerBalanced,
} = require('../lib/client');

const ORDERS = 300;
const CARDS = 10;
const IN_FLIGHT = 64;
const KILL_AFTER_ACKS = 100;

function cardNo(index) {
  return luhnCardNo(`898666${String(index).padStart(12, '0')}`);
}

/* Every face amount a multiple of 100 in [1000, 50000]; most are distinct, so a credit
 * missing on one order and doubled on another would not cancel out. */
function faceAmount(index) {
  return 1000 + 100 * ((index * 37) % 491);
}

/* One notification, sent over a fresh request; resolves to the status or to the error. */
async function sendNotification(lebd, item) {
  try {
    const response = await fetch(`${lebd.url}/api/v1/payments/sandbox/notify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Sandbox-Signature': item.signature },
      body: item.raw,
    });
    const text = await response.text();
    return { status: response.status, text };
  } catch (error) {
    return { status: 0, error };
  }
}

test('kill -9 while payments are acknowledged: none lost, none credited twice', async (t) => {
  const first = await startLebd({ t });
  const token = await login(first);

  /* A plan without a daily limit, and ten cards on it. */
  const plan = await api(first, 'POST', '/api/v1/admin/plans', {
    token,
    body: {
      code: 'CRASH',
      name: 'Crash test plan',
      currency: 'CNY',
      model: 'monthly_fee',
      monthly_fee: 800,
      denominations: [5000, 10000, 20000],
      min_amount: 1000,
      max_amount: 50000,
      daily_limit: 0,
      grace_days: 90,
    },
  });
  assertStatus(plan, 201, 'the crash plan');
  const cards = Array.from({ length: CARDS }, (_, index) => ({
    card_no: cardNo(index),
    msisdn: `+86136${String(index).padStart(8, '0')}`,
    plan: 'CRASH',
  }));
  const batch = await api(first, 'POST', '/api/v1/admin/cards', { token, body: { cards } });
  assertStatus(batch, 201, 'the crash cards');
  assert.equal(batch.body.created, CARDS);

  /* 300 orders. */
  const created = await mapLimit(Array.from({ length: ORDERS }, (_, i) => i), 16, async (index) => {
    const card = cards[index % CARDS].card_no;
    const face = faceAmount(index);
    const response = await api(first, 'POST', '/api/v1/orders', {
      body: { card, face_amount: face, channel: 'web', payment_method: 'sandbox' },
    });
    assertStatus(response, 201, `order ${index}`);
    assert.equal(response.body.face_amount, face);
    const raw = notifyBody({
      order_no: response.body.order_no,
      trade_no: `CRASH-${index}-${response.body.order_no}`,
      amount: response.body.pay_amount,
      status: 'SUCCESS',
    });
    return {
      index,
      card,
      face,
      orderNo: response.body.order_no,
      raw,
      signature: signSandbox(raw, first.sandboxSecret),
    };
  });
  for (const result of created) if (!result.ok) throw result.error;
  const items = created.map((result) => result.value);
  assert.equal(new Set(items.map((item) => item.orderNo)).size, ORDERS, '300 distinct orders');

  /* Fire all 300; kill lebd the moment the 100th acknowledgement arrives. */
  const acknowledged = new Set();
  let killed = null;
  const fired = await mapLimit(items, IN_FLIGHT, async (item) => {
    if (killed) return;
    const result = await sendNotification(first, item);
    if (result.status === 200) {
      acknowledged.add(item.orderNo);
      if (acknowledged.size >= KILL_AFTER_ACKS && !killed) killed = first.kill();
    } else if (result.status !== 0) {
      assert.fail(`notification ${item.index} before the kill: ${result.status} ${result.text}`);
    }
  });
  for (const result of fired) if (!result.ok) throw result.error;
  assert.ok(killed, `lebd was killed (acknowledged ${acknowledged.size})`);
  const exit = await killed;
  assert.equal(exit.signal, 'SIGKILL', 'lebd died of the SIGKILL, not of something else');
  t.diagnostic(`acknowledged before the kill: ${acknowledged.size} of ${ORDERS}`);
  assert.ok(acknowledged.size >= KILL_AFTER_ACKS);

  /* Restart on the same database: every acknowledged payment is there. */
  const second = await first.restart();
  const token2 = await login(second);
  const checked = await mapLimit([...acknowledged], 16, (orderNo) =>
    waitForOrderStatus(second, orderNo, 'succeeded', 10000),
  );
  for (const result of checked) if (!result.ok) throw result.error;
  await assertLedgerBalanced(second, token2);

  /* Providers retry: all 300 again, the acknowledged ones too. */
  const resent = await mapLimit(items, IN_FLIGHT, (item) => sendNotification(second, item));
  resent.forEach((result, index) => {
    assert.ok(result.ok, `resend ${index}`);
    assert.equal(
      result.value.status,
      200,
      `resend of order ${index}: ${result.value.status} ${result.value.text || result.value.error}`,
    );
    assert.equal(JSON.parse(result.value.text).received, true);
  });
  const settled = await mapLimit(items, 16, (item) =>
    waitForOrderStatus(second, item.orderNo, 'succeeded', 10000),
  );
  for (const result of settled) if (!result.ok) throw result.error;

  /* Each card holds exactly the sum of its orders: every order credited once. */
  for (const card of cards) {
    const expected = items
      .filter((item) => item.card === card.card_no)
      .reduce((sum, item) => sum + item.face, 0);
    const balance = await getBalance(second, card.card_no, token2);
    assert.equal(balance.balance, expected, `balance of card ${card.card_no}`);
  }
  for (const item of items.filter((_, index) => index % 50 === 0)) {
    const order = await getOrder(second, item.orderNo);
    assert.equal(order.body.status, 'succeeded');
    assert.equal(order.body.face_amount, item.face);
  }
  await assertLedgerBalanced(second, token2);
});

/*
 * SIGTERM in the middle of a burst: lebd stops accepting, answers what it already took in,
 * and exits 0. Every notification answered 200 is credited; none gets a 5xx; after a restart
 * the rest are re-sent and each order is credited exactly once.
 */
test('SIGTERM during a burst of payments: in-flight requests are answered, exit 0, nothing lost', async (t) => {
  const first = await startLebd({ t });
  const token = await login(first);
  const card = '8986010000000000018';
  const before = (await getBalance(first, card, token)).balance;
  const TOTAL = 200;
  const created = await mapLimit(Array.from({ length: TOTAL }, (_, i) => i), 16, async (index) => {
    const face = 1000 + 100 * (index % 50);
    const response = await api(first, 'POST', '/api/v1/orders', {
      body: { card, face_amount: face, channel: 'web', payment_method: 'sandbox' },
    });
    assertStatus(response, 201, `order ${index}`);
    const raw = notifyBody({
      order_no: response.body.order_no,
      trade_no: `TERM-${index}`,
      amount: response.body.pay_amount,
      status: 'SUCCESS',
    });
    const signature = signSandbox(raw, first.sandboxSecret);
    return { index, face, orderNo: response.body.order_no, raw, signature };
  });
  for (const result of created) if (!result.ok) throw result.error;
  const items = created.map((result) => result.value);

  const acknowledged = new Set();
  let stopping = null;
  const fired = await mapLimit(items, 32, async (item) => {
    const result = await sendNotification(first, item);
    if (result.status === 200) {
      acknowledged.add(item.orderNo);
      if (acknowledged.size >= 50 && !stopping) stopping = first.stop();
    } else if (result.status !== 0) {
      assert.fail(`notification ${item.index} during shutdown: ${result.status} ${result.text}`);
    }
  });
  for (const result of fired) if (!result.ok) throw result.error;
  assert.ok(stopping, 'SIGTERM was sent');
  await stopping; /* asserts exit code 0 */
  t.diagnostic(`answered 200 before the stop completed: ${acknowledged.size} of ${TOTAL}`);

  const second = await first.restart();
  const token2 = await login(second);
  for (const orderNo of acknowledged) {
    assert.equal((await getOrder(second, orderNo)).body.status, 'succeeded', orderNo);
  }
  const resent = await mapLimit(items, 32, (item) => sendNotification(second, item));
  resent.forEach((result, index) => assert.equal(result.value.status, 200, `resend ${index}`));
  const expected = items.reduce((sum, item) => sum + item.face, before);
  assert.equal((await getBalance(second, card, token2)).balance, expected);
  await assertLedgerBalanced(second, token2);
});
