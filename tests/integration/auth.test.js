'use strict';
/*
 * auth.test.js - logging in, routes that need a token, and the operator's back-office
 * routes: plans, single cards and all-or-nothing card batches, ending with a recharge on a
 * card the operator created.
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
  getBalance,
  login,
  luhnCardNo,
  notify,
  waitForOrderStatus,
  assertLedgerBalanced,
} = require('../lib/client');

let lebd;
before(async () => {
  lebd = await startLebd();
});
after(() => lebd && lebd.close());

function planBody(code, overrides = {}) {
  return {
    code,
    name: `Test plan ${code}`,
    currency: 'CNY',
    model: 'monthly_fee',
    monthly_fee: 500,
    denominations: [3000, 6000],
    min_amount: 1000,
    max_amount: 30000,
    grace_days: 60,
    ...overrides,
  };
}

/* Card number "index" of a series: 19 digits with a correct check digit. */
function cardNo(series, index) {
  return luhnCardNo(`898688${series}${String(index).padStart(11, '0')}`);
}

/* A Chinese mobile number, unique per series and index, in E.164. */
function msisdn(series, index) {
  return `+86139${series}${String(index).padStart(7, '0')}`;
}

/* A card number with the wrong check digit. */
function badCheckDigit(number) {
  return number.slice(0, 18) + String((Number(number[18]) + 1) % 10);
}

function adminPost(path, body, token) {
  return api(lebd, 'POST', path, { body, token });
}

test('login: a token, the admin role and an expiry in the future', async () => {
  const response = await api(lebd, 'POST', '/api/v1/auth/login', {
    body: { username: 'admin', password: lebd.adminPassword },
  });
  assertStatus(response, 200);
  assert.equal(typeof response.body.token, 'string');
  assert.ok(response.body.token.length >= 16, 'a token long enough not to be guessed');
  assert.equal(response.body.role, 'admin');
  assert.match(response.body.expires_at, RFC3339_UTC);
  assert.ok(Date.parse(response.body.expires_at) > Date.now(), 'expires in the future');
  assert.ok(!response.text.includes(lebd.adminPassword), 'the password is not echoed');
  /* Two logins, two tokens; both work. */
  const other = await login(lebd);
  assert.notEqual(other, response.body.token);
  for (const token of [response.body.token, other]) {
    assertStatus(await api(lebd, 'GET', '/api/v1/admin/ledger/check', { token }), 200);
  }
});

test('login: a wrong password and an unknown user get the same 401 invalid_credentials', async () => {
  const wrong = await api(lebd, 'POST', '/api/v1/auth/login', {
    body: { username: 'admin', password: `${lebd.adminPassword}x` },
  });
  assertError(wrong, 401, 'invalid_credentials', 'wrong password');
  const unknown = await api(lebd, 'POST', '/api/v1/auth/login', {
    body: { username: 'nobody', password: lebd.adminPassword },
  });
  assertError(unknown, 401, 'invalid_credentials', 'unknown user');
  assert.equal(unknown.body.error.message, wrong.body.error.message, 'no hint which was wrong');
  const empty = await api(lebd, 'POST', '/api/v1/auth/login', {
    body: { username: 'admin', password: '' },
  });
  assertError(empty, 401, 'invalid_credentials', 'empty password');
  assert.equal(wrong.body.token, undefined);
});

test('routes that need a token: 401 unauthorized without one or with a bad one', async () => {
  const token = await login(lebd);
  const routes = [
    ['GET', `/api/v1/cards/${DEMO.active.card_no}/balance`, undefined],
    ['GET', '/api/v1/admin/ledger/check', undefined],
    ['GET', '/api/v1/admin/plans', undefined],
    ['POST', '/api/v1/admin/plans', planBody('NOAUTH')],
    ['POST', '/api/v1/admin/cards', { card_no: cardNo(9, 1), msisdn: msisdn(9, 1), plan: 'KEEP8' }],
  ];
  const badHeaders = [
    ['no Authorization header', undefined],
    ['a garbage token', 'Bearer garbage'],
    ['a real token with a byte more', `Bearer ${token}x`],
    ['a real token cut short', `Bearer ${token.slice(0, -1)}`],
    ['an empty bearer token', 'Bearer '],
    ['another scheme', `Basic ${Buffer.from(`admin:${lebd.adminPassword}`).toString('base64')}`],
    ['the token without a scheme', token],
  ];
  for (const [method, path, body] of routes) {
    for (const [what, header] of badHeaders) {
      const headers = header === undefined ? {} : { Authorization: header };
      const response = await api(lebd, method, path, { body, headers });
      assertError(response, 401, 'unauthorized', `${method} ${path} with ${what}`);
      assert.ok(!response.text.includes(DEMO.active.card_no), 'no card data without a token');
    }
  }
  const plans = await api(lebd, 'GET', '/api/v1/admin/plans', { token });
  assertStatus(plans, 200);
  assert.ok(
    !plans.body.plans.some((plan) => plan.code === 'NOAUTH'),
    'the plan posted without a token does not exist',
  );
  assertError(
    await api(lebd, 'GET', `/api/v1/cards/${cardNo(9, 1)}/balance`, { token }),
    404,
    'card_not_found',
    'the card posted without a token does not exist',
  );
});

test('admin plans: 201, then 409 plan_exists, 400 invalid_plan, listed', async () => {
  const token = await login(lebd);
  const created = await adminPost('/api/v1/admin/plans', planBody('TESTP'), token);
  assertStatus(created, 201, 'create plan TESTP');
  assert.equal(created.body.code, 'TESTP');
  assert.equal(created.body.currency, 'CNY');
  assert.equal(created.body.model, 'monthly_fee');
  assert.deepEqual(created.body.denominations, [3000, 6000]);
  assert.equal(created.body.min_amount, 1000);
  assert.equal(created.body.max_amount, 30000);
  assert.equal(created.body.amount_step, 100, 'amount_step defaults to 100');
  assert.equal(created.body.daily_limit, 0, 'daily_limit defaults to 0');
  assert.equal(created.body.recharge_allowed, true, 'recharge_allowed defaults to true');

  assertError(
    await adminPost('/api/v1/admin/plans', planBody('TESTP'), token),
    409,
    'plan_exists',
    'the same code again',
  );
  assertError(
    await adminPost('/api/v1/admin/plans', planBody('KEEP8'), token),
    409,
    'plan_exists',
    'the demo plan code',
  );

  const invalid = [
    ['min above max', { min_amount: 40000, max_amount: 30000, denominations: [] }],
    ['a denomination above max', { denominations: [3000, 60000] }],
    ['a denomination below min', { denominations: [500] }],
    ['a zero minimum', { min_amount: 0 }],
    ['a negative maximum', { max_amount: -1 }],
    ['a code in lower case', { code: 'lower' }],
    ['a code with a space', { code: 'A B' }],
    ['a code of 33 characters', { code: 'A'.repeat(33) }],
    ['an empty code', { code: '' }],
    ['a currency that is not ISO 4217 shaped', { currency: 'cny' }],
    ['a currency of four letters', { currency: 'CNYY' }],
  ];
  const invalidCodes = [];
  for (const [index, [what, overrides]] of invalid.entries()) {
    const body = planBody(`BAD${index}`, overrides);
    invalidCodes.push(body.code);
    assertError(await adminPost('/api/v1/admin/plans', body, token), 400, 'invalid_plan', what);
  }

  const list = await api(lebd, 'GET', '/api/v1/admin/plans', { token });
  assertStatus(list, 200);
  const codes = list.body.plans.map((plan) => plan.code);
  assert.ok(codes.includes('KEEP8'), 'the demo plan is listed');
  assert.ok(codes.includes('TESTP'), 'the new plan is listed');
  for (const code of invalidCodes) {
    assert.ok(!codes.includes(code), `the invalid plan ${JSON.stringify(code)} was stored`);
  }
});

test('admin cards: 201 with the card view, 409 card_exists, 422 plan_not_found, 400 errors', async () => {
  const token = await login(lebd);
  assertStatus(
    await adminPost('/api/v1/admin/plans', planBody('CARDP'), token),
    201,
    'plan for the cards',
  );
  const number = cardNo(1, 1);
  const created = await adminPost(
    '/api/v1/admin/cards',
    { card_no: number, msisdn: msisdn(1, 1), plan: 'CARDP' },
    token,
  );
  assertStatus(created, 201, 'create a card');
  const view = created.body;
  assert.equal(view.card_no, number);
  assert.equal(typeof view.card_no_masked, 'string');
  assert.ok(!view.card_no_masked.includes(number), 'card_no_masked is masked');
  assert.equal(view.msisdn, msisdn(1, 1));
  assert.equal(typeof view.msisdn_masked, 'string');
  assert.ok(
    view.plan === 'CARDP' || (view.plan && view.plan.code === 'CARDP'),
    `plan ${JSON.stringify(view.plan)}`,
  );
  assert.equal(view.status, 'active', 'status defaults to active');
  assert.equal(view.balance, 0);
  assert.equal(view.currency, 'CNY');
  assert.match(view.created_at, RFC3339_UTC);

  /* Input spelled as people type it is normalised. */
  const spelled = await adminPost(
    '/api/v1/admin/cards',
    {
      card_no: cardNo(1, 2).replace(/(\d{4})/g, '$1 ').trim(),
      msisdn: '139 1000 0002',
      plan: 'CARDP',
      status: 'suspended',
    },
    token,
  );
  assertStatus(spelled, 201, 'a card given with spaces');
  assert.equal(spelled.body.card_no, cardNo(1, 2));
  assert.equal(spelled.body.msisdn, '+8613910000002');
  assert.equal(spelled.body.status, 'suspended');

  assertError(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: number, msisdn: msisdn(1, 3), plan: 'CARDP' },
      token,
    ),
    409,
    'card_exists',
    'the same card number again',
  );
  assertError(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: DEMO.active.card_no, msisdn: msisdn(1, 4), plan: 'KEEP8' },
      token,
    ),
    409,
    'card_exists',
    'a demo card number',
  );
  assertError(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: cardNo(1, 5), msisdn: msisdn(1, 5), plan: 'NOPLAN' },
      token,
    ),
    422,
    'plan_not_found',
    'a plan that does not exist',
  );
  assertError(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: badCheckDigit(cardNo(1, 6)), msisdn: msisdn(1, 6), plan: 'CARDP' },
      token,
    ),
    400,
    'invalid_card_number',
    'a wrong check digit',
  );
  assertError(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: cardNo(1, 7), msisdn: '12345', plan: 'CARDP' },
      token,
    ),
    400,
    'invalid_phone_number',
    'a phone number that is no phone number',
  );
  for (const index of [5, 6, 7]) {
    assertError(
      await api(lebd, 'GET', `/api/v1/cards/${cardNo(1, index)}/balance`, { token }),
      404,
      'card_not_found',
      `rejected card ${index} was not stored`,
    );
  }
});

test('a batch of 300 cards is created; a batch with one bad row creates nothing', async () => {
  const token = await login(lebd);
  assertStatus(await adminPost('/api/v1/admin/plans', planBody('BATCHP'), token), 201);

  const good = Array.from({ length: 300 }, (_, index) => ({
    card_no: cardNo(2, index),
    msisdn: msisdn(2, index),
    plan: 'BATCHP',
  }));
  const created = await adminPost('/api/v1/admin/cards', { cards: good }, token);
  assertStatus(created, 201, 'a batch of 300');
  assert.equal(created.body.created, 300);
  assert.equal(created.body.cards.length, 300);
  assert.deepEqual(
    created.body.cards.map((card) => card.card_no).sort(),
    good.map((card) => card.card_no).sort(),
  );
  for (const index of [0, 150, 299]) {
    const balance = await getBalance(lebd, cardNo(2, index), token);
    assert.equal(balance.balance, 0);
    assert.equal(balance.msisdn, msisdn(2, index));
  }
  const lookup = await api(lebd, 'GET', `/api/v1/cards/${cardNo(2, 299)}`);
  assertStatus(lookup, 200, 'the last card of the batch, publicly');
  assert.equal(lookup.body.plan.code, 'BATCHP');

  /* 300 rows, one with a wrong check digit: nothing at all may be written. */
  const badIndex = 123;
  const rows = Array.from({ length: 300 }, (_, index) => ({
    card_no: index === badIndex ? badCheckDigit(cardNo(3, index)) : cardNo(3, index),
    msisdn: msisdn(3, index),
    plan: 'BATCHP',
  }));
  const rejected = await adminPost('/api/v1/admin/cards', { cards: rows }, token);
  assertError(rejected, 422, 'invalid_batch', 'a batch with a bad row');
  const details = rejected.body.error.details;
  assert.ok(Array.isArray(details), `error.details is a list: ${rejected.text.slice(0, 300)}`);
  assert.equal(details.length, 1, `one bad row: ${JSON.stringify(details)}`);
  assert.equal(details[0].index, badIndex);
  assert.equal(details[0].code, 'invalid_card_number');
  assert.equal(typeof details[0].message, 'string');
  for (const index of [0, 1, badIndex - 1, badIndex + 1, 299]) {
    assertError(
      await api(lebd, 'GET', `/api/v1/cards/${cardNo(3, index)}/balance`, { token }),
      404,
      'card_not_found',
      `good row ${index} of the rejected batch`,
    );
  }
  assertError(
    await api(lebd, 'GET', `/api/v1/cards/${cardNo(3, 0)}`),
    404,
    'card_not_found',
    'publicly',
  );

  /* A row that repeats an existing card, and rows with an unknown plan: all named. */
  const mixed = [
    { card_no: cardNo(4, 0), msisdn: msisdn(4, 0), plan: 'BATCHP' },
    { card_no: cardNo(2, 7), msisdn: msisdn(4, 1), plan: 'BATCHP' },
    { card_no: cardNo(4, 2), msisdn: msisdn(4, 2), plan: 'NOPLAN' },
    { card_no: cardNo(4, 3), msisdn: msisdn(4, 3), plan: 'BATCHP' },
  ];
  const mixedResponse = await adminPost('/api/v1/admin/cards', { cards: mixed }, token);
  assertError(mixedResponse, 422, 'invalid_batch', 'a batch with an existing card');
  const mixedDetails = mixedResponse.body.error.details;
  assert.deepEqual(
    mixedDetails.map((detail) => [detail.index, detail.code]).sort(),
    [
      [1, 'card_exists'],
      [2, 'plan_not_found'],
    ],
  );
  for (const index of [0, 3]) {
    assertError(
      await api(lebd, 'GET', `/api/v1/cards/${cardNo(4, index)}/balance`, { token }),
      404,
      'card_not_found',
    );
  }
  await assertLedgerBalanced(lebd, token);
});

test('a card the operator created can be recharged end to end', async () => {
  const token = await login(lebd);
  assertStatus(await adminPost('/api/v1/admin/plans', planBody('E2EP'), token), 201);
  const number = cardNo(5, 1);
  assertStatus(
    await adminPost(
      '/api/v1/admin/cards',
      { card_no: number, msisdn: msisdn(5, 1), plan: 'E2EP' },
      token,
    ),
    201,
  );
  const view = await api(lebd, 'GET', `/api/v1/cards/${number}`);
  assertStatus(view, 200);
  assert.equal(view.body.plan.code, 'E2EP');
  assert.deepEqual(view.body.denominations, [3000, 6000]);
  assert.equal(view.body.min_amount, 1000);
  assert.equal(view.body.max_amount, 30000);
  assert.equal(view.body.rechargeable, true);

  const order = await createOrderOk(lebd, { card: number, face_amount: 6000 });
  const response = await notify(lebd, {
    order_no: order.order_no,
    amount: order.pay_amount,
    status: 'SUCCESS',
  });
  assertStatus(response, 200);
  assert.equal(response.body.received, true);
  await waitForOrderStatus(lebd, order.order_no, 'succeeded');
  const balance = await getBalance(lebd, number, token);
  assert.equal(balance.balance, 6000);
  assert.equal(balance.status, 'active');
  /* Its phone number finds it too. */
  assert.equal((await getBalance(lebd, msisdn(5, 1), token)).card_no, number);
  await assertLedgerBalanced(lebd, token);
});

test('a batch of the documented maximum, 1000 cards, fits its body limit; 1001 is refused', async () => {
  const token = await login(lebd);
  assertStatus(await adminPost('/api/v1/admin/plans', planBody('BATCHK'), token), 201);
  const rows = (count) =>
    Array.from({ length: count }, (_, index) => ({
      card_no: cardNo(6, index),
      msisdn: msisdn(6, index),
      plan: 'BATCHK',
    }));
  const tooMany = await adminPost('/api/v1/admin/cards', { cards: rows(1001) }, token);
  assertError(tooMany, 400, 'invalid_request', 'a batch of 1001');
  assertError(
    await api(lebd, 'GET', `/api/v1/cards/${cardNo(6, 0)}/balance`, { token }),
    404,
    'card_not_found',
    'nothing of the refused batch exists',
  );
  const created = await adminPost('/api/v1/admin/cards', { cards: rows(1000) }, token);
  assertStatus(created, 201, 'a batch of 1000');
  assert.equal(created.body.created, 1000);
  const last = await getBalance(lebd, cardNo(6, 999), token);
  assert.equal(last.balance, 0);
});
