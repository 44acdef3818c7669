'use strict';
/*
 * pay_card.test.js - the card provider (a Stripe-compatible gateway) against its simulator
 * (tests/sim/card.js): the Checkout Session an order creates, signed webhook events credited
 * exactly once whatever their number, order and timing, forged, stale or malformed ones
 * refused, key rotation, events LEB cannot credit recorded for review, a lost event found by
 * polling, a late payment, and a payment for a card recycled meanwhile refunded once. The
 * ledger is checked after every test.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
const { startCardSim } = require('../sim/card');
const {
  DEMO,
  api,
  assertError,
  assertStatus,
  createOrder,
  createOrderOk,
  getOrder,
  getBalance,
  getMetrics,
  login,
  metricValue,
  waitForOrderStatus,
  assertLedgerBalanced,
} = require('../lib/client');

const DAY_S = 86400;

let sim;
let lebd;
let token;
let keyDir;

/* A lebd in test mode whose card provider talks to "gateway": unpaid orders are asked about
 * a second after creation, and only when a test runs the jobs. */
function startCardLebd(gateway, dir, { next = true, t } = {}) {
  return startLebd({
    t,
    testMode: true,
    env: {
      ...gateway.lebdEnv(dir, { next }),
      LEB_PAYMENTS_QUERY_AFTER_S: '1',
      LEB_PAYMENTS_INTERVAL_S: '3600',
      LEB_LIFECYCLE_INTERVAL_S: '3600',
    },
  });
}

before(async () => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-card-'));
  sim = await startCardSim();
  lebd = await startCardLebd(sim, keyDir);
  sim.attach(lebd.url);
  token = await login(lebd);
});

after(async () => {
  if (lebd) await lebd.close();
  if (sim) await sim.close();
  if (keyDir) fs.rmSync(keyDir, { recursive: true, force: true });
});

function cardOrder(instance, face_amount = 5000, card = DEMO.active.card_no) {
  return createOrderOk(instance, { card, face_amount, payment_method: 'card' });
}

async function balanceOf(instance = lebd, card = DEMO.active.card_no, tokenOf = token) {
  return (await getBalance(instance, card, tokenOf)).balance;
}

async function jobsRun(instance = lebd, tokenOf = token) {
  const response = await api(instance, 'POST', '/api/v1/admin/jobs/run', { token: tokenOf });
  assertStatus(response, 200, 'jobs/run');
  return response.body;
}

async function advance(seconds, instance = lebd, tokenOf = token) {
  const response = await api(instance, 'POST', '/api/v1/admin/clock', {
    token: tokenOf,
    body: { advance_s: seconds },
  });
  assertStatus(response, 200, 'clock');
}

function assertReceived(response, what = 'event') {
  assert.equal(response.status, 200, `${what}: expected 200, got ${response.status} ${response.text}`);
  assert.deepEqual(response.body, { received: true }, `${what}: {"received":true}`);
}

function assertRefused(response, what) {
  assert.equal(response.status, 400, `${what}: expected 400, got ${response.status} ${response.text}`);
  assert.deepEqual(response.body, { error: 'invalid signature' }, what);
}

async function orderStatus(orderNo, instance = lebd) {
  const response = await getOrder(instance, orderNo);
  assertStatus(response, 200);
  return response.body.status;
}

/* A Stripe event of "type" about a payment intent with "fields", as raw JSON. */
function eventBody(type, fields) {
  const object = { id: `pi_${Date.now()}`, object: 'payment_intent', currency: 'cny', status: 'succeeded', ...fields };
  return JSON.stringify({ id: `evt_${Date.now()}`, object: 'event', type, data: { object } });
}

/* [raw, header] of "body" signed by the simulator, for sim.send(). */
function signed(body, options = {}) {
  const { raw, header } = sim.sign(body, options);
  return [raw, header];
}

function apiCalls(gateway, method, pathname) {
  return gateway.requests.filter((r) => r.method === method && r.path === pathname);
}

test('an order paid by card is a Checkout Session at the gateway, and its url is the pay url', async () => {
  const before_ = sim.requests.length;
  const createdS = Math.floor(Date.now() / 1000);
  const order = await cardOrder(lebd, 10000);
  const session = sim.sessionOf(order.order_no);
  assert.ok(session, 'the gateway has a session for the order');
  assert.equal(order.payment.provider, 'card');
  assert.equal(order.payment.pay_url, session.url);
  assert.equal(order.payment.qr_text, session.url);

  const calls = sim.requests.slice(before_);
  assert.equal(calls.length, 1, 'one call');
  const call = calls[0];
  assert.equal(call.method, 'POST');
  assert.equal(call.path, '/v1/checkout/sessions');
  assert.equal(call.status, 200);
  assert.equal(call.headers.authorization, `Bearer ${sim.apiKey}`);
  assert.equal(call.headers['idempotency-key'], order.order_no);
  assert.match(call.headers['content-type'], /^application\/x-www-form-urlencoded/);
  const form = call.form;
  assert.equal(form.mode, 'payment');
  const item = form.line_items['0'];
  assert.equal(item.price_data.currency, 'cny');
  assert.equal(item.price_data.unit_amount, String(order.pay_amount));
  assert.ok(item.price_data.product_data.name.length > 0, 'a product name');
  assert.equal(item.quantity, '1');
  assert.equal(form.client_reference_id, order.order_no);
  assert.deepEqual(form.metadata, { order_no: order.order_no });
  assert.deepEqual(form.payment_intent_data, { metadata: { order_no: order.order_no } });
  /* Stripe wants 30 minutes to 24 hours; the 15-minute order asks for the shortest it may. */
  const expiresAt = Number(form.expires_at);
  assert.ok(expiresAt >= createdS + 30 * 60 && expiresAt <= createdS + DAY_S, `expires_at ${expiresAt}`);
  const back = `${lebd.url}/order.html?order_no=${order.order_no}`;
  assert.equal(form.success_url, back);
  assert.equal(form.cancel_url, back);
  assert.equal(session.amount_total, order.pay_amount);
  assert.equal(session.status, 'open');

  /* The order page knows the link too, and a replayed order creates no second session. */
  const read = await getOrder(lebd, order.order_no);
  assert.equal(read.body.payment.pay_url, session.url);
  const key = `card-${order.order_no}`;
  const first = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'card' }, key);
  assertStatus(first, 201);
  const sessions = apiCalls(sim, 'POST', '/v1/checkout/sessions').length;
  const again = await createOrder(lebd, { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'card' }, key);
  assertStatus(again, 200);
  assert.equal(again.body.order_no, first.body.order_no);
  assert.equal(again.body.payment.pay_url, first.body.payment.pay_url);
  assert.equal(apiCalls(sim, 'POST', '/v1/checkout/sessions').length, sessions, 'no second session');
  await assertLedgerBalanced(lebd, token);
});

test('a signed payment_intent.succeeded credits the order once and is answered {"received":true}', async () => {
  const before_ = await balanceOf();
  const order = await cardOrder(lebd, 10000);
  const response = await sim.notify(order.order_no);
  assertReceived(response);
  assert.match(response.headers.get('content-type') || '', /^application\/json/);
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.credited_at, 'credited');
  assert.equal(await balanceOf(), before_ + 10000);
  const event = response.event;
  assert.equal(event.type, 'payment_intent.succeeded');
  assert.equal(event.data.object.amount_received, order.pay_amount);
  assert.match(event.data.object.id, /^pi_/);
  /* The trade LEB recorded is the payment intent. */
  const admin = await api(lebd, 'GET', '/api/v1/admin/orders?status=succeeded&limit=1000', { token });
  assertStatus(admin, 200);
  const row = admin.body.orders.find((o) => o.order_no === order.order_no);
  assert.equal(row.trade_no, event.data.object.id);
  await assertLedgerBalanced(lebd, token);
});

test('replays, concurrent copies and events out of order credit once', async () => {
  const before_ = await balanceOf();
  const order = await cardOrder(lebd, 20000);
  sim.pay(order.order_no);
  const { raw, header } = sim.event(order.order_no);
  const copies = await Promise.all(Array.from({ length: 10 }, () => sim.send(raw, header)));
  copies.forEach((response, index) => assertReceived(response, `copy ${index}`));
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 20000, 'credited once');

  /* The same payment told again by another event, a replay, and a failure that comes late. */
  assertReceived(await sim.notify(order.order_no, { type: 'checkout.session.completed' }), 'session completed');
  assertReceived(await sim.send(raw, header), 'a replay');
  assertReceived(await sim.notify(order.order_no, { type: 'payment_intent.payment_failed' }), 'late failure');
  assert.equal(await orderStatus(order.order_no), 'succeeded');
  assert.equal(await balanceOf(), before_ + 20000, 'still once');

  /* A declined card first, then another card in the same checkout session: the decline is
   * acknowledged and changes nothing, so the success finds the order waiting. */
  const second = await cardOrder(lebd, 5000);
  assertReceived(await sim.notify(second.order_no, { type: 'payment_intent.payment_failed' }), 'failure');
  assert.equal(await orderStatus(second.order_no), 'pending_payment', 'a decline is no failure yet');
  assertReceived(await sim.notify(second.order_no), 'success after failure');
  await waitForOrderStatus(lebd, second.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 25000, 'money paid is never dropped');
  await assertLedgerBalanced(lebd, token);
});

test('forged, stale or malformed events are refused (400) and change nothing', async () => {
  const before_ = await balanceOf();
  const order = await cardOrder(lebd, 10000);
  sim.pay(order.order_no);
  const good = sim.event(order.order_no);
  const nowS = Math.floor(Date.now() / 1000);
  const v1 = /v1=([0-9a-f]{64})/.exec(good.header)[1];
  const refusals = [
    ['one byte changed', sim.event(order.order_no, { tamper: true })],
    ['signed with a wrong secret', sim.event(order.order_no, { wrongSecret: true })],
    ['signed 301 s ago', sim.event(order.order_no, { timestamp: nowS - 301 })],
    ['signed 10 minutes ahead', sim.event(order.order_no, { timestamp: nowS + 600 })],
    ['no Stripe-Signature header', { raw: good.raw, header: null }],
    ['an empty header', { raw: good.raw, header: '' }],
    ['a header that is not a list', { raw: good.raw, header: 'garbage' }],
    ['no timestamp', { raw: good.raw, header: `v1=${v1}` }],
    ['no v1', { raw: good.raw, header: `t=${nowS}` }],
    ['only v0', { raw: good.raw, header: good.header.replace(/v1=/g, 'v0=') }],
    ['another timestamp than signed', { raw: good.raw, header: good.header.replace(/^t=\d+/, `t=${nowS + 1}`) }],
    ['the signature in upper case', { raw: good.raw, header: good.header.replace(v1, v1.toUpperCase()) }],
    ['the signature in base64', { raw: good.raw, header: good.header.replace(v1, Buffer.from(v1, 'hex').toString('base64')) }],
    ['whitespace added to the body', { raw: `${good.raw} `, header: good.header }],
  ];
  for (const [what, { raw, header }] of refusals) assertRefused(await sim.send(raw, header), what);
  assert.equal(await orderStatus(order.order_no), 'pending_payment');
  assert.equal(await balanceOf(), before_, 'no credit from forgeries');
  await assertLedgerBalanced(lebd, token);

  /* The genuine event still works afterwards, once. */
  assertReceived(await sim.send(good.raw, good.header));
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 10000);
});

test('key rotation: several v1 values of which one is right verify, so does the next secret', async () => {
  const before_ = await balanceOf();
  const several = await cardOrder(lebd, 5000);
  assertReceived(
    await sim.notify(several.order_no, { secrets: ['whsec_retired_one', sim.webhookSecret, 'whsec_other'] }),
    'several v1',
  );
  await waitForOrderStatus(lebd, several.order_no, 'succeeded');
  const next = await cardOrder(lebd, 5000);
  assertReceived(await sim.notify(next.order_no, { secret: sim.nextWebhookSecret }), 'the next secret');
  await waitForOrderStatus(lebd, next.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 10000);
  await assertLedgerBalanced(lebd, token);
});

test('the next secret does not verify on a lebd that is not told of it', async (t) => {
  const gateway = await startCardSim();
  t.after(() => gateway.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-card-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const plain = await startCardLebd(gateway, dir, { next: false, t });
  gateway.attach(plain.url);
  const order = await cardOrder(plain, 5000);
  assertRefused(await gateway.notify(order.order_no, { secret: gateway.nextWebhookSecret }), 'next secret');
  assertReceived(await gateway.notify(order.order_no), 'current secret');
  await waitForOrderStatus(plain, order.order_no, 'succeeded');
});

test('verified events LEB cannot credit are acknowledged: another amount or currency to review, unknown order recorded', async () => {
  const before_ = await balanceOf();
  /* An amount that is another order's. */
  const small = await cardOrder(lebd, 5000);
  const large = await cardOrder(lebd, 20000);
  assertReceived(await sim.notify(small.order_no, { amount: large.pay_amount }), 'swapped amount');
  const review = await waitForOrderStatus(lebd, small.order_no, 'review');
  assert.equal(review.credited_at, null);
  /* The same amount in another currency: not fen. */
  const usd = await cardOrder(lebd, 5000);
  assertReceived(await sim.notify(usd.order_no, { currency: 'usd' }), 'another currency');
  await waitForOrderStatus(lebd, usd.order_no, 'review');

  const unknownBefore = metricValue(await getMetrics(lebd), 'leb_notifications_total', { outcome: 'unknown_order' });
  const unknown = eventBody('payment_intent.succeeded', {
    amount_received: 5000,
    metadata: { order_no: 'LEB00000000T000000R000000000' },
  });
  assertReceived(await sim.send(...signed(unknown)), 'unknown order');
  const unknownAfter = metricValue(await getMetrics(lebd), 'leb_notifications_total', { outcome: 'unknown_order' });
  assert.equal(unknownAfter, unknownBefore + 1, 'the unknown order is recorded');
  assert.equal(await orderStatus(large.order_no), 'pending_payment');

  /* Verified events that are nothing to LEB: acknowledged so that Stripe stops. */
  assertReceived(await sim.notify(large.order_no, { type: 'payment_intent.created' }), 'another type');
  assertReceived(await sim.notify(large.order_no, { type: 'charge.refunded' }), 'another type');
  const foreign = eventBody('payment_intent.succeeded', { amount_received: 100, metadata: {} });
  assertReceived(await sim.send(...signed(foreign)), 'a payment of no order of ours');
  /* Verified but not an event at all: refused. */
  const notJson = await sim.send(...signed('not json'));
  assert.equal(notJson.status, 400);
  assert.equal(await orderStatus(large.order_no), 'pending_payment');
  assert.equal(await balanceOf(), before_, 'nothing credited');
  await assertLedgerBalanced(lebd, token);
});

test('a lost event is made up for by polling the session, exactly once', async () => {
  const before_ = await balanceOf();
  const order = await cardOrder(lebd, 10000);
  const intent = sim.pay(order.order_no); /* paid, but the event never arrives */
  const session = sim.sessionOf(order.order_no);
  const gets = () => apiCalls(sim, 'GET', `/v1/checkout/sessions/${session.id}`);
  await advance(2);
  const run = await jobsRun();
  assert.ok(run.payments.found >= 1, `found by query: ${JSON.stringify(run.payments)}`);
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.credited_at);
  assert.equal(gets().length, 1, 'asked once');
  assert.equal(gets()[0].query, '?expand%5B%5D=payment_intent');
  assert.equal(gets()[0].headers.authorization, `Bearer ${sim.apiKey}`);
  assert.equal(await balanceOf(), before_ + 10000);

  /* Paid: never asked again; the event that comes at last is a duplicate. */
  await advance(60);
  await jobsRun();
  assert.equal(gets().length, 1, 'not asked again');
  assertReceived(await sim.notify(order.order_no), 'the late event');
  assert.equal(await balanceOf(), before_ + 10000, 'credited once');
  const admin = await api(lebd, 'GET', '/api/v1/admin/orders?status=succeeded&limit=1000', { token });
  assert.equal(admin.body.orders.find((o) => o.order_no === order.order_no).trade_no, intent.id);

  /* A session that expired unpaid closes its order; a payment after that still counts. */
  const closed = await cardOrder(lebd, 5000);
  sim.expire(closed.order_no);
  await advance(2);
  await jobsRun();
  await waitForOrderStatus(lebd, closed.order_no, 'failed');
  await assertLedgerBalanced(lebd, token);
});

test('a payment that arrives after the order expired is credited', async () => {
  const before_ = await balanceOf();
  const order = await cardOrder(lebd, 5000);
  await advance(16 * 60);
  const run = await jobsRun();
  assert.ok(run.expired_orders >= 1);
  await waitForOrderStatus(lebd, order.order_no, 'expired');
  assertReceived(await sim.notify(order.order_no), 'a late payment');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

test('a payment for a card recycled meanwhile is refunded through the gateway, once', async (t) => {
  const gateway = await startCardSim();
  t.after(() => gateway.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-card-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const instance = await startCardLebd(gateway, dir, { t });
  gateway.attach(instance.url);
  const adminToken = await login(instance);

  const card = await getBalance(instance, DEMO.suspended.card_no, adminToken);
  assert.equal(card.status, 'suspended');
  const order = await cardOrder(instance, 5000, DEMO.suspended.card_no);
  await advance(91 * DAY_S + 60, instance, adminToken);
  const run = await jobsRun(instance, adminToken);
  assert.ok(run.lifecycle.recycled >= 1, `recycled: ${JSON.stringify(run.lifecycle)}`);
  assert.equal((await getBalance(instance, DEMO.suspended.card_no, adminToken)).status, 'recycled');
  await waitForOrderStatus(instance, order.order_no, 'expired');

  /* The payer pays the old link anyway: the money is held, then given back. */
  gateway.refundStatus = 'pending';
  const event = await gateway.notify(order.order_no);
  assertReceived(event, 'payment for a recycled card');
  await waitForOrderStatus(instance, order.order_no, 'refunding');
  await assertLedgerBalanced(instance, adminToken);

  const first = await jobsRun(instance, adminToken);
  assert.equal(first.payments.refunded, 0, 'the gateway says pending');
  const posts = () => apiCalls(gateway, 'POST', '/v1/refunds');
  assert.equal(posts().length, 1);
  const call = posts()[0];
  assert.equal(call.headers['idempotency-key'], `R${order.order_no}`);
  assert.equal(call.headers.authorization, `Bearer ${gateway.apiKey}`);
  assert.equal(call.form.payment_intent, event.event.data.object.id);
  assert.equal(call.form.amount, String(order.pay_amount));
  assert.deepEqual(call.form.metadata, { order_no: order.order_no });
  assert.equal(await orderStatus(order.order_no, instance), 'refunding');

  /* The gateway finishes it; LEB looks at that refund rather than asking for another. */
  const [refund] = [...gateway.refunds.values()];
  refund.status = 'succeeded';
  await advance(120, instance, adminToken);
  const second = await jobsRun(instance, adminToken);
  assert.equal(second.payments.refunded, 1);
  await waitForOrderStatus(instance, order.order_no, 'refunded');
  assert.equal(apiCalls(gateway, 'GET', `/v1/refunds/${refund.id}`).length, 1);

  /* Nothing more, however often the jobs run or the event comes again. */
  await advance(2 * 3600, instance, adminToken);
  assert.equal((await jobsRun(instance, adminToken)).payments.refunded, 0);
  assertReceived(await gateway.send(event.raw, event.header), 'the event again');
  assert.equal(await orderStatus(order.order_no, instance), 'refunded');
  assert.equal(posts().length, 1, 'one refund asked for');
  assert.equal(gateway.refunds.size, 1, 'one refund made');
  assert.equal(refund.amount, order.pay_amount);
  await assertLedgerBalanced(instance, adminToken);
});

test('a half-configured card provider stops lebd, naming the key and never the secret', async (t) => {
  const gateway = await startCardSim();
  t.after(() => gateway.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-card-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const full = gateway.lebdEnv(dir, { next: true });
  const cases = [
    ['webhook_secret_file', { LEB_CARD_BASE_URL: full.LEB_CARD_BASE_URL }],
    ['webhook_secret_file', { LEB_CARD_API_KEY_FILE: full.LEB_CARD_API_KEY_FILE, LEB_CARD_WEBHOOK_SECRET_NEXT_FILE: full.LEB_CARD_WEBHOOK_SECRET_NEXT_FILE }],
    ['api_key_file', { LEB_CARD_WEBHOOK_SECRET_FILE: full.LEB_CARD_WEBHOOK_SECRET_FILE, LEB_CARD_BASE_URL: full.LEB_CARD_BASE_URL }],
    ['base_url', { LEB_CARD_WEBHOOK_SECRET_FILE: full.LEB_CARD_WEBHOOK_SECRET_FILE, LEB_CARD_API_KEY_FILE: full.LEB_CARD_API_KEY_FILE }],
  ];
  for (const [key, env] of cases) {
    await assert.rejects(startLebd({ env }), (error) => {
      assert.match(error.message, /exited before listening \(code [1-9]/, `${key}: a non-zero exit`);
      assert.match(error.message, new RegExp(`lebd: .*card\\.${key}`), `${key} is named`);
      for (const secret of [gateway.webhookSecret, gateway.nextWebhookSecret, gateway.apiKey]) {
        assert.ok(!error.message.includes(secret), `${key}: no secret in the message`);
      }
      return true;
    });
  }
  /* Nothing set: the provider is off, and the method is not offered. */
  const off = await startLebd({ t });
  const response = await createOrder(off, { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'card' });
  assertError(response, 422, 'payment_method_unavailable');
  const notify = await api(off, 'POST', '/api/v1/payments/card/notify', { raw: '{}' });
  assert.equal(notify.status, 404);
});
