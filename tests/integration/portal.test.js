'use strict';
/*
 * portal.test.js - the cardholder's self-service portal: a one-time code sent by SMS to the
 * card's phone number opens a session on that one card (POST /api/v1/portal/otp, then
 * POST /api/v1/portal/session), and the session sees and changes that card and nothing else.
 *
 * lebd runs in --test-mode (the per-number limits and the code's five minutes use the
 * business clock, moved with POST /api/v1/admin/clock) and sends its SMS through a recording
 * stand-in of Kannel's sendsms interface: the code is read where the cardholder would read it,
 * in the text the gateway received. The lifecycle and order expiry jobs are held back, so that
 * moving the clock changes nothing but the codes.
 *
 * The demo cards (API.md): ACTIVE is the one logged in to; OTHER (suspended) is the card that
 * a portal session must never read or change.
 */

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrderOk,
  getOrder,
  login,
  luhnCardNo,
  notify,
  pollUntil,
  waitForOrderStatus,
} = require('../lib/client');

const ACTIVE = DEMO.active; /* 8986010000000000018, +8613800000001 */
const OTHER = DEMO.suspended; /* 8986010000000000026, +8613800000002 */
const RECYCLED = DEMO.recycled; /* 8986010000000000034, +8613800000003 */
const NO_CARD = '+8613900000009'; /* a valid number that holds no card */

/* src/core/portal.h */
const CODE_TTL_S = 300;
const RESEND_S = 60;
const SENDS_PER_HOUR = 5;
const TRIES_MAX = 5;

/* A number as typed with full-width characters: "13800000001" -> "１３８０００００００１". */
function fullWidth(text) {
  return text.replace(/[0-9+-]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
}

/* Every spelling of the other card's number that a route might accept. */
const OTHER_NUMBERS = [
  OTHER.card_no,
  '8986 0100 0000 0000 026',
  '8986-0100-0000-0000-026',
  fullWidth(OTHER.card_no),
  OTHER.msisdn,
  '13800000002',
  '8613800000002',
  '+86 138-0000-0002',
  '138 0000 0002',
  fullWidth('13800000002'),
];

/* ------------------------------------------------------------------------------------------
 * Helpers: lebd with a recording gateway, codes, sessions
 * ---------------------------------------------------------------------------------------- */

/* A sendsms stand-in: records every request and answers 202 "0: Accepted for delivery" as
 * Kannel does, or 503 to the next "refuse" requests. */
async function startGateway(t) {
  const gateway = { requests: [], refuse: 0 };
  const server = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://gateway');
    gateway.requests.push({ path: url.pathname, query: Object.fromEntries(url.searchParams) });
    if (gateway.refuse > 0) {
      gateway.refuse--;
      response.writeHead(503).end('Service unavailable');
      return;
    }
    response.writeHead(202, { 'content-type': 'text/plain' }).end('0: Accepted for delivery');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  gateway.url = `http://127.0.0.1:${server.address().port}/cgi-bin/sendsms`;
  /* The requests that went to one E.164 number, oldest first. */
  gateway.to = (msisdn) => gateway.requests.filter((request) => request.query.to === msisdn);
  return gateway;
}

/*
 * Starts a gateway and lebd (test mode, SMS through the gateway, dispatched every second) and
 * logs in as the admin. "env" is added to lebd's environment. Resolves to the context every
 * helper below takes: { lebd, gateway, admin }.
 */
async function startPortal(t, env = {}) {
  const gateway = await startGateway(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leb-portal-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const passwordFile = path.join(dir, 'password');
  fs.writeFileSync(passwordFile, 'gateway-secret\n');
  const lebd = await startLebd({
    t,
    testMode: true,
    env: {
      LEB_SMS_SENDSMS_URL: gateway.url,
      LEB_SMS_USERNAME: 'leb',
      LEB_SMS_PASSWORD_FILE: passwordFile,
      LEB_SMS_SENDER: '10690000',
      LEB_OUTBOX_INTERVAL_S: '1',
      LEB_LIFECYCLE_INTERVAL_S: '86400',
      LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
      /* Most tests ask many codes from one address; the per-client limit has its own test. */
      LEB_LIMITS_PORTAL_CODES_PER_CLIENT_PER_HOUR: '1000',
      ...env,
    },
  });
  const admin = await login(lebd);
  return { lebd, gateway, admin };
}

/* A login_code SMS, in either language (a top-up's SMS may go out meanwhile). */
function isLoginCode(sms) {
  return /验证码|login code/.test(sms.query.text || '');
}

/* The one 6-digit run in an SMS text (the masked card "8986***********0018" has none). */
function codeOf(text) {
  const runs = [...String(text).matchAll(/(?<!\d)(\d{6})(?!\d)/g)].map((match) => match[1]);
  assert.equal(runs.length, 1, `exactly one 6-digit code in the SMS: ${text}`);
  return runs[0];
}

/* A 6-digit code other than "code". */
function wrongCode(code, offset = 1) {
  return String((Number(code) + offset) % 1000000).padStart(6, '0');
}

/* POST /api/v1/portal/otp; resolves to the api() response (the caller asserts). */
function askCode(ctx, phone) {
  return api(ctx.lebd, 'POST', '/api/v1/portal/otp', { body: { phone } });
}

function assertCodeAccepted(response, what = 'code request') {
  assertStatus(response, 202, what);
  assert.deepEqual(response.body, { status: 'sent', expires_in_s: 300, resend_after_s: 60 }, what);
}

/*
 * Asks a code for "phone" (as typed) and waits for its SMS at the gateway, sent to "msisdn"
 * (E.164). Resolves to { code, text, coding, sms }.
 */
async function requestCode(ctx, phone, msisdn = ACTIVE.msisdn) {
  const before = ctx.gateway.to(msisdn).length;
  assertCodeAccepted(await askCode(ctx, phone), `code for ${phone}`);
  const sms = await pollUntil(() => ctx.gateway.to(msisdn).slice(before).find(isLoginCode), {
    timeout_ms: 10000,
    what: `the login code SMS to ${msisdn}`,
  });
  return { code: codeOf(sms.query.text), text: sms.query.text, coding: sms.query.coding, sms };
}

/* POST /api/v1/portal/session; resolves to the api() response. */
function trySession(ctx, phone, code) {
  return api(ctx.lebd, 'POST', '/api/v1/portal/session', { body: { phone, code } });
}

/* Opens a session with "code" and asserts the 201; resolves to its body. */
async function openSession(ctx, phone, code, card = ACTIVE) {
  const response = await trySession(ctx, phone, code);
  assertStatus(response, 201, `session for ${phone}`);
  const session = response.body;
  assert.equal(typeof session.token, 'string');
  assert.ok(session.token.length >= 16, 'a token worth the name');
  assert.equal(session.role, 'portal');
  assert.match(session.expires_at, RFC3339_UTC);
  assert.ok(Date.parse(session.expires_at) > Date.now(), 'the session expires in the future');
  assert.equal(session.card_no, card.card_no);
  assert.equal(session.card_no_masked, maskCard(card.card_no));
  return session;
}

/* Asks a code for the number, reads it from the gateway and opens a session: the token. */
async function loginPortal(ctx, card = ACTIVE) {
  const { code } = await requestCode(ctx, card.msisdn, card.msisdn);
  return (await openSession(ctx, card.msisdn, code, card)).token;
}

function maskCard(cardNo) {
  return `${cardNo.slice(0, 4)}${'*'.repeat(cardNo.length - 8)}${cardNo.slice(-4)}`;
}

/* Moves the business clock forward. */
async function advance(ctx, seconds) {
  const response = await api(ctx.lebd, 'POST', '/api/v1/admin/clock', {
    body: { advance_s: seconds },
    token: ctx.admin,
  });
  assertStatus(response, 200, `advance the clock ${seconds} s`);
}

function retryAfter(response) {
  const value = response.headers.get('retry-after');
  assert.match(String(value), /^\d+$/, `Retry-After in seconds, got ${value}`);
  return Number(value);
}

/* The status each error code of the contract comes with. */
const ERROR_STATUS = {
  invalid_code: 401,
  unauthorized: 401,
  too_many_attempts: 429,
  rate_limited: 429,
  invalid_request: 400,
  invalid_phone_number: 400,
  invalid_json: 400,
  forbidden: 403,
};

/* Awaits "pending" (an api() call) and asserts the error "code" with its status. */
async function refused(pending, code, what = '') {
  const response = await pending;
  assertError(response, ERROR_STATUS[code], code, what);
  return response;
}

/* A 429 rate_limited whose Retry-After lies within [min, max]; resolves to the seconds. */
function assertRateLimited(response, min, max, what) {
  assertError(response, 429, 'rate_limited', what);
  const seconds = retryAfter(response);
  assert.ok(
    seconds >= min && seconds <= max,
    `${what}: Retry-After ${seconds} not in [${min}, ${max}]`,
  );
  return seconds;
}

/* A sandbox top-up of "card", paid and credited; resolves to the order as created. */
async function topUp(ctx, card, face) {
  const order = await createOrderOk(ctx.lebd, {
    card,
    face_amount: face,
    channel: 'web',
    payment_method: 'sandbox',
  });
  const paid = await notify(ctx.lebd, {
    order_no: order.order_no,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertStatus(paid, 200, 'sandbox notification');
  await waitForOrderStatus(ctx.lebd, order.order_no, 'succeeded');
  return order;
}

/* The operators' views of one card: the full view (the balance route) and its auto-renewal. */
async function adminViews(ctx, number) {
  const encoded = encodeURIComponent(number);
  const card = await api(ctx.lebd, 'GET', `/api/v1/cards/${encoded}/balance`, {
    token: ctx.admin,
  });
  assertStatus(card, 200, `admin view of ${number}`);
  const autoRenew = await api(ctx.lebd, 'GET', `/api/v1/admin/cards/${encoded}/auto-renew`, {
    token: ctx.admin,
  });
  assertStatus(autoRenew, 200, `admin auto-renew of ${number}`);
  return { card: card.body, autoRenew: autoRenew.body };
}

async function smsOutbox(ctx, destination) {
  const response = await api(
    ctx.lebd,
    'GET',
    `/api/v1/admin/outbox?kind=sms&destination=${encodeURIComponent(destination)}&limit=1000`,
    { token: ctx.admin },
  );
  assertStatus(response, 200, 'outbox');
  return response.body.messages;
}

/* The reply lebd gives to an SMS "text" from "from" (Kannel's sms-service get-url). */
async function smsReply(ctx, from, text) {
  const query = new URLSearchParams({ key: ctx.lebd.smsKey, from, to: '10690000', text });
  const response = await api(ctx.lebd, 'GET', `/api/v1/sms/inbound?${query}`);
  assertStatus(response, 200, `SMS ${text} from ${from}`);
  return response;
}

const CJK = /[\u4e00-\u9fff]/;

/* The tests are independent (each has its own lebd and gateway) and mostly wait for the
 * dispatcher's one-second passes: a few at a time keep the file short. */
describe('the self-service portal', { concurrency: 4 }, () => {
  /* ------------------------------------------------------------------------------------------
   * Log-in
   * ---------------------------------------------------------------------------------------- */

  test('a code sent by SMS opens a session on the card of that number, however it is spelt', async (t) => {
    const ctx = await startPortal(t);
    const { code, text, coding, sms } = await requestCode(ctx, '13800000001');
    assert.equal(sms.path, '/cgi-bin/sendsms');
    assert.equal(sms.query.from, '10690000');
    assert.equal(coding, '2', 'the Chinese login code goes as UCS-2');
    assert.match(text, /验证码/);
    assert.match(text, /5分钟/);
    assert.ok(
      text.includes(maskCard(ACTIVE.card_no)),
      `the masked card names the account: ${text}`,
    );
    assert.ok(!text.includes(ACTIVE.card_no), 'never the full card number');

    /* Another spelling of the same number opens the session. */
    const session = await openSession(ctx, '+86 138-0000-0001', code);
    const lifetime_s = (Date.parse(session.expires_at) - Date.now()) / 1000;
    assert.ok(
      lifetime_s > 1700 && lifetime_s <= 1801,
      `a session lives half an hour: ${lifetime_s} s`,
    );
    const card = await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token: session.token });
    assertStatus(card, 200, 'portal card');
    assert.equal(card.body.card_no, ACTIVE.card_no);
    assert.equal(card.body.msisdn, ACTIVE.msisdn);
    assert.equal(card.body.status, 'active');
    assert.ok(Number.isSafeInteger(card.body.balance));
    assert.equal(card.body.currency, 'CNY');
    /* A monthly-fee plan has a billing day and no validity. */
    assert.equal(card.body.valid_until, null);
    assert.match(card.body.next_billing_at, RFC3339_UTC);
    assert.equal(card.body.language, 'zh-CN');
    assert.equal(card.body.rechargeable, true);
    assert.deepEqual(
      {
        code: card.body.plan.code,
        currency: card.body.plan.currency,
        model: card.body.plan.model,
        monthly_fee: card.body.plan.monthly_fee,
      },
      { code: 'KEEP8', currency: 'CNY', model: 'monthly_fee', monthly_fee: 800 },
    );
    assert.equal(typeof card.body.plan.name, 'string');
    /* What an auto-renewal may top up, without another look-up. */
    assert.deepEqual(card.body.plan.denominations, [5000, 10000, 20000]);
    assert.equal(card.body.plan.min_amount, 1000);
    assert.equal(card.body.plan.max_amount, 50000);
    /* The portal's view agrees with the operators' view of the same card. */
    const operators = await adminViews(ctx, ACTIVE.card_no);
    for (const field of [
      'card_no',
      'msisdn',
      'status',
      'balance',
      'currency',
      'valid_until',
      'next_billing_at',
    ]) {
      assert.deepEqual(card.body[field], operators.card[field], field);
    }

    /* A minute later, a new code for another spelling of the number. */
    await advance(ctx, RESEND_S);
    const again = await requestCode(ctx, '+86 138 0000 0001');
    await openSession(ctx, '138-0000-0001', again.code);
  });

  /* A full-width digit takes 3 bytes in UTF-8: the number as typed is bounded in characters a
   * person types, not in bytes (this once refused every full-width number as too long). */
  test('a phone number typed in full-width digits asks a code and opens a session', async (t) => {
    const ctx = await startPortal(t);
    const spellings = [
      fullWidth('13800000001'),
      fullWidth('+86 138-0000-0001'),
      fullWidth('+86 138 0000 0001'),
    ];
    for (const [i, phone] of spellings.entries()) {
      const { code } = await requestCode(ctx, phone);
      await openSession(ctx, spellings[(i + 1) % spellings.length], code);
      await advance(ctx, RESEND_S);
    }
  });

  test('asking a code answers the same whether or not a card holds the number', async (t) => {
    const ctx = await startPortal(t);
    const withCard = await askCode(ctx, ACTIVE.msisdn);
    const withoutCard = await askCode(ctx, NO_CARD);
    const recycled = await askCode(ctx, RECYCLED.msisdn);
    for (const [what, response] of [
      ['with card', withCard],
      ['without card', withoutCard],
      ['recycled', recycled],
    ]) {
      assertCodeAccepted(response, what);
      assert.equal(response.text, withCard.text, `${what}: the same bytes`);
      assert.equal(response.headers.get('content-type'), withCard.headers.get('content-type'));
      assert.equal(response.headers.get('retry-after'), null);
    }
    await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn).length === 1, {
      timeout_ms: 10000,
      what: 'the SMS',
    });
    /* Give the dispatcher two more passes: nothing may go to the numbers without a live card. */
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(ctx.gateway.to(NO_CARD).length, 0, 'no SMS to a number without a card');
    assert.equal(ctx.gateway.to(RECYCLED.msisdn).length, 0, 'no SMS to a recycled card');
    assert.equal((await smsOutbox(ctx, NO_CARD)).length, 0, 'nothing in the outbox for it');
    assert.equal((await smsOutbox(ctx, RECYCLED.msisdn)).length, 0, 'nothing in the outbox for it');

    /* Asked again within the minute: the same 429 for all three. */
    const limited = [];
    for (const number of [ACTIVE.msisdn, NO_CARD, RECYCLED.msisdn]) {
      const response = await askCode(ctx, number);
      limited.push(assertRateLimited(response, 1, RESEND_S, `again for ${number}`));
    }
    assert.ok(Math.max(...limited) - Math.min(...limited) <= 1, `the same Retry-After: ${limited}`);

    /* No code opens anything on a number without a live card: always 401 invalid_code. */
    for (const number of [NO_CARD, RECYCLED.msisdn, '+8613900000008']) {
      for (const code of ['000000', '123456', '999999']) {
        await refused(trySession(ctx, number, code), 'invalid_code', `${number} ${code}`);
      }
    }
  });

  test('bad code requests and bad session requests are refused, and use no try', async (t) => {
    const ctx = await startPortal(t);
    const cases = [
      [{ phone: '12345' }, 400, 'invalid_phone_number'],
      [{ phone: 'abcdefghijk' }, 400, 'invalid_phone_number'],
      [{ phone: '' }, 400, 'invalid_phone_number'],
      [{ phone: '+86 138 0000 0001 0001' }, 400, 'invalid_phone_number'],
      [{ phone: 13800000001 }, 400, 'invalid_request'],
      [{}, 400, 'invalid_request'],
      [{ phone: '13800000001', card: ACTIVE.card_no }, 400, 'invalid_request'],
      [{ phone: '13800000001', language: 'en' }, 400, 'invalid_request'],
      [{ phone: 'x'.repeat(5000) }, 400, null],
    ];
    for (const [body, status, code] of cases) {
      const response = await api(ctx.lebd, 'POST', '/api/v1/portal/otp', { body });
      if (code) assertError(response, status, code, JSON.stringify(body).slice(0, 60));
      else assert.equal(response.status, status, response.text);
    }
    assertError(
      await api(ctx.lebd, 'POST', '/api/v1/portal/otp', { raw: '{"phone": "13800000001"' }),
      400,
      'invalid_json',
      'truncated JSON',
    );
    assertError(
      await api(ctx.lebd, 'POST', '/api/v1/portal/otp', { raw: 'phone=13800000001' }),
      400,
      'invalid_json',
      'a form body',
    );
    const wrongType = await api(ctx.lebd, 'POST', '/api/v1/portal/otp', {
      raw: JSON.stringify({ phone: '13800000001' }),
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415, wrongType.text);
    assert.equal((await api(ctx.lebd, 'GET', '/api/v1/portal/otp')).status, 405);
    /* None of that sent anything or counted against the number. */
    const { code } = await requestCode(ctx, ACTIVE.msisdn);
    assert.equal(ctx.gateway.requests.length, 1);

    /* A code that is not 6 digits is a bad request, not a try: the right code still works
     * after more bad ones than there are tries. */
    const badSessions = [
      { phone: ACTIVE.msisdn, code: '12345' },
      { phone: ACTIVE.msisdn, code: '1234567' },
      { phone: ACTIVE.msisdn, code: 'abcdef' },
      { phone: ACTIVE.msisdn, code: ' 12345' },
      { phone: ACTIVE.msisdn, code: '' },
      { phone: ACTIVE.msisdn, code: '１２３４５６' },
      { phone: ACTIVE.msisdn, code: Number(code) },
      { phone: ACTIVE.msisdn },
      { code },
      { phone: ACTIVE.msisdn, code, card_no: ACTIVE.card_no },
    ];
    for (const body of badSessions) {
      const response = await api(ctx.lebd, 'POST', '/api/v1/portal/session', { body });
      assertError(response, 400, 'invalid_request', JSON.stringify(body));
    }
    await refused(trySession(ctx, '12345', code), 'invalid_phone_number', 'bad phone');
    assertError(
      await api(ctx.lebd, 'POST', '/api/v1/portal/session', { raw: '{"phone":' }),
      400,
      'invalid_json',
      'session: truncated JSON',
    );
    const sessionWrongType = await api(ctx.lebd, 'POST', '/api/v1/portal/session', {
      raw: JSON.stringify({ phone: ACTIVE.msisdn, code }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(sessionWrongType.status, 415, sessionWrongType.text);
    await openSession(ctx, ACTIVE.msisdn, code);
  });

  test('a number gets a new code at most once a minute and five an hour, on the business clock, card or not', async (t) => {
    const ctx = await startPortal(t);
    /* The card's number and a number without a card go through the same steps side by side
     * and must get the same answers. */
    const numbers = [ACTIVE.msisdn, NO_CARD];
    const both = async (what, check) => {
      const answers = [];
      for (const number of numbers) {
        answers.push(await check(await askCode(ctx, number), `${what} (${number})`));
      }
      return answers;
    };

    await both('first code', (response, what) => assertCodeAccepted(response, what));
    const first = await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn)[0], {
      timeout_ms: 10000,
      what: 'code 1',
    });
    /* Within the minute, in any spelling: 429 with the seconds left. */
    const early = await both('within the minute', (response, what) =>
      assertRateLimited(response, 1, RESEND_S, what),
    );
    const respelt = await askCode(ctx, '86-138-0000-0001');
    assertRateLimited(respelt, 1, RESEND_S, 'the same number spelt otherwise');
    await advance(ctx, 30);
    const later = await both('half a minute on', (response, what) =>
      assertRateLimited(response, 1, RESEND_S - 29, what),
    );
    assert.ok(
      later[0] <= early[0] - 29,
      `Retry-After counts down on the business clock: ${early} then ${later}`,
    );
    await advance(ctx, 30);

    /* Sends 2 to 5 of the hour, a minute apart. */
    for (let send = 2; send <= SENDS_PER_HOUR; send++) {
      await both(`code ${send}`, (response, what) => assertCodeAccepted(response, what));
      await advance(ctx, RESEND_S);
    }
    await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn).length === SENDS_PER_HOUR, {
      timeout_ms: 10000,
      what: 'five SMS',
    });
    /* The sixth within the hour: 429 until an hour after the first (sent 60 + 4 x 60 s ago). */
    const elapsed = RESEND_S * SENDS_PER_HOUR;
    const hourly = await both('sixth code of the hour', (response, what) =>
      assertRateLimited(response, 3600 - elapsed - 30, 3600 - elapsed + 1, what),
    );
    assert.ok(Math.abs(hourly[0] - hourly[1]) <= 1, `the same Retry-After, card or not: ${hourly}`);
    await advance(ctx, 3600 - elapsed - 120);
    await both('still within the hour', (response, what) =>
      assertRateLimited(response, 1, 125, what),
    );
    await advance(ctx, 125);
    await both('the next hour', (response, what) => assertCodeAccepted(response, what));
    await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn).length === SENDS_PER_HOUR + 1, {
      timeout_ms: 10000,
      what: 'the sixth SMS',
    });
    assert.equal(ctx.gateway.to(NO_CARD).length, 0, 'never an SMS to the number without a card');
    /* The newest code is the one that works; the first one is gone. */
    const newest = codeOf(ctx.gateway.to(ACTIVE.msisdn)[SENDS_PER_HOUR].query.text);
    const firstCode = codeOf(first.query.text);
    if (firstCode !== newest) {
      await refused(trySession(ctx, ACTIVE.msisdn, firstCode), 'invalid_code', 'a replaced code');
    }
    await openSession(ctx, ACTIVE.msisdn, newest);
  });

  /* The number's limits live in its challenge row (created_at, window_start, sends): a log-in
   * uses the code up but keeps the row, so the limits are the number's, not the code's (a
   * log-in once deleted the row and with it the hourly count). */
  test("a successful log-in does not reset the number's limits", async (t) => {
    const ctx = await startPortal(t);
    const first = await requestCode(ctx, ACTIVE.msisdn);
    await openSession(ctx, ACTIVE.msisdn, first.code);
    assertRateLimited(
      await askCode(ctx, ACTIVE.msisdn),
      1,
      RESEND_S,
      'a new code right after logging in',
    );
    /* Five codes an hour, logging in with each. */
    for (let send = 2; send <= SENDS_PER_HOUR; send++) {
      await advance(ctx, RESEND_S);
      const { code } = await requestCode(ctx, ACTIVE.msisdn);
      await openSession(ctx, ACTIVE.msisdn, code);
    }
    await advance(ctx, RESEND_S);
    assertRateLimited(await askCode(ctx, ACTIVE.msisdn), 1, 3600, 'a sixth code within the hour');
  });

  test('one client address may ask limits.portal_codes_per_client_per_hour codes an hour (10 by default)', async (t) => {
    /* Numbers without a card, each asked once: only the per-client limit can refuse them. */
    const numbers = Array.from(
      { length: 12 },
      (_, i) => `+86139000001${String(i).padStart(2, '0')}`,
    );

    const configured = await startPortal(t, { LEB_LIMITS_PORTAL_CODES_PER_CLIENT_PER_HOUR: '3' });
    for (const number of numbers.slice(0, 3)) {
      assertCodeAccepted(await askCode(configured, number), number);
    }
    const fourth = await askCode(configured, numbers[3]);
    assertRateLimited(fourth, 1195, 1200, 'the fourth code of the hour from one address');
    /* The per-number limits run on the business clock; the per-client one does not move with it. */
    await advance(configured, 2 * 3600);
    assertRateLimited(
      await askCode(configured, numbers[4]),
      1,
      1200,
      'after moving the business clock',
    );
    /* A bad number is refused as bad before it is counted. */
    await refused(askCode(configured, '123'), 'invalid_phone_number');

    const defaults = await startPortal(t, { LEB_LIMITS_PORTAL_CODES_PER_CLIENT_PER_HOUR: null });
    for (const number of numbers.slice(0, 10)) {
      assertCodeAccepted(await askCode(defaults, number), number);
    }
    assertRateLimited(
      await askCode(defaults, numbers[10]),
      355,
      360,
      'the eleventh code of the hour',
    );
    /* A card's number is refused the same way: the limit is the address's. */
    assertRateLimited(
      await askCode(defaults, ACTIVE.msisdn),
      1,
      360,
      'a card number from that address',
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(defaults.gateway.requests.length, 0, 'no SMS went out');
  });

  test('a code lives five minutes on the business clock', async (t) => {
    const ctx = await startPortal(t);
    const stale = await requestCode(ctx, ACTIVE.msisdn);
    await advance(ctx, CODE_TTL_S + 1);
    await refused(
      trySession(ctx, ACTIVE.msisdn, stale.code),
      'invalid_code',
      'a code past 5 minutes',
    );
    const fresh = await requestCode(ctx, ACTIVE.msisdn);
    if (fresh.code !== stale.code) {
      await refused(trySession(ctx, ACTIVE.msisdn, stale.code), 'invalid_code', 'the old code');
    }
    await advance(ctx, CODE_TTL_S - 10);
    await openSession(ctx, ACTIVE.msisdn, fresh.code);
  });

  test('five wrong tries burn the code, even for the right one, until a new code is sent', async (t) => {
    const ctx = await startPortal(t);
    const { code } = await requestCode(ctx, ACTIVE.msisdn);
    for (let attempt = 1; attempt < TRIES_MAX; attempt++) {
      await refused(
        trySession(ctx, ACTIVE.msisdn, wrongCode(code, attempt)),
        'invalid_code',
        `wrong try ${attempt}`,
      );
    }
    await refused(
      trySession(ctx, ACTIVE.msisdn, wrongCode(code, 7)),
      'too_many_attempts',
      'the fifth wrong try',
    );
    await refused(
      trySession(ctx, ACTIVE.msisdn, code),
      'too_many_attempts',
      'the right code, too late',
    );
    await refused(trySession(ctx, '13800000001', code), 'too_many_attempts', 'in another spelling');
    await refused(
      trySession(ctx, ACTIVE.msisdn, wrongCode(code, 8)),
      'too_many_attempts',
      'more wrong tries',
    );

    /* A new code (a minute after the last) clears the tries. */
    assertRateLimited(
      await askCode(ctx, ACTIVE.msisdn),
      1,
      RESEND_S,
      'a new code within the minute',
    );
    await advance(ctx, RESEND_S);
    const fresh = await requestCode(ctx, ACTIVE.msisdn);
    if (fresh.code !== code) {
      await refused(trySession(ctx, ACTIVE.msisdn, code), 'invalid_code', 'the burnt code');
    }
    await openSession(ctx, ACTIVE.msisdn, fresh.code);

    /* A number without a card is locked out exactly the same way. */
    assertCodeAccepted(await askCode(ctx, NO_CARD), 'code for a number without a card');
    for (let attempt = 1; attempt < TRIES_MAX; attempt++) {
      await refused(
        trySession(ctx, NO_CARD, wrongCode(code, attempt)),
        'invalid_code',
        `no card, try ${attempt}`,
      );
    }
    await refused(trySession(ctx, NO_CARD, code), 'too_many_attempts', 'no card, fifth try');
  });

  test('a code is single use and opens only the card of its own number', async (t) => {
    const ctx = await startPortal(t);
    const active = await requestCode(ctx, ACTIVE.msisdn);
    const other = await requestCode(ctx, OTHER.msisdn, OTHER.msisdn);
    /* The other card's code does not open this card, nor this card's code the other. */
    if (other.code !== active.code) {
      await refused(
        trySession(ctx, ACTIVE.msisdn, other.code),
        'invalid_code',
        "the other number's code",
      );
      await refused(
        trySession(ctx, OTHER.msisdn, active.code),
        'invalid_code',
        "this number's code on the other",
      );
    }
    /* Neither does a code on a number that was never sent one. */
    await refused(
      trySession(ctx, '+8613800000004', active.code),
      'invalid_code',
      'a number with no code',
    );

    const first = await openSession(ctx, ACTIVE.msisdn, active.code);
    await refused(
      trySession(ctx, ACTIVE.msisdn, active.code),
      'invalid_code',
      'the same code again',
    );
    /* The other number's session is its own card's. */
    const second = await openSession(ctx, '138-0000-0002', other.code, OTHER);
    assert.notEqual(first.token, second.token);
    const views = await Promise.all(
      [first.token, second.token].map((token) =>
        api(ctx.lebd, 'GET', '/api/v1/portal/card', { token }),
      ),
    );
    assert.equal(views[0].body.card_no, ACTIVE.card_no);
    assert.equal(views[1].body.card_no, OTHER.card_no);
    assert.equal(views[1].body.status, 'suspended');
  });

  /* ------------------------------------------------------------------------------------------
   * What a session sees and changes
   * ---------------------------------------------------------------------------------------- */

  test("the history lists the card's own orders and money movements, newest first", async (t) => {
    const ctx = await startPortal(t);
    const otherOrder = await topUp(ctx, OTHER.card_no, 20000);
    const older = await topUp(ctx, ACTIVE.card_no, 5000);
    await advance(ctx, 2); /* so that "newest first" is not a tie within one second */
    const newer = await topUp(ctx, ACTIVE.msisdn, 10000);
    const token = await loginPortal(ctx);

    const history = await api(ctx.lebd, 'GET', '/api/v1/portal/history', { token });
    assertStatus(history, 200, 'history');
    const { orders, movements } = history.body;
    assert.deepEqual(
      orders.map((order) => order.order_no),
      [newer.order_no, older.order_no],
    );
    for (const order of orders) {
      const view = await getOrder(ctx.lebd, order.order_no);
      assert.deepEqual(order, view.body, 'an order as GET /api/v1/orders/{no} shows it');
      assert.equal(order.status, 'succeeded');
      assert.equal(order.card_no_masked, maskCard(ACTIVE.card_no));
    }
    const recharges = movements.filter((movement) => movement.kind === 'recharge');
    assert.deepEqual(
      recharges.map(({ amount, currency, order_no }) => ({ amount, currency, order_no })),
      [
        { amount: 10000, currency: 'CNY', order_no: newer.order_no },
        { amount: 5000, currency: 'CNY', order_no: older.order_no },
      ],
    );
    for (const movement of movements) {
      assert.equal(typeof movement.kind, 'string');
      assert.ok(Number.isSafeInteger(movement.amount), 'a signed integer amount');
      assert.equal(movement.currency, 'CNY');
      assert.ok(movement.order_no === null || typeof movement.order_no === 'string');
      assert.match(movement.at, RFC3339_UTC);
    }
    const times = movements.map((movement) => Date.parse(movement.at));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => b - a),
      'movements newest first',
    );
    assert.ok(!history.text.includes(otherOrder.order_no), "never the other card's order");
    assert.ok(
      !movements.some((movement) => movement.amount === 20000),
      "never the other card's money",
    );

    const one = await api(ctx.lebd, 'GET', '/api/v1/portal/history?limit=1', { token });
    assertStatus(one, 200, 'limit=1');
    assert.deepEqual(
      one.body.orders.map((order) => order.order_no),
      [newer.order_no],
    );
    assert.ok(one.body.movements.length <= 1);
    assertStatus(
      await api(ctx.lebd, 'GET', '/api/v1/portal/history?limit=100', { token }),
      200,
      'limit=100',
    );
    for (const limit of ['0', '101', '-1', 'abc', '', '5x', '1.5', '99999999999999999999']) {
      assertError(
        await api(ctx.lebd, 'GET', `/api/v1/portal/history?limit=${encodeURIComponent(limit)}`, {
          token,
        }),
        400,
        'invalid_request',
        `limit=${limit}`,
      );
    }

    /* A month on, the monthly fee is a movement out, with no order. */
    const card = (await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token })).body;
    await api(ctx.lebd, 'POST', '/api/v1/admin/clock', {
      body: { now: card.next_billing_at },
      token: ctx.admin,
    });
    assertStatus(
      await api(ctx.lebd, 'POST', '/api/v1/admin/jobs/run', { body: {}, token: ctx.admin }),
      200,
      'jobs',
    );
    const billed = await api(ctx.lebd, 'GET', '/api/v1/portal/history', { token });
    const fee = billed.body.movements[0];
    assert.deepEqual(
      { kind: fee.kind, amount: fee.amount, currency: fee.currency, order_no: fee.order_no },
      { kind: 'monthly_fee', amount: -800, currency: 'CNY', order_no: null },
      `the newest movement: ${JSON.stringify(billed.body.movements)}`,
    );
    assert.equal(fee.at, card.next_billing_at);
    const after = (await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token })).body;
    assert.equal(after.balance, card.balance - 800);
  });

  test('the balance route answers a session for its own card, by any spelling, and 403 for every other', async (t) => {
    const ctx = await startPortal(t);
    const token = await loginPortal(ctx);
    const own = [
      '8986010000000000018',
      '+8613800000001',
      '13800000001',
      '138 0000 0001',
      fullWidth('8986010000000000018'),
      fullWidth('13800000001'),
    ];
    for (const number of own) {
      const response = await api(
        ctx.lebd,
        'GET',
        `/api/v1/cards/${encodeURIComponent(number)}/balance`,
        { token },
      );
      assertStatus(response, 200, `own card as ${number}`);
      assert.equal(response.body.card_no, ACTIVE.card_no);
      for (const field of [
        'msisdn',
        'status',
        'balance',
        'currency',
        'valid_until',
        'next_billing_at',
      ]) {
        assert.ok(field in response.body, field);
      }
    }
    /* Another card, a recycled one, one that does not exist, a bad number: all alike. */
    const others = [
      ...OTHER_NUMBERS,
      RECYCLED.card_no,
      RECYCLED.msisdn,
      '8986010000000000042',
      '+8613900000009',
      '1234',
    ];
    for (const number of others) {
      const response = await api(
        ctx.lebd,
        'GET',
        `/api/v1/cards/${encodeURIComponent(number)}/balance`,
        { token },
      );
      assertError(response, 403, 'forbidden', `balance of ${number}`);
    }
    await refused(api(ctx.lebd, 'GET', `/api/v1/cards/${OTHER.card_no}/balance`), 'unauthorized');
  });

  test('auto-renewal: the cardholder reads and sets it, but never sends an agreement', async (t) => {
    const ctx = await startPortal(t);
    const token = await loginPortal(ctx);
    const put = (body) => api(ctx.lebd, 'PUT', '/api/v1/portal/auto-renew', { body, token });
    const adminView = async () => (await adminViews(ctx, ACTIVE.card_no)).autoRenew;

    const initial = await api(ctx.lebd, 'GET', '/api/v1/portal/auto-renew', { token });
    assertStatus(initial, 200, 'auto-renew before');
    assert.deepEqual(initial.body, { enabled: false });

    /* An agreement is the operators' (and the payment provider's) business. */
    const before = await adminView();
    for (const body of [
      { enabled: true, rule: 'keep_fee', agreement: { provider: 'sandbox' } },
      { enabled: true, rule: 'keep_fee', agreement: { provider: 'sandbox', behaviour: 'fail' } },
      { enabled: true, rule: 'keep_fee', agreement: {} },
      { enabled: false, agreement: null },
    ]) {
      await refused(put(body), 'invalid_request', JSON.stringify(body));
    }
    assert.deepEqual(await adminView(), before, 'nothing changed');

    const keepFee = await put({ enabled: true, rule: 'keep_fee' });
    assertStatus(keepFee, 200, 'keep_fee');
    assert.equal(keepFee.body.enabled, true);
    assert.equal(keepFee.body.rule, 'keep_fee');
    let view = await adminView();
    assert.equal(view.enabled, true);
    assert.equal(view.rule, 'keep_fee');
    assert.equal(view.card_no_masked, maskCard(ACTIVE.card_no));
    const got = await api(ctx.lebd, 'GET', '/api/v1/portal/auto-renew', { token });
    assert.deepEqual(got.body, keepFee.body, 'the portal reads back what it set');

    const threshold = await put({ enabled: true, rule: 'threshold', amount: 5000, threshold: 500 });
    assertStatus(threshold, 200, 'threshold');
    view = await adminView();
    assert.deepEqual(
      {
        enabled: view.enabled,
        rule: view.rule,
        amount: view.amount,
        threshold: view.threshold,
      },
      { enabled: true, rule: 'threshold', amount: 5000, threshold: 500 },
    );

    /* Bad settings change nothing. */
    const settled = await adminView();
    for (const body of [
      { enabled: true, rule: 'sometimes' },
      { enabled: true, rule: 'threshold', amount: 5001, threshold: 500 },
      { enabled: 'yes', rule: 'keep_fee' },
      { rule: 'keep_fee' },
      { enabled: true, rule: 'keep_fee', card: OTHER.card_no },
    ]) {
      const response = await put(body);
      assert.equal(response.status, 400, `${JSON.stringify(body)}: ${response.text}`);
    }
    assert.deepEqual(await adminView(), settled, 'nothing changed');

    const off = await put({ enabled: false });
    assertStatus(off, 200, 'off');
    assert.equal(off.body.enabled, false);
    view = await adminView();
    assert.equal(view.enabled, false);
    const offRead = await api(ctx.lebd, 'GET', '/api/v1/portal/auto-renew', { token });
    assert.equal(offRead.body.enabled, false);
  });

  test('language: the cardholder picks zh-CN or en, and the SMS follow', async (t) => {
    const ctx = await startPortal(t);
    const token = await loginPortal(ctx);
    const setLanguage = (language) =>
      api(ctx.lebd, 'PUT', '/api/v1/portal/language', { body: { language }, token });
    const current = async () =>
      (await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token })).body.language;

    for (const [sent, shown] of [
      ['en', 'en'],
      ['zh', 'zh-CN'],
      ['en-US', 'en'],
      ['zh-CN', 'zh-CN'],
      ['EN', 'en'],
      ['en', 'en'],
    ]) {
      const response = await setLanguage(sent);
      assertStatus(response, 200, `language ${sent}`);
      assert.deepEqual(response.body, { language: shown });
      assert.equal(await current(), shown);
    }
    for (const body of [
      { language: 'fr' },
      { language: '' },
      { language: 'zh-TW' },
      { language: 1 },
      {},
      { language: 'zh', card_no: ACTIVE.card_no },
    ]) {
      const response = await api(ctx.lebd, 'PUT', '/api/v1/portal/language', { body, token });
      assertError(response, 400, 'invalid_request', JSON.stringify(body));
    }
    assert.equal(await current(), 'en', 'nothing changed');

    /* The next login code comes in English, as GSM text. */
    await advance(ctx, RESEND_S);
    const english = await requestCode(ctx, ACTIVE.msisdn);
    assert.match(english.text, /^LEB self-service login code: \d{6}, valid for 5 minutes/);
    assert.ok(!CJK.test(english.text), english.text);
    assert.equal(english.coding, '0', 'English goes as GSM 7-bit');
    await openSession(ctx, ACTIVE.msisdn, english.code);

    /* So do the replies to the cardholder's own SMS; the other card stays Chinese. */
    const reply = await smsReply(ctx, '13800000001', 'YE');
    assert.ok(!CJK.test(reply.text), `an English reply: ${reply.text}`);
    assert.match(reply.text, /[A-Za-z]{3}/);
    assert.equal(reply.headers.get('x-kannel-coding'), null);
    const otherReply = await smsReply(ctx, '13800000002', 'YE');
    assert.ok(
      CJK.test(otherReply.text),
      `the other card still answers in Chinese: ${otherReply.text}`,
    );

    /* And back. */
    assertStatus(await setLanguage('zh-CN'), 200, 'back to Chinese');
    assert.ok(CJK.test((await smsReply(ctx, '13800000001', 'YE')).text), 'Chinese again');
    /* The SMS command EN sets the same language the portal shows. */
    await smsReply(ctx, '13800000001', 'EN');
    assert.equal(await current(), 'en', 'EN by SMS');
  });

  test('logging out ends that session everywhere, and no other', async (t) => {
    const ctx = await startPortal(t);
    const token = await loginPortal(ctx);
    await advance(ctx, RESEND_S);
    const otherSession = await loginPortal(ctx); /* a second session on the same card */
    const otherCardSession = await loginPortal(ctx, OTHER);
    const routes = [
      ['GET', '/api/v1/portal/card'],
      ['GET', '/api/v1/portal/history'],
      ['GET', '/api/v1/portal/auto-renew'],
      ['PUT', '/api/v1/portal/auto-renew', { enabled: true, rule: 'keep_fee' }],
      ['PUT', '/api/v1/portal/language', { language: 'en' }],
      ['GET', `/api/v1/cards/${ACTIVE.card_no}/balance`],
      ['DELETE', '/api/v1/portal/session'],
    ];
    for (const [method, route, body] of routes.slice(0, 3)) {
      assertStatus(
        await api(ctx.lebd, method, route, { token, body }),
        200,
        `${method} ${route} before`,
      );
    }
    const out = await api(ctx.lebd, 'DELETE', '/api/v1/portal/session', { token });
    assert.equal(out.status, 204, out.text);
    for (const [method, route, body] of routes) {
      await refused(
        api(ctx.lebd, method, route, { token, body }),
        'unauthorized',
        `${method} ${route} after`,
      );
    }
    const view = await adminViews(ctx, ACTIVE.card_no);
    assert.ok(view.autoRenew.enabled === false, 'nothing was set after logging out');
    for (const other of [otherSession, otherCardSession]) {
      assertStatus(
        await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token: other }),
        200,
        'the other sessions live on',
      );
    }
  });

  test('roles: a portal token opens no operator route, an operator token no portal route', async (t) => {
    const ctx = await startPortal(t);
    const token = await loginPortal(ctx);
    const adminRoutes = [
      ['GET', '/api/v1/admin/outbox'],
      ['GET', `/api/v1/admin/outbox?kind=sms&destination=${encodeURIComponent(ACTIVE.msisdn)}`],
      ['GET', '/api/v1/admin/outbox/summary'],
      ['POST', '/api/v1/admin/outbox/1/resend', {}],
      ['GET', '/api/v1/admin/plans'],
      [
        'POST',
        '/api/v1/admin/plans',
        {
          code: 'MINE',
          name: 'Mine',
          currency: 'CNY',
          model: 'monthly_fee',
          monthly_fee: 0,
          denominations: [100],
          min_amount: 100,
          max_amount: 100,
          grace_days: 1,
        },
      ],
      ['POST', '/api/v1/admin/cards', { cards: [] }],
      ['GET', '/api/v1/admin/ledger/check'],
      ['GET', `/api/v1/admin/cards/${ACTIVE.card_no}/auto-renew`],
      [
        'PUT',
        `/api/v1/admin/cards/${ACTIVE.card_no}/auto-renew`,
        { enabled: true, rule: 'keep_fee', agreement: { provider: 'sandbox' } },
      ],
      ['POST', '/api/v1/admin/clock', { advance_s: 3600 }],
      ['POST', '/api/v1/admin/jobs/run', {}],
    ];
    for (const [method, route, body] of adminRoutes) {
      await refused(
        api(ctx.lebd, method, route, { token, body }),
        'forbidden',
        `portal token: ${method} ${route}`,
      );
      await refused(
        api(ctx.lebd, method, route, { body }),
        'unauthorized',
        `no token: ${method} ${route}`,
      );
    }
    const portalRoutes = [
      ['GET', '/api/v1/portal/card'],
      ['GET', '/api/v1/portal/history'],
      ['GET', '/api/v1/portal/auto-renew'],
      ['PUT', '/api/v1/portal/auto-renew', { enabled: true, rule: 'keep_fee' }],
      ['PUT', '/api/v1/portal/language', { language: 'en' }],
      ['DELETE', '/api/v1/portal/session'],
    ];
    for (const [method, route, body] of portalRoutes) {
      await refused(
        api(ctx.lebd, method, route, { token: ctx.admin, body }),
        'forbidden',
        `admin token: ${method} ${route}`,
      );
      await refused(
        api(ctx.lebd, method, route, { body }),
        'unauthorized',
        `no token: ${method} ${route}`,
      );
      assertError(
        await api(ctx.lebd, method, route, { body, token: 'not-a-token-at-all-0123456789' }),
        401,
        'unauthorized',
        `a made-up token: ${method} ${route}`,
      );
    }
    /* None of that did anything: the admin is still logged in, the session still works. */
    assertStatus(
      await api(ctx.lebd, 'GET', '/api/v1/admin/outbox', { token: ctx.admin }),
      200,
      'admin still in',
    );
    assertStatus(
      await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token }),
      200,
      'portal still in',
    );
    const view = await adminViews(ctx, ACTIVE.card_no);
    assert.ok(view.autoRenew.enabled === false, 'no auto-renewal was set');
    const plans = await api(ctx.lebd, 'GET', '/api/v1/admin/plans', { token: ctx.admin });
    assert.ok(!plans.text.includes('MINE'), 'no plan was created');
  });

  /* ------------------------------------------------------------------------------------------
   * The demand: a portal token can never read or change another card
   * ---------------------------------------------------------------------------------------- */

  test('a portal token can never read or change another card', async (t) => {
    const ctx = await startPortal(t);
    /* The other card has something to reveal: an order, money, an auto-renewal setting. */
    const otherOrder = await topUp(ctx, OTHER.card_no, 20000);
    const setOther = await api(ctx.lebd, 'PUT', `/api/v1/admin/cards/${OTHER.card_no}/auto-renew`, {
      body: {
        enabled: true,
        rule: 'threshold',
        amount: 10000,
        threshold: 2000,
        agreement: { provider: 'sandbox' },
      },
      token: ctx.admin,
    });
    assertStatus(setOther, 200, "the other card's auto-renewal");
    const ownOrder = await topUp(ctx, ACTIVE.card_no, 5000);
    const otherBefore = await adminViews(ctx, OTHER.card_no);
    const ownBefore = await adminViews(ctx, ACTIVE.card_no);
    const otherSmsBefore = (await smsOutbox(ctx, OTHER.msisdn)).length;
    const otherReplyBefore = (await smsReply(ctx, OTHER.msisdn, 'YE')).text;

    const token = await loginPortal(ctx);
    /* Every answer to this session, to look for the other card in them at the end. */
    const answers = [];
    const ask = async (method, route, body) => {
      const response = await api(ctx.lebd, method, route, { token, body });
      answers.push({ what: `${method} ${route} ${JSON.stringify(body) || ''}`, response });
      return response;
    };
    /* Everything the other card could be known by in an answer. */
    const secrets = [
      OTHER.card_no,
      maskCard(OTHER.card_no),
      '13800000002',
      '138****0002',
      otherOrder.order_no,
      otherBefore.autoRenew.agreement.agreement_id,
    ];
    if (otherBefore.card.balance !== ownBefore.card.balance) {
      secrets.push(`"balance":${otherBefore.card.balance}`);
    }

    const portalRoutes = ['card', 'history', 'auto-renew', 'language', 'session', 'otp'];
    const keys = ['card', 'card_no', 'number', 'msisdn', 'phone'];
    for (const number of OTHER_NUMBERS) {
      const encoded = encodeURIComponent(number);
      const what = `with ${number}`;
      /* A number in the path of every route that takes one. */
      await refused(ask('GET', `/api/v1/cards/${encoded}/balance`), 'forbidden', what);
      await refused(ask('GET', `/api/v1/admin/cards/${encoded}/auto-renew`), 'forbidden', what);
      const off = { enabled: false };
      await refused(
        ask('PUT', `/api/v1/admin/cards/${encoded}/auto-renew`, off),
        'forbidden',
        what,
      );
      const outbox = `/api/v1/admin/outbox?kind=sms&destination=${encoded}`;
      await refused(ask('GET', outbox), 'forbidden', what);
      /* Portal routes with a number tacked on: not routes at all. */
      for (const route of portalRoutes) {
        for (const [method, body] of [['GET'], ['PUT', {}], ['POST', { phone: number }]]) {
          const response = await ask(method, `/api/v1/portal/${route}/${encoded}`, body);
          assert.ok(
            response.status === 404 || response.status === 405,
            `${method} /api/v1/portal/${route}/${number}: ${response.status} ${response.text}`,
          );
        }
      }
      /* A number in the query string: the session's own card all the same. */
      const query = keys.map((key) => `${key}=${encoded}`).join('&');
      const card = await ask('GET', `/api/v1/portal/card?${query}`);
      assertStatus(card, 200, `portal card ${what}`);
      assert.equal(card.body.card_no, ACTIVE.card_no, `portal card ${what}`);
      const history = await ask('GET', `/api/v1/portal/history?${query}`);
      assertStatus(history, 200, `portal history ${what}`);
      const orders = history.body.orders.map((order) => order.order_no);
      assert.deepEqual(orders, [ownOrder.order_no], `history ${what}`);
      const renew = await ask('GET', `/api/v1/portal/auto-renew?${query}`);
      assertStatus(renew, 200, `portal auto-renew ${what}`);
      assert.deepEqual(renew.body, { enabled: false }, `the own card's setting, ${what}`);
      /* A number in the body: refused as an unknown field. */
      for (const key of keys) {
        const renewBody = { enabled: false, [key]: number };
        await refused(ask('PUT', '/api/v1/portal/auto-renew', renewBody), 'invalid_request', what);
        const languageBody = { language: 'en', [key]: number };
        await refused(ask('PUT', '/api/v1/portal/language', languageBody), 'invalid_request', what);
      }
    }

    /* Changes with the other card named in the query string land on the session's own card. */
    const query = keys.map((key) => `${key}=${encodeURIComponent(OTHER.msisdn)}`).join('&');
    const renewOff = await ask('PUT', `/api/v1/portal/auto-renew?${query}`, { enabled: false });
    assertStatus(renewOff, 200, 'auto-renew off with the other card in the query');
    const english = await ask('PUT', `/api/v1/portal/language?${query}`, { language: 'en' });
    assertStatus(english, 200, 'language with the other card in the query');
    assert.equal((await ask('GET', '/api/v1/portal/card')).body.language, 'en', 'the own card');

    /* The other card's order and card through the public routes: the token adds nothing. */
    const orderRoute = `/api/v1/orders/${otherOrder.order_no}`;
    const publicOrder = await api(ctx.lebd, 'GET', orderRoute);
    const orderWithToken = await api(ctx.lebd, 'GET', orderRoute, { token });
    assert.equal(
      orderWithToken.text,
      publicOrder.text,
      'the same order view with or without a session',
    );
    const cardRoute = `/api/v1/cards/${OTHER.card_no}`;
    const publicCard = await api(ctx.lebd, 'GET', cardRoute);
    const cardWithToken = await api(ctx.lebd, 'GET', cardRoute, { token });
    assert.equal(
      cardWithToken.text,
      publicCard.text,
      'the same card view with or without a session',
    );

    /* The own code does not open the other number, and is not used up by trying it there.
     * (Phone spellings only.) A new code for the number waits its minute, log-in or not. */
    await advance(ctx, 60);
    const { code } = await requestCode(ctx, ACTIVE.msisdn);
    const otherPhones = OTHER_NUMBERS.filter(
      (number) => /^[+\d][\d +-]*$/.test(number) && !number.startsWith('8986'),
    );
    assert.ok(otherPhones.length >= 5);
    for (const number of otherPhones) {
      const response = await trySession(ctx, number, code);
      answers.push({ what: `session on ${number}`, response });
      assertError(response, 401, 'invalid_code', `own code on ${number}`);
    }
    await openSession(ctx, ACTIVE.msisdn, code);

    /* Nothing revealed: not in any answer to this session. */
    for (const { what, response } of answers) {
      for (const secret of secrets) {
        assert.ok(
          !response.text.includes(secret),
          `${what} reveals ${secret}: ${response.text.slice(0, 300)}`,
        );
      }
    }

    /* Nothing changed: the operators' views, the SMS, the language of its replies. */
    const otherAfter = await adminViews(ctx, OTHER.card_no);
    assert.deepEqual(otherAfter, otherBefore, "the other card's balance and auto-renewal");
    const otherSmsAfter = (await smsOutbox(ctx, OTHER.msisdn)).length;
    assert.equal(otherSmsAfter, otherSmsBefore, 'no SMS to the other card');
    const otherReplyAfter = (await smsReply(ctx, OTHER.msisdn, 'YE')).text;
    assert.equal(otherReplyAfter, otherReplyBefore, "the other card's language");

    /* Logging out with the other number in the body ends this session only. */
    const out = await ask('DELETE', '/api/v1/portal/session', {
      phone: OTHER.msisdn,
      card_no: OTHER.card_no,
    });
    assert.equal(out.status, 204, out.text);
    await refused(ask('GET', '/api/v1/portal/card'), 'unauthorized', 'own session after logout');

    /* Seen from the other card's own session: all as the operators set it. */
    const otherToken = await loginPortal(ctx, OTHER);
    const asOther = (route) => api(ctx.lebd, 'GET', route, { token: otherToken });
    const otherCard = (await asOther('/api/v1/portal/card')).body;
    assert.equal(otherCard.card_no, OTHER.card_no);
    assert.equal(otherCard.language, 'zh-CN');
    assert.equal(otherCard.balance, otherBefore.card.balance);
    const otherRenew = (await asOther('/api/v1/portal/auto-renew')).body;
    assert.deepEqual(otherRenew, otherBefore.autoRenew);
    const otherHistory = (await asOther('/api/v1/portal/history')).body;
    assert.deepEqual(
      otherHistory.orders.map((order) => order.order_no),
      [otherOrder.order_no],
    );
    /* And it, in turn, cannot see the first card. */
    await refused(asOther(`/api/v1/cards/${ACTIVE.card_no}/balance`), 'forbidden');
  });

  test('a recycled number given to a new card opens the new card, never the old one', async (t) => {
    const ctx = await startPortal(t);
    const fresh = { card_no: luhnCardNo('898601000000000099'), msisdn: RECYCLED.msisdn };
    const created = await api(ctx.lebd, 'POST', '/api/v1/admin/cards', {
      body: { card_no: fresh.card_no, msisdn: fresh.msisdn, plan: 'KEEP8' },
      token: ctx.admin,
    });
    assertStatus(created, 201, 'a new card on the recycled number');
    const { code, text } = await requestCode(ctx, '13800000003', RECYCLED.msisdn);
    assert.ok(text.includes(maskCard(fresh.card_no)), `the SMS names the new card: ${text}`);
    const session = await openSession(ctx, RECYCLED.msisdn, code, fresh);
    const token = session.token;
    const card = await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token });
    assert.equal(card.body.card_no, fresh.card_no);
    assert.equal(card.body.status, 'active');
    const history = await api(ctx.lebd, 'GET', '/api/v1/portal/history', { token });
    assert.deepEqual(history.body, { orders: [], movements: [] }, 'nothing of the old card');
    assertError(
      await api(ctx.lebd, 'GET', `/api/v1/cards/${RECYCLED.card_no}/balance`, { token }),
      403,
      'forbidden',
      'the recycled card',
    );
    const byNumber = await api(ctx.lebd, 'GET', '/api/v1/cards/13800000003/balance', { token });
    assertStatus(byNumber, 200, 'the number is the new card');
    assert.equal(byNumber.body.card_no, fresh.card_no);
  });

  /* ------------------------------------------------------------------------------------------
   * Secrets: operators, logs
   * ---------------------------------------------------------------------------------------- */

  test('operators see that a login code was sent, never which; the logs hold no code and no token', async (t) => {
    const ctx = await startPortal(t, { LEB_LOG_LEVEL: 'debug', LEB_TELECOM_BACKOFF_S: '1' });
    const codes = [];
    const tokens = [];
    /* The first attempt is refused: a failed delivery is logged, and must not log the text. */
    ctx.gateway.refuse = 1;
    const first = await requestCode(ctx, ACTIVE.msisdn);
    await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn).length >= 2, {
      timeout_ms: 10000,
      what: 'the retried SMS',
    });
    codes.push(first.code);
    await refused(trySession(ctx, ACTIVE.msisdn, wrongCode(first.code)), 'invalid_code');
    const session = await openSession(ctx, ACTIVE.msisdn, first.code);
    tokens.push(session.token);
    await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token: session.token });
    await api(ctx.lebd, 'PUT', '/api/v1/portal/language', {
      token: session.token,
      body: { language: 'en' },
    });
    await advance(ctx, RESEND_S);
    const second = await requestCode(ctx, ACTIVE.msisdn);
    codes.push(second.code);
    await api(ctx.lebd, 'DELETE', '/api/v1/portal/session', { token: session.token });

    const messages = await pollUntil(
      async () => {
        const list = (await smsOutbox(ctx, ACTIVE.msisdn)).filter(
          (message) => message.payload && message.payload.template === 'login_code',
        );
        return list.length === 2 && list.every((message) => message.status === 'delivered')
          ? list
          : null;
      },
      { timeout_ms: 10000, what: 'two login_code messages delivered' },
    ).catch(async (error) => {
      error.message += `; outbox: ${JSON.stringify(await smsOutbox(ctx, ACTIVE.msisdn))}`;
      throw error;
    });
    for (const message of messages) {
      assert.equal(message.payload.code, '******', 'the code is masked');
    }
    const outboxText = JSON.stringify(await smsOutbox(ctx, ACTIVE.msisdn));
    for (const code of codes) {
      assert.ok(
        !new RegExp(`(?<!\\d)${code}(?!\\d)`).test(outboxText),
        `the outbox view shows code ${code}`,
      );
    }

    await ctx.lebd.stop();
    const logs = ctx.lebd.logs.join('\n');
    assert.ok(logs.includes('portal session opened'), 'the log-in was logged');
    assert.ok(logs.includes('delivery attempt failed'), 'the refused delivery was logged');
    for (const code of codes) {
      const at = logs.search(new RegExp(`(?<!\\d)${code}(?!\\d)`));
      assert.equal(
        at,
        -1,
        `a login code in the logs: ${logs.slice(Math.max(0, at - 200), at + 100)}`,
      );
    }
    for (const token of tokens) {
      assert.ok(!logs.includes(token), 'a portal token in the logs');
      assert.ok(!logs.includes(token.slice(0, 16)), 'part of a portal token in the logs');
    }
    assert.ok(!logs.includes(ctx.admin), 'the admin token in the logs');
  });

  /* ------------------------------------------------------------------------------------------
   * Concurrency
   * ---------------------------------------------------------------------------------------- */

  test('concurrent tries: wrong codes count five tries at most, the right code opens one session', async (t) => {
    const ctx = await startPortal(t);
    const { code } = await requestCode(ctx, ACTIVE.msisdn);
    const wrong = await Promise.all(
      Array.from({ length: 10 }, (_, i) => trySession(ctx, ACTIVE.msisdn, wrongCode(code, i + 1))),
    );
    const statuses = wrong.map((response) => response.status).sort();
    for (const response of wrong) {
      assert.ok(
        (response.status === 401 && response.body.error.code === 'invalid_code') ||
          (response.status === 429 && response.body.error.code === 'too_many_attempts'),
        response.text,
      );
    }
    assert.equal(
      statuses.filter((status) => status === 401).length,
      TRIES_MAX - 1,
      `statuses: ${statuses}`,
    );
    await refused(
      trySession(ctx, ACTIVE.msisdn, code),
      'too_many_attempts',
      'the right code after ten wrong ones',
    );

    await advance(ctx, RESEND_S);
    const fresh = await requestCode(ctx, ACTIVE.msisdn);
    const right = await Promise.all(
      Array.from({ length: 5 }, () => trySession(ctx, ACTIVE.msisdn, fresh.code)),
    );
    const opened = right.filter((response) => response.status === 201);
    assert.equal(opened.length, 1, `one session: ${right.map((response) => response.status)}`);
    for (const response of right.filter((response) => response.status !== 201)) {
      assertError(response, 401, 'invalid_code', 'the same code, concurrently');
    }
    assertStatus(
      await api(ctx.lebd, 'GET', '/api/v1/portal/card', { token: opened[0].body.token }),
      200,
      'the session works',
    );

    /* Concurrent code requests for one number: one code, one SMS; the rest wait their minute. */
    await advance(ctx, RESEND_S);
    const sent = ctx.gateway.to(ACTIVE.msisdn).length;
    const asked = await Promise.all(Array.from({ length: 8 }, () => askCode(ctx, ACTIVE.msisdn)));
    assert.equal(
      asked.filter((response) => response.status === 202).length,
      1,
      `statuses: ${asked.map((response) => response.status)}`,
    );
    for (const response of asked.filter((response) => response.status !== 202)) {
      assertRateLimited(response, 1, RESEND_S, 'a concurrent code request');
    }
    const sms = await pollUntil(() => ctx.gateway.to(ACTIVE.msisdn)[sent], {
      timeout_ms: 10000,
      what: 'the one SMS',
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(ctx.gateway.to(ACTIVE.msisdn).length, sent + 1, 'exactly one SMS');
    await openSession(ctx, ACTIVE.msisdn, codeOf(sms.query.text));
  });
});
