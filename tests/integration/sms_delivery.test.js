'use strict';
/*
 * sms_delivery.test.js - SMS leave through the gateway's sendsms interface (Kannel's HTTP
 * API), rendered in the card's language, and nothing is lost while the gateway is down. The
 * gateway here is a recording stand-in speaking sendsms' wire format; the real Kannel runs in
 * kannel.test.js.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertStatus,
  createOrderOk,
  login,
  notify,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client');

/* A sendsms stand-in: records every request; answers 202 "0: Accepted for delivery" as Kannel
 * does, or 503 while "down". */
async function startGateway(t) {
  const gateway = { requests: [], down: false };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://gateway');
    gateway.requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (gateway.down) {
      response.writeHead(503).end('Service unavailable');
      return;
    }
    response.writeHead(202, { 'content-type': 'text/plain' }).end('0: Accepted for delivery');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  gateway.url = `http://127.0.0.1:${server.address().port}/cgi-bin/sendsms`;
  return gateway;
}

async function startWithGateway(t, gateway, env = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-sms-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, 'gateway-secret\n');
  const lebd = await startLebd({
    t,
    env: {
      LEB_SMS_SENDSMS_URL: gateway.url,
      LEB_SMS_USERNAME: 'leb',
      LEB_SMS_PASSWORD_FILE: passwordFile,
      LEB_SMS_SENDER: '10690000',
      LEB_OUTBOX_INTERVAL_S: '1',
      ...env,
    },
  });
  return lebd;
}

async function topUp(lebd, card, face) {
  const order = await createOrderOk(lebd, {
    card,
    face_amount: face,
    channel: 'web',
    payment_method: 'sandbox',
  });
  const paid = await notify(lebd, {
    order_no: order.order_no,
    trade_no: `SMS-${order.order_no}`,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertStatus(paid, 200, 'notification');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  return order;
}

async function smsOutbox(lebd, token, destination) {
  const response = await api(lebd, 'GET', `/api/v1/admin/outbox?kind=sms&destination=${encodeURIComponent(destination)}`, { token });
  assertStatus(response, 200, 'outbox');
  return response.body.messages;
}

test('a recharge sends its SMS through sendsms: UCS-2 Chinese, the masked card, the credentials', async (t) => {
  const gateway = await startGateway(t);
  const lebd = await startWithGateway(t, gateway);
  const token = await login(lebd);
  await topUp(lebd, DEMO.active.card_no, 10000);
  await pollUntil(() => gateway.requests.length >= 1, { timeout_ms: 10000, what: 'an SMS at the gateway' });
  const [sent] = gateway.requests;
  assert.equal(sent.path, '/cgi-bin/sendsms');
  assert.equal(sent.query.username, 'leb');
  assert.equal(sent.query.password, 'gateway-secret');
  assert.equal(sent.query.to, '+8613800000001');
  assert.equal(sent.query.from, '10690000');
  assert.equal(sent.query.charset, 'UTF-8');
  assert.equal(sent.query.coding, '2', 'Chinese text goes as UCS-2');
  assert.match(sent.query.text, /100\.00/);
  assert.match(sent.query.text, /元/);
  assert.ok(sent.query.text.includes('0018'), sent.query.text);
  assert.ok(!sent.query.text.includes(DEMO.active.card_no), 'never the full card number');
  const messages = await pollUntil(async () => {
    const list = await smsOutbox(lebd, token, '+8613800000001');
    return list.every((message) => message.status === 'delivered') ? list : null;
  }, { timeout_ms: 10000, what: 'the SMS marked delivered' });
  assert.equal(messages.length, 1);
  assert.equal(messages[0].attempts, 1);
  /* The gateway's password never reaches the logs. */
  assert.ok(!lebd.logs.join('\n').includes('gateway-secret'));
});

test('the gateway down: the SMS waits, is retried, and is sent once when it is back', async (t) => {
  const gateway = await startGateway(t);
  gateway.down = true;
  const lebd = await startWithGateway(t, gateway, { LEB_TELECOM_BACKOFF_S: '1' });
  const token = await login(lebd);
  await topUp(lebd, DEMO.active.card_no, 5000);
  await pollUntil(() => gateway.requests.length >= 2, { timeout_ms: 15000, what: 'two refused attempts' });
  const waiting = await smsOutbox(lebd, token, '+8613800000001');
  assert.equal(waiting.length, 1);
  assert.equal(waiting[0].status, 'pending', 'refused attempts leave it pending');
  assert.match(waiting[0].last_error || '', /503/);
  gateway.down = false;
  const delivered = await pollUntil(async () => {
    const list = await smsOutbox(lebd, token, '+8613800000001');
    return list.length === 1 && list[0].status === 'delivered' ? list : null;
  }, { timeout_ms: 20000, what: 'the SMS delivered after the gateway came back' });
  assert.ok(delivered[0].attempts >= 3);
  const accepted = gateway.requests.filter((request) => request.query.to === '+8613800000001');
  assert.equal(accepted.length, delivered[0].attempts, 'one request per attempt, none after');
});

/* ---- delivery reports --------------------------------------------------------------------- */

/* What Kannel does with a sendsms dlr-url: replace "%d" by the report's type and GET it. */
function dlrCall(lebd, dlrUrl, type) {
  const url = new URL(dlrUrl.replace('%d', String(type)));
  return api(lebd, 'GET', `${url.pathname}${url.search}`);
}

/* The token of message "id", computed as lebd documents it: HMAC-SHA256 keyed with the
 * SHA-256 of the SMS key, over "dlr:<id>", its first 16 bytes in hex. */
function dlrToken(smsKey, id) {
  const crypto = require('node:crypto');
  const key = crypto.createHash('sha256').update(smsKey).digest();
  return crypto.createHmac('sha256', key).update(`dlr:${id}`).digest('hex').slice(0, 32);
}

test('every SMS asks for delivery reports; they arrive out of order and the state never goes back', async (t) => {
  const gateway = await startGateway(t);
  const lebd = await startWithGateway(t, gateway);
  const token = await login(lebd);
  await topUp(lebd, DEMO.active.card_no, 10000);
  await pollUntil(() => gateway.requests.length >= 1, { timeout_ms: 10000, what: 'an SMS at the gateway' });
  const [sent] = gateway.requests;
  assert.equal(sent.query['dlr-mask'], '31', 'every report type: delivered, failed, queued, accepted, rejected');
  const dlrUrl = sent.query['dlr-url'];
  assert.ok(dlrUrl.startsWith(`${lebd.url}/api/v1/sms/dlr?`), dlrUrl);
  assert.ok(dlrUrl.endsWith('&type=%d'), dlrUrl);
  assert.ok(!dlrUrl.includes(lebd.smsKey), 'the report address never carries the SMS key');
  const [message] = await pollUntil(async () => {
    const list = await smsOutbox(lebd, token, DEMO.active.msisdn);
    return list.length === 1 && list[0].status === 'delivered' ? list : null;
  }, { timeout_ms: 10000, what: 'the SMS handed over' });
  assert.equal(message.delivery, null, 'no report yet');
  assert.equal(new URL(dlrUrl.replace('%d', '1')).searchParams.get('t'), dlrToken(lebd.smsKey, message.id));

  const states = [];
  for (const type of [4, 8, 1, 8, 2, 16, 4]) {
    const response = await dlrCall(lebd, dlrUrl, type);
    assertStatus(response, 200, `report ${type}`);
    assert.equal(response.text, 'ok');
    states.push((await smsOutbox(lebd, token, DEMO.active.msisdn))[0].delivery);
  }
  assert.deepEqual(states, ['queued', 'accepted', 'delivered', 'delivered', 'delivered', 'delivered', 'delivered']);
  const [reported] = await smsOutbox(lebd, token, DEMO.active.msisdn);
  assert.match(reported.delivery_at, /^\d{4}-\d{2}-\d{2}T/);

  /* The operators' view: filter by delivery state, and the counts. */
  const delivered = await api(lebd, 'GET', '/api/v1/admin/outbox?kind=sms&delivery=delivered', { token });
  assertStatus(delivered, 200, 'filter');
  assert.deepEqual(delivered.body.messages.map((m) => m.id), [message.id]);
  const none = await api(lebd, 'GET', '/api/v1/admin/outbox?kind=sms&delivery=none', { token });
  assert.deepEqual(none.body.messages, []);
  assertStatus(await api(lebd, 'GET', '/api/v1/admin/outbox?delivery=arrived', { token }), 400);
  const summary = await api(lebd, 'GET', '/api/v1/admin/outbox/summary', { token });
  assertStatus(summary, 200, 'summary');
  assert.equal(summary.body.kinds.sms.delivered, 1);
  assert.equal(summary.body.kinds.sms.pending, 0);
  assert.equal(summary.body.kinds.sms.dead, 0);
  assert.deepEqual(summary.body.kinds.sms.delivery, { delivered: 1 });
  assert.equal(summary.body.kinds.webhook.pending, 1, 'the card.recharged webhook waits: no telecom URL');
});

test('a delivery report with a wrong token, a bad type or for no SMS changes nothing', async (t) => {
  const gateway = await startGateway(t);
  const lebd = await startWithGateway(t, gateway);
  const token = await login(lebd);
  await topUp(lebd, DEMO.active.card_no, 10000);
  const [message] = await pollUntil(async () => {
    const list = await smsOutbox(lebd, token, DEMO.active.msisdn);
    return list.length === 1 && list[0].status === 'delivered' ? list : null;
  }, { timeout_ms: 10000, what: 'the SMS handed over' });
  const good = dlrToken(lebd.smsKey, message.id);
  const path = (query) => `/api/v1/sms/dlr?${new URLSearchParams(query)}`;
  const cases = [
    [{ id: message.id, t: dlrToken(lebd.smsKey, message.id + 1), type: 1 }, 403, 'forbidden', 'the token of another message'],
    [{ id: message.id, t: good.replace(/.$/, (c) => (c === '0' ? '1' : '0')), type: 1 }, 403, 'forbidden', 'one character changed'],
    [{ id: message.id, t: lebd.smsKey, type: 1 }, 403, 'forbidden', 'the SMS key itself'],
    [{ id: message.id, type: 1 }, 403, 'forbidden', 'no token'],
    [{ id: message.id, t: good, type: 3 }, 400, 'invalid_request', 'two bits at once'],
    [{ id: message.id, t: good, type: 'x' }, 400, 'invalid_request', 'not a number'],
    [{ id: message.id, t: good }, 400, 'invalid_request', 'no type'],
    [{ id: 'abc', t: good, type: 1 }, 400, 'invalid_request', 'no id'],
    [{ id: 999999, t: dlrToken(lebd.smsKey, 999999), type: 1 }, 404, 'not_found', 'no such message'],
  ];
  /* The card.recharged webhook is message id + 1 or - 1: a report for a webhook is refused. */
  const webhooks = await api(lebd, 'GET', '/api/v1/admin/outbox?kind=webhook', { token });
  const webhookId = webhooks.body.messages[0].id;
  cases.push([{ id: webhookId, t: dlrToken(lebd.smsKey, webhookId), type: 1 }, 404, 'not_found', 'a webhook']);
  for (const [query, status, code, what] of cases) {
    const response = await api(lebd, 'GET', path(query));
    assert.equal(response.status, status, `${what}: ${response.text}`);
    assert.equal(response.body.error.code, code, what);
  }
  const [after] = await smsOutbox(lebd, token, DEMO.active.msisdn);
  assert.equal(after.delivery, null, 'nothing recorded');
  assertStatus(await api(lebd, 'GET', path({ id: message.id, t: good, type: 2 })), 200);
  assert.equal((await smsOutbox(lebd, token, DEMO.active.msisdn))[0].delivery, 'undelivered');
});
