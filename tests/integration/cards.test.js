'use strict';
/*
 * cards.test.js - the public card look-up, GET /api/v1/cards/{number}: the view the recharge
 * page shows, number normalisation (card or phone, spaces, dashes, full-width digits, +86),
 * check-digit errors, unknown cards, masking, and the per-address rate limit.
 */

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd } = require('../lib/lebd');
const { DEMO, api, assertError, assertStatus, luhnCardNo } = require('../lib/client');

let lebd;
before(async () => {
  /* Many look-ups below: a limit high enough that the rate limiter stays out of the way. */
  lebd = await startLebd({
    env: { LEB_LIMITS_CARD_LOOKUP_PER_MIN: '6000', LEB_LIMITS_CARD_LOOKUP_BURST: '1000' },
  });
});
after(() => lebd && lebd.close());

/* "123" -> "１２３": full-width digits (U+FF10..U+FF19), as Chinese input methods type them. */
function fullWidth(text) {
  return text.replace(/[0-9]/g, (digit) => String.fromCharCode(0xff10 + Number(digit)));
}

function lookup(instance, number) {
  return api(instance, 'GET', `/api/v1/cards/${encodeURIComponent(number)}`);
}

/* What the public view must never show. */
function assertNoFullNumbers(response) {
  for (const card of [DEMO.active, DEMO.suspended, DEMO.recycled]) {
    assert.ok(!response.text.includes(card.card_no), `the full card number leaked: ${response.text}`);
    assert.ok(
      !response.text.includes(card.msisdn.slice(3)),
      `the full phone number leaked: ${response.text}`,
    );
  }
}

function assertPublicView(body, { suffix, phoneSuffix, status, rechargeable }) {
  assert.equal(typeof body.card_no_masked, 'string');
  assert.ok(body.card_no_masked.endsWith(suffix), `card_no_masked ${body.card_no_masked}`);
  assert.equal(typeof body.msisdn_masked, 'string');
  assert.ok(body.msisdn_masked.endsWith(phoneSuffix), `msisdn_masked ${body.msisdn_masked}`);
  assert.equal(typeof body.plan, 'object');
  assert.equal(body.plan.code, 'KEEP8');
  assert.equal(typeof body.plan.name, 'string');
  assert.ok(body.plan.name.length > 0, 'the plan has a name');
  assert.equal(body.plan.currency, 'CNY');
  assert.equal(body.status, status);
  assert.equal(body.rechargeable, rechargeable);
  assert.deepEqual(body.denominations, [5000, 10000, 20000]);
  assert.equal(body.min_amount, 1000);
  assert.equal(body.max_amount, 50000);
}

test('the active demo card by card number: the public view', async () => {
  const response = await lookup(lebd, DEMO.active.card_no);
  assertStatus(response, 200);
  assert.match(response.headers.get('content-type') || '', /^application\/json/);
  assertPublicView(response.body, {
    suffix: '0018',
    phoneSuffix: '0001',
    status: 'active',
    rechargeable: true,
  });
  assertNoFullNumbers(response);
});

test('the suspended demo card is rechargeable, the recycled one is not', async () => {
  const suspended = await lookup(lebd, DEMO.suspended.card_no);
  assertStatus(suspended, 200);
  assertPublicView(suspended.body, {
    suffix: '0026',
    phoneSuffix: '0002',
    status: 'suspended',
    rechargeable: true,
  });
  assertNoFullNumbers(suspended);

  const recycled = await lookup(lebd, DEMO.recycled.card_no);
  assertStatus(recycled, 200);
  assertPublicView(recycled.body, {
    suffix: '0034',
    phoneSuffix: '0003',
    status: 'recycled',
    rechargeable: false,
  });
  assertNoFullNumbers(recycled);
});

test('the card is found by phone and card number in every accepted spelling', async () => {
  const canonical = await lookup(lebd, DEMO.active.card_no);
  assertStatus(canonical, 200);
  const spellings = [
    '+8613800000001',
    '13800000001',
    '138 0000 0001',
    '138-0000-0001',
    '+86 138 0000 0001',
    fullWidth('13800000001'),
    `+${fullWidth('8613800000001')}`,
    '8986 0100 0000 0000 018',
    '8986-0100-0000-0000-018',
    fullWidth(DEMO.active.card_no),
    fullWidth('8986 0100 0000 0000 018').replace(/ /g, '\uFF0D'),
    '8986\u30000100\u30000000\u30000000\u3000018',
  ];
  for (const spelling of spellings) {
    const response = await lookup(lebd, spelling);
    assertStatus(response, 200, `look-up of ${JSON.stringify(spelling)}`);
    assert.deepEqual(response.body, canonical.body, `same card for ${JSON.stringify(spelling)}`);
    assertNoFullNumbers(response);
  }
  /* A literal "+" in the path (not percent-encoded) is a plus sign, not a space. */
  const literalPlus = await api(lebd, 'GET', '/api/v1/cards/+8613800000001');
  assertStatus(literalPlus, 200, 'a literal + in the path');
  assert.deepEqual(literalPlus.body, canonical.body);
});

test('400 invalid_card_number for a wrong check digit, a wrong length or letters', async () => {
  const invalid = [
    '8986010000000000019', /* the active card with a wrong check digit */
    '8986010000000000010',
    '898601000000000001', /* 18 digits */
    '89860100000000000180', /* 20 digits */
    '8986O10000000000018', /* a letter O */
    'abcdefghijklmnopqrs',
    '8986010000000000018x',
    fullWidth('123'),
    '0',
  ];
  for (const number of invalid) {
    const response = await lookup(lebd, number);
    assertError(response, 400, 'invalid_card_number', `look-up of ${JSON.stringify(number)}`);
    assert.ok(!response.text.includes(DEMO.active.card_no), 'no full card number in an error');
  }
});

test('404 card_not_found for a valid number that no card has', async () => {
  const unknownCard = luhnCardNo('898601000000000009');
  assert.equal(unknownCard, '8986010000000000091');
  assertError(await lookup(lebd, unknownCard), 404, 'card_not_found', 'unknown card number');
  assertError(await lookup(lebd, '+8613900000099'), 404, 'card_not_found', 'unknown phone number');
  assertError(await lookup(lebd, '13900000099'), 404, 'card_not_found', 'unknown phone number');
});

test('look-ups are rate-limited per address: the 6th of a burst of 5 gets 429', async (t) => {
  const limited = await startLebd({
    t,
    env: { LEB_LIMITS_CARD_LOOKUP_PER_MIN: '5', LEB_LIMITS_CARD_LOOKUP_BURST: '5' },
  });
  for (let i = 1; i <= 5; i++) {
    assertStatus(await lookup(limited, DEMO.active.card_no), 200, `look-up ${i} of the burst`);
  }
  const sixth = await lookup(limited, DEMO.active.card_no);
  assertError(sixth, 429, 'rate_limited', 'the 6th look-up');
  const retryAfter = sixth.headers.get('retry-after');
  assert.ok(retryAfter !== null, 'a 429 carries Retry-After');
  assert.match(retryAfter, /^\d+$/, `Retry-After in seconds: ${retryAfter}`);
  assert.ok(Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After ${retryAfter}`);
  /* Other routes are not limited by card look-ups. */
  assertStatus(await api(limited, 'GET', '/healthz'), 200);
});
