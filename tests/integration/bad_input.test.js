'use strict';
/*
 * bad_input.test.js - every bad input gets a clear 4xx with a stable code, and nothing makes
 * lebd answer 5xx or fall over (DESIGN.md guarantee 4). Every JSON route is fed malformed
 * JSON, non-objects, missing fields, wrong types, enormous amounts, oversize bodies, wrong
 * content types and invalid UTF-8; then unknown routes, wrong methods and hostile paths.
 * api() asserts status < 500 on every single response; the last test checks that lebd is
 * still healthy and its ledger balanced.
 */

const { test, before, after, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { Readable } = require('node:stream');

const { startLebd } = require('../lib/lebd');
const {
  DEMO,
  api,
  assertError,
  assertStatus,
  createOrderOk,
  getOrder,
  login,
  luhnCardNo,
  signSandbox,
  assertLedgerBalanced,
} = require('../lib/client');

const BODY_MAX = 64 * 1024;

let lebd;
let token;
let pendingOrder; /* an order that only GETs touch */
let target; /* this test's target of bad notifications: must stay pending */
const sequence = { plan: 0, card: 0, trade: 0 };

before(async () => {
  lebd = await startLebd({
    env: { LEB_LIMITS_CARD_LOOKUP_PER_MIN: '6000', LEB_LIMITS_CARD_LOOKUP_BURST: '1000' },
  });
  token = await login(lebd);
  pendingOrder = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
});
after(() => lebd && lebd.close());

/* Each test aims its (correctly signed, otherwise bad) notifications at an order of its own,
 * which must still be pending when the test ends: no bad notification may pay it. */
beforeEach(async () => {
  target = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 5000 });
});
afterEach(async () => {
  const order = await getOrder(lebd, target.order_no);
  assertStatus(order, 200);
  assert.equal(
    order.body.status,
    'pending_payment',
    'a bad notification in this test changed the order it was aimed at',
  );
  assert.equal(order.body.credited_at, null);
});

/*
 * The JSON routes. body() gives a fresh valid body (fresh plan codes and card numbers, so a
 * body that is accepted does not collide with an earlier one); required, strings and
 * amounts name its fields by kind; ok is the status of a valid request.
 */
const ROUTES = [
  {
    name: 'quotes',
    path: '/api/v1/quotes',
    ok: 200,
    body: () => ({
      card: DEMO.active.card_no,
      face_amount: 5000,
      channel: 'web',
      payment_method: 'sandbox',
    }),
    required: ['card', 'face_amount', 'channel', 'payment_method'],
    strings: ['card', 'channel', 'payment_method'],
    amounts: ['face_amount'],
  },
  {
    name: 'orders',
    path: '/api/v1/orders',
    ok: 201,
    body: () => ({
      card: DEMO.active.card_no,
      face_amount: 5000,
      channel: 'web',
      payment_method: 'sandbox',
    }),
    required: ['card', 'face_amount', 'channel', 'payment_method'],
    strings: ['card', 'channel', 'payment_method'],
    amounts: ['face_amount'],
  },
  {
    name: 'login',
    path: '/api/v1/auth/login',
    ok: 200,
    body: () => ({ username: 'admin', password: lebd.adminPassword }),
    required: ['username', 'password'],
    strings: ['username', 'password'],
    amounts: [],
  },
  {
    name: 'admin plans',
    path: '/api/v1/admin/plans',
    auth: true,
    ok: 201,
    body: () => ({
      code: `BADIN${++sequence.plan}`,
      name: 'Bad input plan',
      currency: 'CNY',
      model: 'monthly_fee',
      monthly_fee: 500,
      denominations: [5000],
      min_amount: 1000,
      max_amount: 50000,
      grace_days: 30,
    }),
    /* The fields the contract gives no default for (amount_step, daily_limit and
     * recharge_allowed have one; the validity_* fields belong to the other model; a plan
     * may have no denominations, free amounts only). */
    required: [
      'code',
      'name',
      'currency',
      'model',
      'monthly_fee',
      'min_amount',
      'max_amount',
      'grace_days',
    ],
    strings: ['code', 'name', 'currency', 'model'],
    amounts: ['min_amount', 'max_amount', 'monthly_fee'],
  },
  {
    name: 'admin cards',
    path: '/api/v1/admin/cards',
    auth: true,
    ok: 201,
    body: () => {
      const index = ++sequence.card;
      return {
        card_no: luhnCardNo(`898677${String(index).padStart(12, '0')}`),
        msisdn: `+86137${String(index).padStart(8, '0')}`,
        plan: 'KEEP8',
      };
    },
    required: ['card_no', 'msisdn', 'plan'],
    strings: ['card_no', 'msisdn', 'plan'],
    amounts: [],
  },
  {
    name: 'sandbox notify',
    path: '/api/v1/payments/sandbox/notify',
    signed: true,
    ok: 200,
    body: (order = target) => ({
      order_no: order.order_no,
      trade_no: `BADIN-${++sequence.trade}`,
      amount: order.pay_amount,
      status: 'SUCCESS',
    }),
    required: ['order_no', 'trade_no', 'amount', 'status'],
    strings: ['order_no', 'trade_no', 'status'],
    amounts: ['amount'],
  },
];

/* Sends "raw" (a string or a Buffer) to the route as its client would: with the token, or
 * signed over the exact bytes. contentType null sends none (raw must then be a Buffer). */
function send(route, raw, { contentType = 'application/json', headers = {} } = {}) {
  const allHeaders = { 'content-type': contentType, ...headers };
  if (route.signed) allHeaders['X-Sandbox-Signature'] = signSandbox(raw, lebd.sandboxSecret);
  return api(lebd, 'POST', route.path, {
    raw: contentType === null ? Buffer.from(raw) : raw,
    headers: allHeaders,
    token: route.auth ? token : undefined,
  });
}

/* The JSON text of a valid body with the field "field" replaced by the literal "literal". */
function withLiteral(route, field, literal) {
  const body = route.body();
  body[field] = '__LITERAL__';
  return JSON.stringify(body).replace('"__LITERAL__"', literal);
}

function assertOneOf(response, status, codes, what) {
  assert.equal(response.status, status, `${what}: got ${response.status} ${response.text.slice(0, 200)}`);
  assert.ok(
    response.body && response.body.error && codes.includes(response.body.error.code),
    `${what}: code one of ${codes}, got ${response.text.slice(0, 200)}`,
  );
}

test('each JSON route accepts its valid body (the baseline of this file)', async () => {
  for (const route of ROUTES) {
    if (route.signed) continue; /* a valid notification would pay the pending order */
    const response = await send(route, JSON.stringify(route.body()));
    assertStatus(response, route.ok, route.name);
  }
});

test('malformed JSON: 400 invalid_json', async () => {
  const malformed = [
    '{',
    '}',
    '{"a":',
    '{"a":1,}',
    "{'a':1}",
    '{a:1}',
    '',
    ' ',
    'nul',
    '{"a":1}}',
    '{"a":1}{"b":2}',
    '{"a":1} x',
    '{"a":"\\x"}',
    '{"a":"unterminated}',
    '\u0000',
    '{"a":NaN}',
    '{"a":Infinity}',
    '{"a":01}',
    '{"a":.5}',
    '{"a":1e}',
    '[',
    '['.repeat(20000),
    '{"a" 1}',
  ];
  for (const route of ROUTES) {
    for (const raw of malformed) {
      assertError(
        await send(route, raw),
        400,
        'invalid_json',
        `${route.name} with ${JSON.stringify(raw.slice(0, 40))}`,
      );
    }
    /* A valid body cut anywhere is not JSON either. */
    const valid = JSON.stringify(route.body());
    for (const cut of [1, Math.floor(valid.length / 2), valid.length - 1]) {
      assertError(
        await send(route, valid.slice(0, cut)),
        400,
        'invalid_json',
        `${route.name} cut at ${cut}`,
      );
    }
  }
});

test('JSON that is not an object: 400 invalid_json', async () => {
  const notObjects = ['[]', '[{}]', '"string"', '42', '-1.5', 'null', 'true', 'false'];
  for (const route of ROUTES) {
    for (const raw of notObjects) {
      assertError(await send(route, raw), 400, 'invalid_json', `${route.name} with ${raw}`);
    }
    assertError(
      await send(route, JSON.stringify([route.body()])),
      400,
      'invalid_json',
      `${route.name} with its body inside an array`,
    );
  }
});

test('a missing required field: 400 invalid_request', async () => {
  for (const route of ROUTES) {
    for (const field of route.required) {
      const body = route.body();
      delete body[field];
      const response = await send(route, JSON.stringify(body));
      if (route.name === 'admin plans' && field === 'monthly_fee') {
        /* Required by the model chosen, not by the route: a monthly_fee plan without a fee
         * is as much a contradiction as a missing field. */
        assertOneOf(response, 400, ['invalid_request', 'invalid_plan'], `plan without ${field}`);
        continue;
      }
      assertError(response, 400, 'invalid_request', `${route.name} without ${field}`);
    }
    assertError(await send(route, '{}'), 400, 'invalid_request', `${route.name} with {}`);
  }
});

test('a field of the wrong type: 400', async () => {
  const notStrings = ['42', '0', 'null', '{}', '{"a":"b"}', '[]', '["x"]', 'true'];
  const notAmountsAtAll = ['null', '{}', '{"amount":5000}', '[]', '[5000]', 'true', 'false'];
  const amountsAsStrings = ['"5000"', '"50.00"', '"abc"', '""', '"0x1388"'];
  for (const route of ROUTES) {
    for (const field of route.strings) {
      for (const literal of notStrings) {
        assertError(
          await send(route, withLiteral(route, field, literal)),
          400,
          'invalid_request',
          `${route.name} with ${field}: ${literal}`,
        );
      }
    }
    for (const field of route.amounts) {
      for (const literal of amountsAsStrings) {
        assertError(
          await send(route, withLiteral(route, field, literal)),
          400,
          'invalid_amount',
          `${route.name} with ${field}: ${literal}`,
        );
      }
      /* Neither a number nor a string: "a field of the wrong type" and "not an integer of
       * minor units" both fit, so either code is right. */
      for (const literal of notAmountsAtAll) {
        assertOneOf(
          await send(route, withLiteral(route, field, literal)),
          400,
          ['invalid_request', 'invalid_amount'],
          `${route.name} with ${field}: ${literal}`,
        );
      }
    }
  }
  /* A card number given as a JSON number is a wrong type, not a card number. */
  for (const route of ROUTES.filter((candidate) => candidate.strings.includes('card'))) {
    assertError(
      await send(route, withLiteral(route, 'card', DEMO.active.card_no)),
      400,
      'invalid_request',
      `${route.name} with card as a number`,
    );
  }
  /* The plan's list of denominations. */
  const plans = ROUTES.find((route) => route.name === 'admin plans');
  for (const literal of ['"5000"', '5000', '{}', 'null', '["5000"]', '[null]', '[10.5]']) {
    assertOneOf(
      await send(plans, withLiteral(plans, 'denominations', literal)),
      400,
      ['invalid_request', 'invalid_amount', 'invalid_plan'],
      `denominations: ${literal}`,
    );
  }
});

test('fractions and enormous amounts: 400 invalid_amount', async () => {
  const literals = [
    '10.5',
    '5000.5',
    '1e30',
    '-1e30',
    '1E+30',
    '9223372036854775807',
    '9223372036854775808',
    '-9223372036854775808',
    '-9223372036854775809',
    '18446744073709551616',
    '9007199254740993',
    '99999999999999999999999999999999999999',
  ];
  for (const route of ROUTES) {
    for (const field of route.amounts) {
      for (const literal of literals) {
        assertError(
          await send(route, withLiteral(route, field, literal)),
          400,
          'invalid_amount',
          `${route.name} with ${field}: ${literal}`,
        );
      }
      /* Past what a double holds: either the parser or the amount check refuses it. */
      assertOneOf(
        await send(route, withLiteral(route, field, '1e400')),
        400,
        ['invalid_amount', 'invalid_json'],
        `${route.name} with ${field}: 1e400`,
      );
    }
  }
});

/* The card batch route takes up to 1 MiB (a batch of 1000 cards); every other route 64 KiB. */
const CARDS_BODY_MAX = 1024 * 1024;

test('a body over its route\'s limit: 413 payload_too_large', async () => {
  for (const route of ROUTES) {
    const max = route.path === '/api/v1/admin/cards' ? CARDS_BODY_MAX : BODY_MAX;
    for (const size of [max + 1, max + 6 * 1024, max + 136 * 1024]) {
      const body = route.body();
      const base = JSON.stringify({ ...body, padding: '' });
      const raw = JSON.stringify({ ...body, padding: 'x'.repeat(size - base.length) });
      assert.equal(Buffer.byteLength(raw), size);
      assertError(
        await send(route, raw),
        413,
        'payload_too_large',
        `${route.name} with a body of ${size} bytes`,
      );
    }
  }
  /* Sent chunked, without a Content-Length: the limit still holds. */
  const orders = ROUTES.find((route) => route.name === 'orders');
  const chunk = Buffer.alloc(8 * 1024, 0x20);
  const chunks = [Buffer.from('{"padding":"'), ...Array(10).fill(chunk), Buffer.from('"}')];
  const response = await fetch(lebd.url + orders.path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: Readable.toWeb(Readable.from(chunks)),
    duplex: 'half',
  });
  const text = await response.text();
  assert.equal(response.status, 413, `chunked oversize body: ${response.status} ${text}`);
  assert.equal(JSON.parse(text).error.code, 'payload_too_large');
});

test('a body that is not application/json: 415 unsupported_media_type', async () => {
  const types = [
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonx',
    'application/xml',
  ];
  for (const route of ROUTES) {
    for (const contentType of types) {
      assertError(
        await send(route, JSON.stringify(route.body()), { contentType }),
        415,
        'unsupported_media_type',
        `${route.name} as ${contentType === null ? 'no content type' : contentType}`,
      );
    }
  }
  /* No Content-Type at all: the contract does not say; refusing (415) and reading the body
   * as JSON are both fine, a 5xx is not. */
  for (const route of ROUTES) {
    if (route.signed) continue;
    const response = await send(route, JSON.stringify(route.body()), { contentType: null });
    assert.ok(
      response.status === 415 || response.status === route.ok,
      `${route.name} without a content type: ${response.status} ${response.text.slice(0, 200)}`,
    );
  }
});

test('application/json with a charset parameter is JSON', async () => {
  for (const route of ROUTES) {
    if (route.signed) continue;
    const response = await send(route, JSON.stringify(route.body()), {
      contentType: 'application/json; charset=utf-8',
    });
    assertStatus(response, route.ok, `${route.name} with a charset`);
  }
});

test('invalid UTF-8 and NUL in JSON strings: 400', async () => {
  const badBytes = [
    ['a lone 0xff', Buffer.from([0xff])],
    ['0xfe 0xff', Buffer.from([0xfe, 0xff])],
    ['an overlong slash', Buffer.from([0xc0, 0xaf])],
    ['a truncated sequence', Buffer.from([0xe4, 0xbd])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
    ['a code point past U+10FFFF', Buffer.from([0xf4, 0x90, 0x80, 0x80])],
    ['a lone continuation byte', Buffer.from([0x80])],
  ];
  for (const route of ROUTES) {
    const field = route.strings[0];
    for (const [what, bytes] of badBytes) {
      const text = withLiteral(route, field, '"@@"');
      const at = text.indexOf('@@');
      const raw = Buffer.concat([
        Buffer.from(text.slice(0, at)),
        bytes,
        Buffer.from(text.slice(at + 2)),
      ]);
      assertError(await send(route, raw), 400, 'invalid_json', `${route.name}: ${what} in ${field}`);
    }
    /* Escapes that decode to a lone surrogate or to NUL: refused (as JSON, as a field, or
     * as credentials or an order that do not exist), never accepted as they are. */
    for (const literal of ['"\\ud800"', '"\\udc00x"', '"abc\\u0000def"']) {
      const response = await send(route, withLiteral(route, field, literal));
      assert.ok(
        response.status >= 400 && response.status < 500,
        `${route.name}: ${literal} in ${field}: ${response.status} ${response.text}`,
      );
    }
  }
  /* A card number followed by NUL and garbage must not be read as the card number. */
  const orders = ROUTES.find((route) => route.name === 'orders');
  const nul = await send(orders, withLiteral(orders, 'card', `"${DEMO.active.card_no}\\u0000junk"`));
  assert.equal(nul.status, 400, `card with an embedded NUL: ${nul.text}`);
});

test('unknown routes: 404 not_found', async () => {
  const unknown = [
    ['GET', '/api/v1/nope'],
    ['GET', '/api/v2/quotes'],
    ['POST', '/api/v2/orders'],
    ['POST', '/api/v1/quotes/extra'],
    ['GET', `/api/v1/orders/${pendingOrder.order_no}/extra`],
    ['GET', `/api/v1/cards/${DEMO.active.card_no}/nope`],
    ['GET', '/api/v1/admin/nope'],
    ['POST', '/api/v1/payments/nope/notify'],
    ['GET', '/api/v1'],
    ['GET', '/api'],
  ];
  for (const [method, path] of unknown) {
    const response = await api(lebd, method, path, {
      token,
      raw: method === 'POST' ? '{}' : undefined,
    });
    assertError(response, 404, 'not_found', `${method} ${path}`);
  }
});

test('a known route with the wrong method: 405 method_not_allowed with Allow', async () => {
  const cases = [
    ['GET', '/api/v1/quotes', ['POST']],
    ['GET', '/api/v1/orders', ['POST']],
    ['DELETE', `/api/v1/orders/${pendingOrder.order_no}`, ['GET']],
    ['PUT', `/api/v1/orders/${pendingOrder.order_no}`, ['GET']],
    ['POST', '/healthz', ['GET']],
    ['POST', '/metrics', ['GET']],
    ['DELETE', `/api/v1/cards/${DEMO.active.card_no}`, ['GET']],
    ['POST', `/api/v1/cards/${DEMO.active.card_no}/balance`, ['GET']],
    ['GET', '/api/v1/payments/sandbox/notify', ['POST']],
    ['GET', '/api/v1/auth/login', ['POST']],
    ['DELETE', '/api/v1/admin/plans', ['GET', 'POST']],
    ['PATCH', '/api/v1/admin/ledger/check', ['GET']],
    ['POST', '/api/v1/sms/inbound', ['GET']],
  ];
  for (const [method, path, allowed] of cases) {
    const response = await api(lebd, method, path, { token });
    assertError(response, 405, 'method_not_allowed', `${method} ${path}`);
    const allow = (response.headers.get('allow') || '')
      .split(',')
      .map((name) => name.trim().toUpperCase());
    for (const name of allowed) {
      assert.ok(allow.includes(name), `${method} ${path}: Allow "${allow}" lists ${name}`);
    }
    assert.ok(!allow.includes(method), `${method} ${path}: Allow does not list ${method}`);
  }
});

test('hostile paths: very long, %00, invalid UTF-8, traversal', async () => {
  for (const digits of [20, 64, 120]) {
    assertError(
      await api(lebd, 'GET', `/api/v1/cards/${'1'.repeat(digits)}`),
      400,
      'invalid_card_number',
      `a ${digits}-digit card number`,
    );
  }
  /* Past any sane length a router may stop matching: no such card or no such route. */
  const longCard = await api(lebd, 'GET', `/api/v1/cards/${'1'.repeat(4000)}`);
  assert.ok([400, 404].includes(longCard.status), `a 4000-digit card number: ${longCard.status}`);
  const longOrder = await api(lebd, 'GET', `/api/v1/orders/${'A'.repeat(4000)}`);
  assert.equal(longOrder.status, 404, `a 4000-character order number: ${longOrder.text}`);
  const veryLong = await api(lebd, 'GET', `/${'a'.repeat(100 * 1024)}`);
  assert.ok(
    veryLong.status >= 400 && veryLong.status < 500,
    `a path of 100 KiB: ${veryLong.status}`,
  );

  /* NUL ends a C string: a card number followed by %00 must not be read as the number. */
  for (const path of [
    `/api/v1/cards/${DEMO.active.card_no}%00`,
    `/api/v1/cards/${DEMO.active.card_no}%00junk`,
    `/api/v1/cards/898601000000000%000018`,
    '/api/v1/cards/%FF%FE',
    '/api/v1/cards/%C0%AF',
    '/api/v1/cards/%E4%BD%99%E9%A2%9D',
    `/api/v1/cards/${DEMO.active.card_no}%20x`,
  ]) {
    assertError(await api(lebd, 'GET', path), 400, 'invalid_card_number', path);
  }
  for (const path of [
    `/api/v1/orders/${pendingOrder.order_no}%00`,
    '/api/v1/orders/%00',
    '/api/v1/orders/%FF',
  ]) {
    const response = await api(lebd, 'GET', path);
    assert.ok([400, 404].includes(response.status), `${path}: ${response.status} ${response.text}`);
    assert.notEqual(response.body && response.body.order_no, pendingOrder.order_no);
  }
  for (const path of [
    '/healthz%00',
    '/%00',
    '/api/v1/cards/%',
    '/api/v1/cards/%zz',
    '/api/v1/cards/..%2F..%2F..%2Fetc%2Fpasswd',
    '/api/v1/cards/%2e%2e/%2e%2e/healthz',
    '/api//v1//cards//8986010000000000018',
    `/api/v1/sms/inbound?from=%FF&to=%00&text=%C0&key=${encodeURIComponent(lebd.smsKey)}`,
    '/api/v1/sms/inbound?from&to&text&key',
    `/api/v1/cards/${DEMO.active.card_no}?q=${'x'.repeat(4000)}`,
  ]) {
    const response = await api(lebd, 'GET', path);
    assert.ok(response.status < 500, `${path}: ${response.status}`);
  }
});

test('a request with a thousand query parameters gets an answer, not a closed connection', async () => {
  for (const count of [400, 1000]) {
    const path = `/api/v1/cards/${DEMO.active.card_no}?${'q=1&'.repeat(count)}`;
    const response = await api(lebd, 'GET', path);
    assert.ok(
      response.status < 500,
      `${count} query parameters: ${response.status} ${response.text.slice(0, 100)}`,
    );
  }
});

test('odd headers and bodies: never a 5xx', async () => {
  const orders = ROUTES.find((route) => route.name === 'orders');
  const body = JSON.stringify(orders.body());
  /* A long Idempotency-Key, a long garbage token, duplicate keys, unknown fields. */
  const longKey = await send(orders, body, { headers: { 'Idempotency-Key': 'k'.repeat(5000) } });
  assert.ok(longKey.status < 500);
  const longToken = await api(lebd, 'GET', '/api/v1/admin/ledger/check', {
    headers: { Authorization: `Bearer ${'t'.repeat(8000)}` },
  });
  assertError(longToken, 401, 'unauthorized', 'a long garbage token');
  const duplicate = await send(
    orders,
    `{"card":"${DEMO.active.card_no}","face_amount":5000,"face_amount":1e30,"channel":"web","payment_method":"sandbox"}`,
  );
  assert.ok(duplicate.status < 500);
  assert.notEqual(duplicate.status, 201, 'a duplicate key must not let 1e30 or 5000 through silently');
  const manyKeys = {};
  for (let i = 0; i < 3000; i++) manyKeys[`k${i}`] = i;
  assert.ok((await send(orders, JSON.stringify({ ...orders.body(), ...manyKeys }))).status < 500);
  /* Deep nesting that is valid JSON: refused as JSON or as a request, never a crash. */
  const deep = `${'{"a":'.repeat(10000)}1${'}'.repeat(10000)}`;
  assertOneOf(await send(orders, deep), 400, ['invalid_json', 'invalid_request'], 'deep nesting');
  const deepArray = `${'['.repeat(30000)}${']'.repeat(30000)}`;
  assertOneOf(
    await send(orders, deepArray),
    400,
    ['invalid_json'],
    'deeply nested arrays',
  );
  /* A Content-Length that promises more than is sent is the client's problem; a body on a
   * GET is ignored or refused, never a crash. */
  const getWithBody = await fetch(`${lebd.url}/healthz`, {
    method: 'GET',
    headers: { 'content-type': 'application/json', 'x-test': 'body-on-get' },
  });
  assert.ok(getWithBody.status < 500);
  await getWithBody.text();
});

test('after all that: healthy, the ledger balanced, still doing real work', async () => {
  assert.ok(lebd.running, 'lebd is still running');
  const health = await api(lebd, 'GET', '/healthz');
  assertStatus(health, 200);
  assert.deepEqual(health.body, { status: 'ok' });
  const order = await getOrder(lebd, pendingOrder.order_no);
  assertStatus(order, 200);
  assert.equal(order.body.status, 'pending_payment', 'hostile GETs did not touch the order');
  await assertLedgerBalanced(lebd, token);
  /* And it still does real work. */
  const fresh = await createOrderOk(lebd, { card: DEMO.active.card_no, face_amount: 10000 });
  assert.equal(fresh.status, 'pending_payment');
});
