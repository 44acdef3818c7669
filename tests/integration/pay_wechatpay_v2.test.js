'use strict';
/*
 * pay_wechatpay_v2.test.js - the WeChat Pay API v2 provider ("wechatpay_v2") against a
 * simulator of WeChat Pay's documented XML interface (tests/sim/wechatpay_v2.js): a NATIVE
 * order's code_url, notifications signed with MD5 and HMAC-SHA256 credited exactly once
 * whatever their number, order or timing, forged and XXE-bearing bodies refused, signed
 * messages for another merchant or amount held for review, a lost notification found by
 * polling, a late payment on an expired order, the refund of a payment for a recycled card,
 * and a half configuration that stops lebd.
 *
 * lebd runs in test mode: the clock moves with POST /api/v1/admin/clock and the jobs (expiry,
 * lifecycle, payment queries, refunds) run with POST /api/v1/admin/jobs/run. The scheduler's
 * own provider lane is slowed to an hour so that every query and refund here is one the test
 * asked for.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
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
  mapLimit,
  waitForOrderStatus,
  assertLedgerBalanced,
} = require('../lib/client');
const { startWechatV2Sim, toXml, beijingTime, post } = require('../sim/wechatpay_v2');

const QUERY_AFTER_S = 30;
const NOTIFY_PATH = '/api/v1/payments/wechatpay_v2/notify';
/* The answer WeChat Pay's documentation asks for, byte for byte. */
const SUCCESS_REPLY =
  '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';

let sim;
let lebd;
let token;
const keyDirs = [];

function keyDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wxv2-keys-'));
  keyDirs.push(dir);
  return dir;
}

function lebdEnv(extra = {}) {
  return {
    ...sim.lebdEnv(keyDir()),
    LEB_PAYMENTS_QUERY_AFTER_S: String(QUERY_AFTER_S),
    LEB_PAYMENTS_INTERVAL_S: '3600',
    ...extra,
  };
}

before(async () => {
  sim = await startWechatV2Sim();
  lebd = await startLebd({ testMode: true, env: lebdEnv() });
  token = await login(lebd);
});

after(async () => {
  if (lebd) await lebd.close();
  if (sim) await sim.close();
  for (const dir of keyDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function orderWx(instance, face = 5000, card = DEMO.active.card_no) {
  const order = await createOrderOk(instance, { card, face_amount: face, payment_method: 'wechatpay_v2' });
  assert.equal(order.status, 'pending_payment');
  return order;
}

async function balanceOf(instance = lebd, card = DEMO.active.card_no, tokenOf = token) {
  return (await getBalance(instance, card, tokenOf)).balance;
}

async function jobsRun(instance = lebd, tokenOf = token) {
  const response = await api(instance, 'POST', '/api/v1/admin/jobs/run', { body: {}, token: tokenOf });
  assertStatus(response, 200, 'jobs/run');
  return response.body;
}

async function advance(seconds, instance = lebd, tokenOf = token) {
  const response = await api(instance, 'POST', '/api/v1/admin/clock', {
    body: { advance_s: seconds },
    token: tokenOf,
  });
  assertStatus(response, 200, 'clock');
}

function assertAccepted(response, what = 'notification') {
  assert.equal(response.status, 200, `${what}: status`);
  assert.match(response.headers.get('content-type') || '', /^text\/xml/, `${what}: content type`);
  assert.equal(response.text, SUCCESS_REPLY, `${what}: the documented SUCCESS answer`);
}

function assertRefused(response, what) {
  assert.equal(response.status, 200, `${what}: status`);
  assert.match(response.headers.get('content-type') || '', /^text\/xml/, `${what}: content type`);
  assert.match(response.text, /^<xml><return_code><!\[CDATA\[FAIL\]\]><\/return_code>/, `${what}: FAIL`);
  assert.match(
    response.text,
    /<return_msg><!\[CDATA\[[^\]]+\]\]><\/return_msg><\/xml>$/,
    `${what}: a message`,
  );
}

async function assertStatusOf(orderNo, status, instance = lebd) {
  const read = await getOrder(instance, orderNo);
  assertStatus(read, 200);
  assert.equal(read.body.status, status, `order ${orderNo}`);
  return read.body;
}

test('an order gets its code_url from a correctly signed unifiedorder', async () => {
  const order = await orderWx(lebd, 10000);
  assert.equal(order.payment.provider, 'wechatpay_v2');
  assert.match(order.payment.pay_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
  assert.equal(order.payment.qr_text, order.payment.pay_url);

  const calls = sim.requestsTo('/pay/unifiedorder', order.order_no);
  assert.equal(calls.length, 1, 'one unifiedorder');
  const [call] = calls;
  assert.equal(call.signValid, true, 'the simulator verified the sign');
  const fields = call.fields;
  /* The sign again, by the documented recipe, independently of the simulator's check. */
  const stringA = Object.keys(fields)
    .filter((name) => name !== 'sign' && fields[name] !== '')
    .sort()
    .map((name) => `${name}=${fields[name]}`)
    .join('&');
  const expected = crypto
    .createHmac('sha256', sim.apiKey)
    .update(`${stringA}&key=${sim.apiKey}`)
    .digest('hex')
    .toUpperCase();
  assert.equal(fields.sign, expected, 'HMAC-SHA256 of stringSignTemp, upper case');
  assert.equal(fields.sign_type, 'HMAC-SHA256');
  assert.equal(fields.appid, sim.appid);
  assert.equal(fields.mch_id, sim.mchid);
  assert.equal(fields.trade_type, 'NATIVE');
  assert.equal(fields.out_trade_no, order.order_no);
  assert.equal(fields.product_id, order.order_no);
  assert.equal(fields.total_fee, String(order.pay_amount), 'total_fee in fen');
  assert.equal(fields.spbill_create_ip, '127.0.0.1');
  assert.equal(fields.notify_url, `${lebd.url}${NOTIFY_PATH}`);
  assert.equal(fields.time_expire, beijingTime(Date.parse(order.expires_at)), 'Beijing time');
  assert.match(fields.nonce_str, /^[0-9a-zA-Z]{1,32}$/);
  assert.ok(fields.body.length > 0 && fields.body.length <= 128, 'body');
  assert.match(call.raw, /^<xml>/, 'an <xml> document');

  /* The simulator refuses what is not signed right, as WeChat Pay does. */
  const forged = { ...fields, total_fee: '1' };
  const refused = await post(`${sim.url}/pay/unifiedorder`, toXml(forged));
  assert.match(
    refused.text,
    /<return_code><!\[CDATA\[FAIL\]\]><\/return_code><return_msg><!\[CDATA\[签名错误\]\]>/,
  );
});

test('an answer whose sign is wrong gives no code_url; the same order is prepared again later', async () => {
  for (const trick of ['badsign', 'return_fail', 'http500', 'notxml', 'SYSTEMERROR']) {
    sim.next['/pay/unifiedorder'] = trick;
    const key = `wxv2-${trick}-${crypto.randomBytes(4).toString('hex')}`;
    const body = { card: DEMO.active.card_no, face_amount: 5000, payment_method: 'wechatpay_v2' };
    const first = await api(lebd, 'POST', '/api/v1/orders', {
      body: { channel: 'web', ...body },
      headers: { 'Idempotency-Key': key },
      allow5xx: true,
    });
    assertError(first, 503, 'unavailable', trick);
    const again = await createOrder(lebd, body, key);
    assertStatus(again, 200, `${trick}: the replay`);
    assert.match(again.body.payment.pay_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/, trick);
    assert.notEqual(again.body.payment.pay_url, 'weixin://wxpay/bizpayurl?pr=forged');
  }
});

test('a valid notification, MD5 or HMAC-SHA256 signed, credits once; the documented answer', async () => {
  const variants = [
    { signType: 'HMAC-SHA256' },
    { signType: 'MD5' },
    /* sign_type absent: MD5 by the documentation... */
    { signType: 'MD5', omitSignType: true },
    /* ...and HMAC-SHA256 as WeChat Pay really sends it for an order placed with HMAC-SHA256. */
    { signType: 'HMAC-SHA256', omitSignType: true },
  ];
  for (const variant of variants) {
    const what = `${variant.signType}${variant.omitSignType ? ' without sign_type' : ''}`;
    const before_ = await balanceOf();
    const order = await orderWx(lebd, 5000);
    sim.pay(order.order_no);
    assertAccepted(await sim.notify(order.order_no, variant), what);
    const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
    assert.ok(done.credited_at, `${what}: credited`);
    assert.equal(await balanceOf(), before_ + 5000, `${what}: the balance rose once`);
    /* WeChat Pay sends again until it reads SUCCESS: the copy changes nothing. */
    assertAccepted(await sim.notify(order.order_no, variant), `${what}: again`);
    assert.equal(await balanceOf(), before_ + 5000, `${what}: still once`);
  }
  await assertLedgerBalanced(lebd, token);
});

test('replays, 10 concurrent copies and messages out of order credit once', async () => {
  const before_ = await balanceOf();
  const order = await orderWx(lebd, 10000);
  sim.pay(order.order_no);
  const { xml, url } = sim.notification(order.order_no);
  const copies = await mapLimit(Array.from({ length: 10 }), 10, () => post(url, xml));
  copies.forEach((copy, index) => {
    assert.ok(copy.ok, `copy ${index}: ${copy.error}`);
    assertAccepted(copy.value, `copy ${index}`);
  });
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 10000, 'credited once');
  /* Replays later, and the same payment signed the other way (a new nonce_str). */
  for (let i = 0; i < 3; i++) assertAccepted(await post(url, xml), `replay ${i}`);
  assertAccepted(await sim.notify(order.order_no, { signType: 'MD5' }), 'the MD5 copy');
  /* An older FAIL delivered after the SUCCESS: stale, ignored. */
  assertAccepted(await sim.notify(order.order_no, { resultCode: 'FAIL' }), 'a stale FAIL');
  await assertStatusOf(order.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 10000, 'still once');

  /* The other way round: FAIL first, then the SUCCESS: money paid is never dropped. */
  const second = await orderWx(lebd, 5000);
  assertAccepted(await sim.notify(second.order_no, { resultCode: 'FAIL' }), 'FAIL first');
  await waitForOrderStatus(lebd, second.order_no, 'failed');
  sim.pay(second.order_no);
  assertAccepted(await sim.notify(second.order_no), 'SUCCESS after FAIL');
  await waitForOrderStatus(lebd, second.order_no, 'succeeded');
  assert.equal(await balanceOf(), before_ + 15000, 'both orders credited once each');
  await assertLedgerBalanced(lebd, token);
});

test('forged, tampered, unsigned and DOCTYPE bodies are refused; nothing is credited', async () => {
  const before_ = await balanceOf();
  const order = await orderWx(lebd, 10000);
  sim.pay(order.order_no);
  const genuine = sim.notification(order.order_no);
  const withDoctype = (doctype, replace = (xml) => xml) =>
    `<?xml version="1.0"?>${doctype}${replace(genuine.xml)}`;
  const lowerSign = (xml) =>
    xml.replace(/<sign><!\[CDATA\[([0-9A-F]+)\]\]>/, (match, sign) => match.replace(sign, sign.toLowerCase()));
  const returnFail =
    '<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[x]]></return_msg></xml>';
  const forgeries = [
    ['one byte changed', { tamper: true }],
    ['signed with another key', { wrongKey: true }],
    ['sign missing', { dropSign: true }],
    [
      'an MD5 sign called HMAC-SHA256',
      { signType: 'MD5', tamper: (xml) => xml.replace('[MD5]', '[HMAC-SHA256]') },
    ],
    ['the sign in lower case', { tamper: lowerSign }],
    ['an unknown sign_type', { extra: { sign_type: 'SHA1' } }],
    ['return_code FAIL', { body: returnFail }],
    ['not XML', { body: '{"return_code":"SUCCESS"}' }],
    ['empty', { body: '' }],
    /* Signed, but stale: WeChat Pay's resends stop within a day of the payment. */
    ['paid 27 hours ago', { timeEnd: beijingTime(Date.now() - 27 * 3600 * 1000) }],
    ['paid 10 minutes in the future', { timeEnd: beijingTime(Date.now() + 600 * 1000) }],
    ['time_end not a time', { timeEnd: '20261340990000' }],
    /* A correctly signed body that only verifies if its entity is expanded. */
    [
      'an internal entity',
      {
        body: withDoctype('<!DOCTYPE xml [<!ENTITY ok "SUCCESS">]>', (xml) =>
          xml.replace('<return_code><![CDATA[SUCCESS]]></return_code>', '<return_code>&ok;</return_code>'),
        ),
      },
    ],
    [
      'an external entity (XXE)',
      {
        body: withDoctype('<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', (xml) =>
          xml.replace('<trade_type>', '<attach>&xxe;</attach><trade_type>'),
        ),
      },
    ],
    [
      'billion laughs',
      {
        body: withDoctype(
          '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">' +
            '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
          (xml) => xml.replace('<trade_type>', '<attach>&d;</attach><trade_type>'),
        ),
      },
    ],
    ['a DOCTYPE alone, the body signed right', { body: withDoctype('<!DOCTYPE xml>') }],
    [
      'an undeclared entity',
      { body: genuine.xml.replace('<trade_type>', '<attach>&xxe;</attach><trade_type>') },
    ],
  ];
  for (const [what, options] of forgeries) {
    assertRefused(await sim.notify(order.order_no, options), what);
  }
  await assertStatusOf(order.order_no, 'pending_payment');
  assert.equal(await balanceOf(), before_, 'nothing credited by forgeries');

  /* The genuine one still works, once, even as a resend a day after the payment. */
  const late = sim.notification(order.order_no, { timeEnd: beijingTime(Date.now() - 24 * 3600 * 1000) });
  assertAccepted(await post(late.url, late.xml), 'the genuine notification, a day late');
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assertAccepted(await post(genuine.url, genuine.xml), 'the genuine notification again');
  assert.equal(await balanceOf(), before_ + 10000);
  await assertLedgerBalanced(lebd, token);
});

test('signed but for another appid, mch_id or amount: accepted, held for review, not credited', async () => {
  const before_ = await balanceOf();
  const cases = [
    ['another appid', { appid: `wx${crypto.randomBytes(8).toString('hex')}` }],
    ['another mch_id', { mchId: '1900000109' }],
    ['a swapped total_fee', { totalFee: 10000 }],
    ['another currency', { extra: { fee_type: 'USD' } }],
  ];
  for (const [what, options] of cases) {
    const order = await orderWx(lebd, 5000);
    sim.pay(order.order_no);
    assertAccepted(await sim.notify(order.order_no, options), what);
    const review = await waitForOrderStatus(lebd, order.order_no, 'review');
    assert.equal(review.credited_at, null, `${what}: not credited`);
  }
  assert.equal(await balanceOf(), before_, 'nothing credited');

  /* A notification for an order LEB never made is recorded and acknowledged. */
  const metric = async () =>
    metricValue(await getMetrics(lebd), 'leb_notifications_total', { outcome: 'unknown_order' }) || 0;
  const unknownBefore = await metric();
  assertAccepted(
    await sim.notify('LEB20990101T000000R0000000000', { totalFee: 5000, url: `${lebd.url}${NOTIFY_PATH}` }),
    'an unknown out_trade_no',
  );
  assert.equal(await metric(), unknownBefore + 1, 'recorded as unknown_order');
  assert.ok(
    lebd.logs.some((line) => line.includes('"outcome":"unknown_order"') && line.includes('wechatpay_v2')),
    'logged as unknown_order',
  );
  await assertLedgerBalanced(lebd, token);
});

test('a lost notification is recovered by polling, exactly once', async () => {
  const before_ = await balanceOf();
  const order = await orderWx(lebd, 20000);
  /* Not paid yet: the query says NOTPAY and nothing happens. */
  await advance(QUERY_AFTER_S + 1);
  await jobsRun();
  await assertStatusOf(order.order_no, 'pending_payment');
  const queriesBefore = sim.requestsTo('/pay/orderquery', order.order_no).length;
  assert.ok(queriesBefore >= 1, 'asked once while unpaid');

  sim.pay(order.order_no); /* ...and the notification is lost */
  await advance(4 * QUERY_AFTER_S);
  const run = await jobsRun();
  assert.ok(run.payments.found >= 1, `jobs/run found it: ${JSON.stringify(run.payments)}`);
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.credited_at);
  assert.equal(await balanceOf(), before_ + 20000, 'credited once');
  const queries = sim.requestsTo('/pay/orderquery', order.order_no);
  assert.equal(queries.length, queriesBefore + 1, 'one query found it');
  assert.ok(queries.every((query) => query.signValid && query.fields.sign_type === 'HMAC-SHA256'));

  /* Nothing asks again, and the notification arriving at last is a duplicate. */
  await advance(10 * QUERY_AFTER_S);
  await jobsRun();
  const queriesAfter = sim.requestsTo('/pay/orderquery', order.order_no).length;
  assert.equal(queriesAfter, queriesBefore + 1, 'no more queries');
  assertAccepted(await sim.notify(order.order_no), 'the late notification');
  assert.equal(await balanceOf(), before_ + 20000, 'still once');
  await assertLedgerBalanced(lebd, token);
});

test('a late payment on an expired order is credited', async () => {
  const before_ = await balanceOf();
  const order = await orderWx(lebd, 5000);
  const ttl_s = Math.round((Date.parse(order.expires_at) - Date.parse(order.created_at)) / 1000);
  await advance(ttl_s + 60);
  const run = await jobsRun();
  assert.ok(run.expired_orders >= 1, `expired: ${JSON.stringify(run)}`);
  await assertStatusOf(order.order_no, 'expired');

  sim.pay(order.order_no);
  assertAccepted(await sim.notify(order.order_no, { signType: 'MD5' }), 'a late payment');
  const done = await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  assert.ok(done.credited_at);
  assert.equal(await balanceOf(), before_ + 5000);
  await assertLedgerBalanced(lebd, token);
});

test('the API key is in no log line', () => {
  const logs = lebd.logs.join('\n');
  assert.ok(!logs.includes(sim.apiKey), 'the API key leaked into the logs');
  assert.ok(logs.includes('wechatpay_v2'), 'the provider is named in the logs');
});

test('a payment for a card recycled meanwhile is refunded through WeChat Pay, once', async (t) => {
  const own = await startLebd({ t, testMode: true, env: lebdEnv() });
  const ownToken = await login(own);
  const card = DEMO.suspended.card_no;
  const order = await orderWx(own, 5000, card);

  /* Grace of 90 days: 91 later the card is recycled and the unpaid order has expired. */
  await advance(91 * 86400 + 3600, own, ownToken);
  const run = await jobsRun(own, ownToken);
  assert.ok(run.lifecycle.recycled >= 1, `recycled: ${JSON.stringify(run.lifecycle)}`);
  assert.equal((await getBalance(own, card, ownToken)).status, 'recycled');
  await assertStatusOf(order.order_no, 'expired', own);

  /* The payer paid anyway (a QR code scanned long ago): the money must go back. */
  sim.pay(order.order_no);
  assertAccepted(await sim.notify(order.order_no), 'the payment of a recycled card');
  await waitForOrderStatus(own, order.order_no, 'refunding');

  const refundRun = await jobsRun(own, ownToken);
  assert.equal(refundRun.payments.refunded, 1, `refunded: ${JSON.stringify(refundRun.payments)}`);
  await assertStatusOf(order.order_no, 'refunded', own);
  const refundNo = `R${order.order_no}`;
  const refund = sim.refunds.get(refundNo);
  assert.ok(refund, `the simulator refunded ${refundNo}`);
  assert.equal(refund.calls, 1, 'asked once');
  assert.equal(refund.refund_fee, order.pay_amount);
  assert.equal(refund.total_fee, order.pay_amount);
  const calls = sim.requestsTo('/secapi/pay/refund', order.order_no);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].signValid, true);
  assert.equal(calls[0].fields.out_refund_no, refundNo);
  assert.equal(calls[0].fields.sign_type, 'HMAC-SHA256');

  /* Nothing more to do: no second refund, whatever runs. */
  await advance(3600, own, ownToken);
  await jobsRun(own, ownToken);
  assert.equal(sim.requestsTo('/secapi/pay/refund', order.order_no).length, 1, 'no second refund');
  assertAccepted(await sim.notify(order.order_no), 'the payment notified again');
  await assertStatusOf(order.order_no, 'refunded', own);
  await assertLedgerBalanced(own, ownToken);
});

test('nothing configured: off; half configured: lebd stops, naming the key, never the secret', async (t) => {
  const off = await startLebd({ t });
  const refused = await createOrder(off, {
    card: DEMO.active.card_no,
    face_amount: 5000,
    payment_method: 'wechatpay_v2',
  });
  assertError(refused, 422, 'payment_method_unavailable', 'provider off');
  const notify = await api(off, 'POST', NOTIFY_PATH, {
    raw: Buffer.from('<xml></xml>'),
    headers: { 'content-type': 'text/xml' },
  });
  assert.equal(notify.status, 404, 'no notify route for a provider that is off');

  async function startFails(env) {
    let error = null;
    try {
      const instance = await startLebd({ env, allowNonZero: true });
      await instance.close();
    } catch (caught) {
      error = caught;
    }
    assert.ok(error, `lebd must refuse to start with ${Object.keys(env).join(', ')}`);
    return error.message;
  }
  const full = sim.lebdEnv(keyDir());
  const cases = [
    [
      { LEB_WECHATPAY_V2_APPID: full.LEB_WECHATPAY_V2_APPID, LEB_WECHATPAY_V2_MCH_ID: full.LEB_WECHATPAY_V2_MCH_ID },
      'api_key_file',
    ],
    [{ ...full, LEB_WECHATPAY_V2_APPID: null }, 'appid'],
    [{ ...full, LEB_WECHATPAY_V2_BASE_URL: null }, 'base_url'],
    [{ LEB_WECHATPAY_V2_API_KEY_FILE: full.LEB_WECHATPAY_V2_API_KEY_FILE }, 'appid'],
  ];
  for (const [env, key] of cases) {
    const message = await startFails(env);
    assert.ok(message.includes(`[wechatpay_v2] ${key} is not set`), `names ${key}: ${message}`);
    assert.ok(!message.includes(sim.apiKey), 'the API key is not in the message');
  }
  /* A key file that does not hold a 32-character key: refused without quoting it. */
  const dir = keyDir();
  const badKey = `${sim.apiKey.slice(0, 31)}!`;
  fs.writeFileSync(path.join(dir, 'bad_key'), `${badKey}\n`, { mode: 0o600 });
  const message = await startFails({ ...full, LEB_WECHATPAY_V2_API_KEY_FILE: path.join(dir, 'bad_key') });
  assert.ok(message.includes('[wechatpay_v2] api_key_file must hold'), message);
  assert.ok(!message.includes(badKey) && !message.includes(badKey.slice(0, 31)), 'the key is not quoted');
  /* The refund's client certificate comes with its key, or not at all. */
  const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  fs.writeFileSync(path.join(dir, 'cert.pem'), pem, { mode: 0o600 });
  const half = await startFails({ ...full, LEB_WECHATPAY_V2_CERT_FILE: path.join(dir, 'cert.pem') });
  assert.ok(half.includes('[wechatpay_v2] cert_file and key_file go together'), half);
});
