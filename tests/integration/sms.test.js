'use strict';
/*
 * sms.test.js - the Kannel sms-service get-url, GET /api/v1/sms/inbound: the key, the
 * balance command in ASCII and Chinese, a sender without a card, unknown commands and help,
 * auto-renewal's status (ZD) and turning it off with a confirmation (TD, then Y), and the
 * cardholder's language (EN, ZW). The reply SMS is the text/plain body.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertStatus,
  createOrderOk,
  formatYuan,
  getBalance,
  login,
  notify,
  waitForOrderStatus,
} = require('../lib/client');

let lebd;
let token;
before(async () => {
  lebd = await startLebd({ testMode: true });
  token = await login(lebd);
});
after(() => lebd && lebd.close());

function inbound({ from = '+8613800000001', to = '10086', text, key = lebd.smsKey } = {}) {
  const query = new URLSearchParams();
  if (from !== null) query.set('from', from);
  if (to !== null) query.set('to', to);
  if (text !== null) query.set('text', text);
  if (key !== null) query.set('key', key);
  /* URLSearchParams writes a space as "+"; Kannel's %a escapes it as %20. Both mean a space
   * in a query string. */
  return api(lebd, 'GET', `/api/v1/sms/inbound?${query.toString()}`);
}

function assertReply(response, what) {
  assertStatus(response, 200, what);
  assert.match(
    response.headers.get('content-type') || '',
    /^text\/plain/,
    `${what}: the reply is text/plain`,
  );
  assert.ok(response.text.trim().length > 0, `${what}: the reply is not empty`);
  assert.ok(response.text.length <= 1000, `${what}: an SMS reply stays short`);
  assert.ok(!response.text.includes(DEMO.active.card_no), `${what}: no full card number`);
}

async function balanceYuan() {
  return formatYuan((await getBalance(lebd, DEMO.active.card_no, token)).balance);
}

test('YE answers the balance in yuan, as text/plain, without the full card number', async () => {
  const yuan = await balanceYuan();
  const response = await inbound({ text: 'YE' });
  assertReply(response, 'YE');
  assert.ok(response.text.includes(yuan), `the reply ${JSON.stringify(response.text)} has ${yuan}`);
  /* Chinese must leave Kannel as UCS-2, which it does only when told. */
  assert.equal(response.headers.get('x-kannel-coding'), '2');
});

test('the balance in the reply follows a recharge', async () => {
  const before_ = (await getBalance(lebd, DEMO.active.card_no, token)).balance;
  const order = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 12300 });
  assertStatus(
    await notify(lebd, { order_no: order.order_no, amount: order.pay_amount, status: 'SUCCESS' }),
    200,
  );
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  const yuan = formatYuan(before_ + 12300);
  assert.equal(await balanceYuan(), yuan);
  const response = await inbound({ text: 'YE' });
  assertReply(response, 'YE after a recharge');
  assert.ok(response.text.includes(yuan), `the reply ${JSON.stringify(response.text)} has ${yuan}`);
});

test('余额, ye and a sender number without +86 answer the balance too', async () => {
  const yuan = await balanceYuan();
  const cases = [
    ['余额', { text: '余额' }],
    ['ye in lower case', { text: 'ye' }],
    ['YE with spaces around', { text: ' YE ' }],
    ['a sender without +86', { from: '13800000001', text: 'YE' }],
  ];
  for (const [what, params] of cases) {
    const response = await inbound(params);
    assertReply(response, what);
    assert.ok(response.text.includes(yuan), `${what}: ${JSON.stringify(response.text)} has ${yuan}`);
  }
  /* The raw request as Kannel sends it: UTF-8, percent-encoded. */
  const raw = await api(
    lebd,
    'GET',
    `/api/v1/sms/inbound?from=%2B8613800000001&to=10086&text=%E4%BD%99%E9%A2%9D&key=${encodeURIComponent(lebd.smsKey)}`,
  );
  assertReply(raw, '余额 percent-encoded');
  assert.ok(raw.text.includes(yuan));
});

test('a wrong or missing key: 403 with an empty body, and nothing is answered', async () => {
  for (const [what, key] of [
    ['a wrong key', 'wrong-key'],
    ['the key with a byte more', `${lebd.smsKey}x`],
    ['an empty key', ''],
    ['no key', null],
    ['the default demo key', 'demo-sms-key'],
  ]) {
    const response = await inbound({ text: 'YE', key });
    assert.equal(response.status, 403, `${what}: ${response.status} ${response.text}`);
    assert.equal(response.text, '', `${what}: the body is empty`);
  }
});

test('a sender with no card gets a clear reply, not a balance', async () => {
  const yuan = await balanceYuan();
  const ye = await inbound({ text: 'YE' });
  const response = await inbound({ from: '+8613900000099', text: 'YE' });
  assertReply(response, 'a sender with no card');
  assert.notEqual(response.text, ye.text, 'not the balance reply');
  assert.ok(!response.text.includes(yuan), `no balance in ${JSON.stringify(response.text)}`);
});

test('an unknown command gets the help text, which names YE', async () => {
  for (const text of ['HELLO', 'XYZ123', '你好']) {
    const response = await inbound({ text });
    assertReply(response, `unknown command ${JSON.stringify(text)}`);
    assert.match(response.text, /YE/, `help for ${JSON.stringify(text)}: ${response.text}`);
  }
  for (const text of ['BZ', '帮助']) {
    const response = await inbound({ text });
    assertReply(response, text);
    assert.match(response.text, /YE/, `${text}: ${response.text}`);
    assert.match(response.text, /CZ/, `${text} lists the recharge command: ${response.text}`);
  }
});

test('KH answers the card number and CZ a recharge link, not the help text', async () => {
  const help = await inbound({ text: 'BZ' });
  assertReply(help, 'BZ');
  for (const text of ['KH', '卡号']) {
    const response = await inbound({ text });
    assertStatus(response, 200, text);
    assert.match(response.headers.get('content-type') || '', /^text\/plain/);
    assert.notEqual(response.text, help.text, `${text} is a command of its own, not help`);
    assert.ok(response.text.includes('0018'), `${text} names the card: ${response.text}`);
  }
  for (const text of ['CZ', '充值']) {
    /* The link may carry the card number to prefill the page: it goes to the card's own
     * phone, as KH's answer does. */
    const response = await inbound({ text });
    assertStatus(response, 200, text);
    assert.match(response.headers.get('content-type') || '', /^text\/plain/);
    assert.notEqual(response.text, help.text, `${text} is a command of its own, not help`);
    assert.match(response.text, /https?:\/\//, `${text} answers a link: ${response.text}`);
  }
});

/* ---- auto-renewal and language by SMS ---------------------------------------------------- */

async function autoRenew(card) {
  const response = await api(lebd, 'GET', `/api/v1/admin/cards/${card}/auto-renew`, { token });
  assertStatus(response, 200, 'auto-renew');
  return response.body;
}

async function setAutoRenew(card, body) {
  const response = await api(lebd, 'PUT', `/api/v1/admin/cards/${card}/auto-renew`, { token, body });
  assertStatus(response, 200, 'set auto-renew');
  return response.body;
}

/* The suspended demo card is the one these tests change: the others stay as the tests above
 * expect them. */
const SUSPENDED = { from: '+8613800000002', card: DEMO.suspended.card_no };

test('ZD tells whether auto-renewal is on, and by which rule, in the card\'s language', async (t) => {
  t.after(() => setAutoRenew(SUSPENDED.card, { enabled: false }));
  for (const text of ['ZD', 'zd', '自动续费', ' ＺＤ ']) {
    const off = await inbound({ from: SUSPENDED.from, text });
    assertReply(off, text);
    assert.match(off.text, /自动续费未开通/, `${JSON.stringify(text)}: ${off.text}`);
    assert.equal(off.headers.get('x-kannel-coding'), '2', 'Chinese goes back as UCS-2');
  }
  await setAutoRenew(SUSPENDED.card, { enabled: true, rule: 'threshold', amount: 5000, threshold: 500 });
  const threshold = await inbound({ from: SUSPENDED.from, text: 'ZD' });
  assert.match(threshold.text, /5\.00 元/);
  assert.match(threshold.text, /50\.00 元/);
  assert.match(threshold.text, /TD/);
  await setAutoRenew(SUSPENDED.card, { enabled: true, rule: 'keep_fee' });
  const keepFee = await inbound({ from: SUSPENDED.from, text: 'ZD' });
  assert.match(keepFee.text, /自动续费已开通/);
  assert.notEqual(keepFee.text, threshold.text);
});

test('TD only asks; Y from the same phone within ten minutes turns auto-renewal off', async (t) => {
  t.after(() => setAutoRenew(SUSPENDED.card, { enabled: false }));
  await setAutoRenew(SUSPENDED.card, { enabled: true, rule: 'keep_fee' });
  const asked = await inbound({ from: SUSPENDED.from, text: 'TD' });
  assertReply(asked, 'TD');
  assert.match(asked.text, /回复 Y 确认/);
  assert.equal((await autoRenew(SUSPENDED.card)).enabled, true, 'TD alone changes nothing');
  /* Another phone's Y confirms nothing of this card. */
  const other = await inbound({ from: DEMO.active.msisdn, text: 'Y' });
  assert.match(other.text, /没有待确认的操作/);
  assert.equal((await autoRenew(SUSPENDED.card)).enabled, true);
  const done = await inbound({ from: SUSPENDED.from, text: '是' });
  assert.match(done.text, /自动续费已关闭/);
  const after = await autoRenew(SUSPENDED.card);
  assert.equal(after.enabled, false, 'Y turned it off');
  assert.equal(after.rule, 'keep_fee', 'the rule is kept for when it is turned on again');
  /* A second Y has nothing left to confirm; TD now has nothing to turn off. */
  assert.match((await inbound({ from: SUSPENDED.from, text: 'y' })).text, /没有待确认的操作/);
  assert.match((await inbound({ from: SUSPENDED.from, text: 'TD' })).text, /未开通，无需关闭/);
  assert.match((await inbound({ from: SUSPENDED.from, text: 'Y' })).text, /没有待确认的操作/);
});

test('a Y that comes after ten minutes confirms nothing', async (t) => {
  t.after(() => setAutoRenew(SUSPENDED.card, { enabled: false }));
  await setAutoRenew(SUSPENDED.card, { enabled: true, rule: 'keep_fee' });
  assert.match((await inbound({ from: SUSPENDED.from, text: 'TD' })).text, /回复 Y 确认/);
  const moved = await api(lebd, 'POST', '/api/v1/admin/clock', { token, body: { advance_s: 600 } });
  assertStatus(moved, 200, 'clock');
  assert.match((await inbound({ from: SUSPENDED.from, text: 'Y' })).text, /没有待确认的操作/);
  assert.equal((await autoRenew(SUSPENDED.card)).enabled, true, 'still on');
  /* Nine minutes is in time. */
  assert.match((await inbound({ from: SUSPENDED.from, text: 'TD' })).text, /回复 Y 确认/);
  assertStatus(await api(lebd, 'POST', '/api/v1/admin/clock', { token, body: { advance_s: 540 } }), 200);
  assert.match((await inbound({ from: SUSPENDED.from, text: 'Y' })).text, /自动续费已关闭/);
  assert.equal((await autoRenew(SUSPENDED.card)).enabled, false);
});

test('EN switches the card\'s SMS to English, ZW back to Chinese; replies follow at once', async (t) => {
  t.after(() => inbound({ from: SUSPENDED.from, text: 'ZW' }));
  const english = await inbound({ from: SUSPENDED.from, text: 'en' });
  assertReply(english, 'EN');
  assert.equal(english.text, 'SMS will now be sent in English. Send ZW for Chinese.');
  assert.equal(english.headers.get('x-kannel-coding'), null, 'English goes as GSM 7-bit');
  const balance = await inbound({ from: SUSPENDED.from, text: 'YE' });
  assert.match(balance.text, /^Balance /);
  assert.match((await inbound({ from: SUSPENDED.from, text: 'nonsense' })).text, /^Send YE balance/);
  assert.match((await inbound({ from: SUSPENDED.from, text: 'ZD' })).text, /^Auto-renewal is off/);
  /* The other demo card is untouched. */
  assert.match((await inbound({ text: 'YE' })).text, /^余额/);
  const chinese = await inbound({ from: SUSPENDED.from, text: '中文' });
  assert.equal(chinese.text, '短信将以中文发送。');
  assert.match((await inbound({ from: SUSPENDED.from, text: 'YE' })).text, /^余额/);
});

test('a sender without a card cannot confirm, switch language or ask for auto-renewal', async () => {
  for (const text of ['ZD', 'TD', 'Y', 'EN', 'ZW']) {
    const response = await inbound({ from: '+8613999999999', text });
    assertReply(response, text);
    assert.match(response.text, /未绑定保号卡/, `${text}: ${response.text}`);
  }
});
