'use strict';
/*
 * kannel.test.js - LEB behind a REAL Kannel (Debian's kannel 1.4.5 and kannel-extras):
 * bearerbox, smsbox and Kannel's fake SMS centre, fakesmsc, on loopback (tests/lib/kannel.js).
 * Mobile-originated messages go phone -> fakesmsc -> bearerbox -> smsbox -> lebd's get-url,
 * and the reply goes back the same way to fakesmsc; lebd's own SMS go lebd -> smsbox's sendsms
 * -> bearerbox -> fakesmsc. Kannel is stopped mid-way and nothing may be lost or doubled.
 *
 * The phone's view is compared with lebd's own answer to the same request: whatever Kannel
 * delivers must be exactly the text lebd meant (Chinese included, nothing cut off).
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const { startKannel, kannelMissing } = require('../lib/kannel');
const {
  DEMO,
  api,
  assertStatus,
  createOrderOk,
  formatYuan,
  getBalance,
  login,
  notify,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client');

const missing = kannelMissing();
const SERVICE = '10086';
const SENDER = '10690000';
const NO_CARD = '+8613900000099';

let kannel;
let lebd;
let token;
before(async () => {
  if (missing) return;
  /* Kannel first: lebd needs its sendsms URL and password at start; then Kannel's sms-service
   * is pointed at lebd. */
  kannel = await startKannel({});
  lebd = await startLebd({
    env: {
      LEB_SMS_SENDSMS_URL: kannel.sendsmsUrl,
      LEB_SMS_USERNAME: kannel.username,
      LEB_SMS_PASSWORD_FILE: kannel.passwordFile,
      LEB_SMS_SENDER: SENDER,
      LEB_OUTBOX_INTERVAL_S: '1',
      LEB_TELECOM_BACKOFF_S: '1',
    },
  });
  await kannel.setLebd({ lebdUrl: lebd.url, smsKey: lebd.smsKey });
  token = await login(lebd);
});
after(async () => {
  try {
    if (lebd) await lebd.close();
  } finally {
    if (kannel) await kannel.stop();
  }
});

const skip = missing ? `Kannel is not installed: ${missing}` : false;

/* What lebd itself answers to this MO, straight over HTTP, as Kannel's %a would ask. */
async function directReply(from, text) {
  const query = new URLSearchParams({ from, to: SERVICE, text, key: lebd.smsKey });
  const response = await api(lebd, 'GET', `/api/v1/sms/inbound?${query}`);
  assertStatus(response, 200, `direct ${text}`);
  return response.text;
}

/* The MTs to one phone that no earlier step claimed. */
const claimed = new WeakSet();
async function nextMt(to, what, timeoutMs = 10000) {
  const mt = await kannel.waitForMt((m) => m.to === to && !claimed.has(m), timeoutMs, what);
  claimed.add(mt);
  return mt;
}

function describe(mt) {
  return `[${mt.coding}${mt.parts ? `, ${mt.parts} parts` : ''}] ${JSON.stringify(mt.text)}`;
}

/* The reply as the phone got it must be lebd's reply, Chinese and all: Kannel sends a reply as
 * GSM 7-bit (every Chinese character a "?") unless the get-url answer carries
 * "X-Kannel-Coding: 2" and the sms-service has accept-x-kannel-headers = yes. */
function assertSameText(mt, expected, what) {
  assert.ok(
    !/\?{2}/.test(mt.text) || /\?{2}/.test(expected),
    `${what}: Chinese turned into "?" on the way through Kannel: the phone got ${describe(mt)}; ` +
      'lebd must answer with "X-Kannel-Coding: 2" (UCS-2) for a reply that is not GSM 7-bit',
  );
  assert.equal(mt.text, expected, `${what}: the phone got ${describe(mt)}`);
}

test('YE through Kannel: the balance reply reaches the phone, in UCS-2', { skip }, async () => {
  const yuan = formatYuan((await getBalance(lebd, DEMO.active.card_no, token)).balance);
  const expected = await directReply(DEMO.active.msisdn, 'YE');
  await kannel.sendMo(DEMO.active.msisdn, SERVICE, 'YE');
  const mt = await nextMt(DEMO.active.msisdn, 'the YE reply');
  assert.equal(mt.from, SERVICE, 'the reply comes from the service number');
  assert.ok(mt.text.includes(yuan), `the reply ${describe(mt)} has ${yuan}`);
  assert.ok(!mt.text.includes(DEMO.active.card_no), 'no full card number');
  assertSameText(mt, expected, 'YE');
  assert.equal(mt.coding, 'ucs-2');
  assert.match(mt.text, /余额/);
});

test('余额 as a UCS-2 MO reaches lebd as UTF-8 and answers the balance', { skip }, async () => {
  const yuan = formatYuan((await getBalance(lebd, DEMO.active.card_no, token)).balance);
  const expected = await directReply(DEMO.active.msisdn, 'YE');
  await kannel.sendMo(DEMO.active.msisdn, SERVICE, '余额');
  const mt = await nextMt(DEMO.active.msisdn, 'the 余额 reply');
  assert.ok(mt.text.includes(yuan), `余额 is understood as the balance command: ${describe(mt)}`);
  assertSameText(mt, expected, '余额');
});

test('a sender with no card gets the no-card reply, not a balance', { skip }, async () => {
  const expected = await directReply(NO_CARD, 'YE');
  const balance = await directReply(DEMO.active.msisdn, 'YE');
  assert.notEqual(expected, balance);
  await kannel.sendMo(NO_CARD, SERVICE, 'YE');
  const mt = await nextMt(NO_CARD, 'the no-card reply');
  assert.ok(!mt.text.includes('0018'), `no card in ${describe(mt)}`);
  assertSameText(mt, expected, 'no card');
});

test('BZ: the whole help text reaches the phone, concatenated, not cut off', { skip }, async () => {
  const expected = await directReply(DEMO.active.msisdn, 'BZ');
  await kannel.sendMo(DEMO.active.msisdn, SERVICE, 'BZ');
  const mt = await nextMt(DEMO.active.msisdn, 'the help reply');
  assert.match(mt.text, /YE/);
  assert.match(mt.text, /CZ/);
  assertSameText(mt, expected, 'BZ');
});

test('smsbox sendsms: UCS-2 Chinese and GSM text reach the SMS centre as sent', { skip }, async () => {
  const to = '+8613800000002';
  const chinese = '您的余额 12.34 元（测试）';
  const sent = await kannel.sendsms({ from: SENDER, to, text: chinese, charset: 'UTF-8', coding: '2' });
  assert.equal(sent.status, 202, sent.text);
  assert.match(sent.text, /^0: Accepted for delivery/);
  const mt = await nextMt(to, 'the UCS-2 sendsms message');
  assert.equal(mt.from, SENDER);
  assert.equal(mt.coding, 'ucs-2');
  assert.equal(mt.text, chinese);

  const ascii = 'Balance 12.34 CNY';
  const sent7 = await kannel.sendsms({ from: SENDER, to, text: ascii, charset: 'UTF-8', coding: '0' });
  assert.equal(sent7.status, 202, sent7.text);
  const mt7 = await nextMt(to, 'the 7-bit sendsms message');
  assert.equal(mt7.coding, 'text');
  assert.equal(mt7.text, ascii);

  const wrong = await kannel.sendsms({ password: 'wrong', to, text: 'x' });
  assert.equal(wrong.status, 403, `a wrong sendsms password: ${wrong.status} ${wrong.text}`);
});

async function topUp(face) {
  const order = await createOrderOk(lebd, {
    card: DEMO.active.card_no,
    face_amount: face,
    channel: 'web',
    payment_method: 'sandbox',
  });
  assertStatus(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
    200,
  );
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  return order;
}

async function smsOutbox() {
  const response = await api(
    lebd,
    'GET',
    `/api/v1/admin/outbox?kind=sms&destination=${encodeURIComponent(DEMO.active.msisdn)}`,
    { token },
  );
  assertStatus(response, 200, 'outbox');
  return response.body.messages;
}

test("lebd's recharge SMS goes out through Kannel's sendsms to the phone", { skip }, async () => {
  await topUp(10000);
  const mt = await nextMt(DEMO.active.msisdn, 'the recharge SMS', 15000);
  assert.equal(mt.from, SENDER);
  assert.equal(mt.coding, 'ucs-2', `Chinese goes as UCS-2: ${describe(mt)}`);
  assert.match(mt.text, /100\.00/);
  assert.match(mt.text, /元/);
  assert.ok(mt.text.includes('0018') && !mt.text.includes(DEMO.active.card_no), describe(mt));
  await pollUntil(async () => (await smsOutbox()).every((m) => m.status === 'delivered'), {
    timeout_ms: 5000,
    what: 'the outbox marked delivered',
  });
  /* Kannel calls the dlr-url lebd gave with the message twice: bearerbox's own report of the
   * SMS centre's acceptance (type 8) and the fake SMS centre's handset report (type 1), at
   * about the same time and in either order; the state ends at the final one. */
  await pollUntil(async () => (await smsOutbox()).every((m) => m.delivery === 'delivered'), {
    timeout_ms: 10000,
    what: 'the delivery reports',
  });
});

test('smsbox down mid-way: the MO waits in bearerbox and is answered once smsbox is back', { skip }, async () => {
  const expected = await directReply(DEMO.active.msisdn, 'KH');
  await kannel.stopSmsbox();
  await kannel.sendMo(DEMO.active.msisdn, SERVICE, 'KH');
  await pollUntil(async () => /SMS: received \d+ \(1 queued\)/.test(await kannel.status()), {
    timeout_ms: 5000,
    what: 'the MO queued in bearerbox',
  });
  await kannel.startSmsbox();
  const mt = await nextMt(DEMO.active.msisdn, 'the KH reply after smsbox came back');
  assertSameText(mt, expected, 'KH after smsbox came back');
  /* Exactly once. */
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const again = kannel.received.filter((m) => m.to === DEMO.active.msisdn && !claimed.has(m));
  assert.deepEqual(again.map(describe), [], 'no second reply');
});

test('Kannel down mid-way: what was queued survives a restart and everything arrives once', { skip }, async () => {
  const to = '+8613800000003';
  /* 1. The SMS centre link drops: sendsms messages queue in bearerbox's store. */
  await kannel.disconnectSmsc();
  const texts = ['排队 1', '排队 2', 'queued 3'];
  for (const text of texts) {
    const sent = await kannel.sendsms({ from: SENDER, to, text, charset: 'UTF-8', coding: /^[ -~]*$/.test(text) ? '0' : '2' });
    assert.equal(sent.status, 202, sent.text);
    assert.match(sent.text, /Queued for later delivery|Accepted for delivery/);
  }
  /* 2. The whole gateway stops; lebd sends a recharge SMS meanwhile, which it must keep. */
  await kannel.stopBearerbox();
  await topUp(5000);
  await pollUntil(
    async () => {
      const list = await smsOutbox();
      return list.some((m) => m.status === 'pending' && m.attempts >= 1 && m.last_error);
    },
    { timeout_ms: 10000, what: 'a refused attempt while Kannel is down' },
  );
  /* 3. Kannel comes back on the same store. */
  await kannel.startBearerbox();
  for (const text of texts) {
    const mt = await kannel.waitForMt((m) => m.to === to && m.text === text, 10000, JSON.stringify(text));
    claimed.add(mt);
  }
  const recharge = await nextMt(DEMO.active.msisdn, 'the recharge SMS after Kannel came back', 20000);
  assert.match(recharge.text, /50\.00/, describe(recharge));
  await pollUntil(async () => (await smsOutbox()).every((m) => m.status === 'delivered'), {
    timeout_ms: 5000,
    what: 'every SMS marked delivered',
  });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const toQueued = kannel.received.filter((m) => m.to === to);
  assert.deepEqual(toQueued.map((m) => m.text).sort(), [...texts].sort(), 'each queued message once');
  const extra = kannel.received.filter((m) => m.to === DEMO.active.msisdn && !claimed.has(m));
  assert.deepEqual(extra.map(describe), [], 'no SMS twice');
});
