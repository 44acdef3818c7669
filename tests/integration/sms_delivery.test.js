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
