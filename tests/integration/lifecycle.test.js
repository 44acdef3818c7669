'use strict';
/*
 * lifecycle.test.js - keeping numbers alive over simulated time (src/core/lifecycle.h): monthly
 * fees, validity, reminders, suspension, reactivation, last warnings, recycling, driven through
 * the test-mode clock and job routes of lebd --test-mode.
 *
 * The big test simulates 14 months (2027-01-01 .. 2028-02-29, leap day included) for
 * LEB_LIFECYCLE_CARDS cards (1000, or 200 under the sanitizers) on five plans of both retention
 * models, with top-ups on time, late, partial and never, all through the real order + signed
 * notification path, and with auto-renewals (src/core/autorenew.h): keep_fee and threshold
 * rules, succeeding and failing sandbox agreements, set up with the card, part-way through the
 * year (some on suspended cards) or switched off part-way. It keeps its own model of the rules
 * of lifecycle.h, of autorenew.h (as src/app/autorenew.c schedules them) and of the billing
 * calendar of timeutil.h (nothing is asked of lebd to compute an expectation) and compares,
 * for every jobs run, the counts of what was done (auto_renew.charged/failed/given_up too);
 * for every phase of every day, the exact set of telecom webhooks; at the end of every month,
 * every card's status, balance, arrears, next_billing_at, valid_until and suspended_at, every
 * auto-renewal's setting, attempts and last_attempt_at, and the ledger; at the end, the SMS
 * each card was sent (auto-renewals' recharge_succeeded and auto_renew_failed included).
 *
 * Where lifecycle.h leaves an order of steps to lebd (a reminder and the billing it announces
 * both due in one run, a credit of less than the arrears on a card that still has a balance),
 * the scenario never goes: the model refuses such a state rather than guess.
 *
 * Time: lebd's clock is time(NULL) plus an offset, so it keeps running in real time between
 * the test's moves. Each simulated day has three phases at fixed times of day, an hour apart:
 *   12:00 J   the jobs run (monthly billing, reminders, warnings and recycling of monthly
 *             cards all fall on 00:00:00 instants, so they are due here);
 *   13:00 U   the users act: cards are created, orders paid (so a validity card's valid_until,
 *             counted from a top-up or an activation, falls at 13:00:xx of some day);
 *   14:00 J2  the jobs run again (validity expiries, reminders and warnings at 13:00:xx, and
 *             reminders of cards reactivated at U).
 * The model keeps every instant as an interval [lo, hi] bounding lebd's clock during the
 * request that fixed it, and refuses to decide a comparison its intervals cannot settle, so
 * a few seconds of drift never change an outcome silently. An admin token that lebd stops
 * taking (expired) is replaced by a new login.
 *
 * Auto-renewal runs first in every jobs run. The model charges when autorenew.h says, however
 * lebd schedules its looks at a card (next_check_at is lebd's own business, and autorenew.h
 * has the caller look again after any change of the card): an active card from its lead,
 * 1 + remind_days_before days before its cycle (a 00:00 instant for monthly cards, so J of
 * that day; 13:00:xx for validity cards, so J2 of that day; or the first run after the credit
 * or the setting that gave it a cycle whose lead had passed), a suspended card at the first
 * run after its suspension or its setting, a failed charge again 6 h later (the next J), three
 * times a cycle. A credit that counted a validity card's valid_until from a jobs run's now (a
 * suspended card, or a capped one) would put its later steps at 12:00:xx or 14:00:xx, where J
 * or J2 could not tell them from its own now: the scenario never lets an auto-renewal credit a
 * validity card that way (the model refuses), and brings suspended cards back through monthly
 * cards.
 *
 * The other tests: the clock only moves forward; jobs/run twice in a row and five at once
 * charge once; a crash (SIGKILL) in the middle of a big billing run loses or doubles nothing;
 * payments racing a billing run are never lost; the plan's lifecycle fields are checked; a job
 * not run for months catches up one cycle at a time; outside test mode the clock and jobs
 * routes do not exist.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');

const { startLebd, delay, SANITIZED } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrder,
  getOrder,
  luhnCardNo,
  mapLimit,
  notify,
} = require('../lib/client');

const DAY = 86400;
const HOUR = 3600;
const T0 = Date.UTC(2027, 0, 1) / 1000;
const CLOCK_START = '2027-01-01T00:00:00Z';
/* Day 424 is 2028-02-29: the leap day is billed too. */
const SIM_DAYS = Number(process.env.LEB_LIFECYCLE_DAYS) || 425;
const CARDS = Number(process.env.LEB_LIFECYCLE_CARDS) || (SANITIZED ? 200 : 1000);
const IN_FLIGHT = 32;
/* The days (from 2027-01-01) cards are created on: the 1st, the 5th, the 13th, the 28th to
 * the 31st of January (billed on 28 February, 30 April, 29 February 2028...), 15 February
 * and 1 March. */
const CREATE_DAYS = [0, 4, 12, 27, 28, 29, 30, 45, 59];
const PHASE_J = 12 * HOUR;
/* autorenew.h */
const AUTORENEW_LEAD_DAYS = 1;
const AUTORENEW_RETRY_S = 6 * HOUR;
const AUTORENEW_ATTEMPTS_MAX = 3;

/* lebd's background jobs stay out of the way: the lifecycle job runs once at start (nothing
 * is due then) and then once a day of real time; order expiry once an hour of real time. */
const ORDER_TTL_S = 900; /* the default, said out loud: the model expires orders by it */
const LEBD_ENV = {
  LEB_LIFECYCLE_INTERVAL_S: '86400',
  LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
  LEB_ORDERS_TTL_S: String(ORDER_TTL_S),
  LEB_LIMITS_CARD_LOOKUP_PER_MIN: '6000',
  LEB_LIMITS_CARD_LOOKUP_BURST: '1000',
};

function startTestLebd(t, extra = {}) {
  return startLebd({
    t,
    testMode: true,
    args: ['--clock', CLOCK_START],
    env: { ...LEBD_ENV, ...(extra.env || {}) },
  });
}

/* ------------------------------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------------------------- */

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(text, what = 'time') {
  if (text === null || text === undefined) return null;
  assert.match(text, RFC3339_UTC, `${what} is RFC 3339 UTC`);
  return Date.parse(text) / 1000;
}

function dayOf(seconds) {
  return Math.floor((seconds - T0) / DAY);
}

function dateOfDay(day) {
  return iso(T0 + day * DAY).slice(0, 10);
}

/* The model of time_next_billing(): the first billing instant strictly after "after" for a
 * card activated at "activatedAt": the activation day of the month at 00:00:00 UTC, clamped
 * to the month's last day. */
function nextBillingAfter(activatedAt, after) {
  const dayOfMonth = new Date(activatedAt * 1000).getUTCDate();
  const from = new Date(after * 1000);
  for (let k = 0; k <= 2; k++) {
    const year = from.getUTCFullYear();
    const month = from.getUTCMonth() + k; /* Date.UTC carries an overflowing month */
    const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const instant = Date.UTC(year, month, Math.min(dayOfMonth, last)) / 1000;
    if (instant > after) return instant;
  }
  throw new Error(`nextBillingAfter(${after}): unreachable`);
}

/* Instants the model cannot know to the second are intervals [lo, hi]. */
const iv = (lo, hi = lo) => ({ lo, hi });
const ivShift = (a, s) => iv(a.lo + s, a.hi + s);
const ivMax = (a, b) => iv(Math.max(a.lo, b.lo), Math.max(a.hi, b.hi));
const ivMin = (a, b) => iv(Math.min(a.lo, b.lo), Math.min(a.hi, b.hi));
const ivSame = (a, b) => a !== null && b !== null && a.lo === b.lo && a.hi === b.hi;
const ivText = (a) => (a.lo === a.hi ? iso(a.lo) : `[${iso(a.lo)}, ${iso(a.hi)}]`);

/* now >= at; a comparison the intervals cannot settle is a flaw of the test's design. */
function reached(now, at, what) {
  if (now.lo >= at.hi) return true;
  if (now.hi < at.lo) return false;
  throw new Error(`model: cannot decide whether ${what} at ${ivText(at)} is reached at ${ivText(now)}`);
}

/* a > b */
function later(a, b, what) {
  if (a.lo > b.hi) return true;
  if (a.hi <= b.lo) return false;
  throw new Error(`model: cannot decide whether ${what}: ${ivText(a)} > ${ivText(b)}`);
}

/* ------------------------------------------------------------------------------------------
 * lebd as an admin drives it: a token renewed when lebd refuses it, the clock routes,
 * and an estimate of lebd's clock at any instant of the test's own clock.
 * ---------------------------------------------------------------------------------------- */

class Ctl {
  constructor(lebd) {
    this.lebd = lebd;
    this.token = null;
    this.logins = 0;
    /* The last clock answer: lebd's now S, read between the test's instants tReq and tResp
     * (ms). lebd's now is floor(wall) + offset, so at wall instant t it lies in
     * [S + floor(t) - floor(tResp), S + floor(t) - floor(tReq)]. */
    this.S = null;
    this.tReqS = 0;
    this.tRespS = 0;
  }

  during(ta, tb = ta) {
    if (this.S === null) return null; /* not read yet */
    return iv(
      this.S + Math.floor(ta / 1000) - this.tRespS - 1,
      this.S + Math.floor(tb / 1000) - this.tReqS + 1,
    );
  }

  async login() {
    const response = await api(this.lebd, 'POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: this.lebd.adminPassword },
    });
    assertStatus(response, 200, 'admin login');
    this.token = response.body.token;
    parseTime(response.body.expires_at, 'token expires_at');
    this.logins++;
    return this.token;
  }

  async validToken() {
    if (this.token === null) await this.login();
    return this.token;
  }

  /* One admin request; a 401 (the token expired, by the real clock or by lebd's) logs in
   * again, once. */
  async call(method, path, body, options = {}) {
    await this.validToken();
    let response = await api(this.lebd, method, path, { token: this.token, body, ...options });
    if (response.status === 401) {
      await this.login();
      response = await api(this.lebd, method, path, { token: this.token, body, ...options });
    }
    return response;
  }

  async assertLedgerBalanced() {
    const response = await this.call('GET', '/api/v1/admin/ledger/check');
    assertStatus(response, 200, 'ledger check');
    assert.equal(response.body.balanced, true, `ledger not balanced: ${JSON.stringify(response.body)}`);
    assert.deepEqual(response.body.mismatches, [], 'ledger mismatches');
    return response.body;
  }

  async moveClock(body) {
    const tReq = Date.now();
    const response = await this.call('POST', '/api/v1/admin/clock', body);
    const tResp = Date.now();
    assertStatus(response, 200, `clock ${JSON.stringify(body)}`);
    const now = parseTime(response.body.now, 'clock now');
    this.S = now;
    this.tReqS = Math.floor(tReq / 1000);
    this.tRespS = Math.floor(tResp / 1000);
    return now;
  }

  async setClock(seconds) {
    const now = await this.moveClock({ now: iso(seconds) });
    /* A few seconds late at most (the answer reads the clock again). */
    assert.ok(now >= seconds && now <= seconds + 10, `clock set to ${iso(seconds)}, lebd says ${iso(now)}`);
    return now;
  }

  async advance(seconds) {
    assert.ok(this.S !== null, 'the clock was read before it is advanced');
    const before = this.during(Date.now());
    const now = await this.moveClock({ advance_s: seconds });
    assert.ok(
      now >= before.lo + seconds && now <= before.hi + seconds + 10,
      `advance by ${seconds}: lebd says ${iso(now)}, expected about ${ivText(ivShift(before, seconds))}`,
    );
    return now;
  }

  /* One jobs run; resolves to {body, now}: the counts and lebd's clock during the run. */
  async runJobs() {
    const ta = Date.now();
    const response = await this.call('POST', '/api/v1/admin/jobs/run', {});
    const tb = Date.now();
    assertStatus(response, 200, 'jobs/run');
    assertJobsShape(response.body);
    return { body: response.body, now: this.during(ta, tb) };
  }

  async view(number) {
    const response = await this.call('GET', `/api/v1/cards/${encodeURIComponent(number)}/balance`);
    assertStatus(response, 200, `balance of ${number}`);
    return response.body;
  }

  async outbox(destination, limit) {
    const query = `destination=${encodeURIComponent(destination)}&limit=${limit}`;
    const response = await this.call('GET', `/api/v1/admin/outbox?${query}`);
    assertStatus(response, 200, `outbox of ${destination}`);
    assert.ok(Array.isArray(response.body.messages), 'outbox messages is a list');
    return response.body.messages;
  }

  async createPlan(body) {
    const response = await this.call('POST', '/api/v1/admin/plans', body);
    assertStatus(response, 201, `plan ${body.code}`);
    return response.body;
  }

  async createCards(cards) {
    const ta = Date.now();
    const response = await this.call('POST', '/api/v1/admin/cards', { cards });
    const tb = Date.now();
    assertStatus(response, 201, `a batch of ${cards.length} cards`);
    assert.equal(response.body.created, cards.length);
    assert.equal(response.body.cards.length, cards.length);
    return { views: response.body.cards, now: this.during(ta, tb) };
  }

  /* PUT .../auto-renew; resolves to {view, now}: the answer and lebd's clock during it. */
  async setAutoRenew(number, body) {
    const ta = Date.now();
    const path = `/api/v1/admin/cards/${encodeURIComponent(number)}/auto-renew`;
    const response = await this.call('PUT', path, body);
    const tb = Date.now();
    assertStatus(response, 200, `auto-renew ${JSON.stringify(body)} of ${number}`);
    return { view: response.body, now: this.during(ta, tb) };
  }

  async autoRenew(number) {
    const response = await this.call('GET', `/api/v1/admin/cards/${encodeURIComponent(number)}/auto-renew`);
    assertStatus(response, 200, `auto-renew of ${number}`);
    return response.body;
  }
}

const JOB_COUNTS = ['charged', 'suspended', 'recycled', 'reminders', 'warnings'];
const AUTO_RENEW_COUNTS = ['charged', 'failed', 'given_up'];

function assertJobsShape(body) {
  assert.ok(body && typeof body.lifecycle === 'object', `jobs/run answer: ${JSON.stringify(body)}`);
  for (const key of ['cards', ...JOB_COUNTS]) {
    assert.ok(
      Number.isSafeInteger(body.lifecycle[key]) && body.lifecycle[key] >= 0,
      `jobs/run lifecycle.${key}: ${JSON.stringify(body)}`,
    );
  }
  assert.ok(Number.isSafeInteger(body.expired_orders) && body.expired_orders >= 0);
  assert.ok(typeof body.auto_renew === 'object' && body.auto_renew !== null, `jobs/run: ${JSON.stringify(body)}`);
  for (const key of AUTO_RENEW_COUNTS) {
    assert.ok(
      Number.isSafeInteger(body.auto_renew[key]) && body.auto_renew[key] >= 0,
      `jobs/run auto_renew.${key}: ${JSON.stringify(body)}`,
    );
  }
}

/* An order and its signed SUCCESS notification; resolves to lebd's clock during the two. */
async function topUp(ctl, cardNo, amount) {
  const ta = Date.now();
  const order = await createOrder(ctl.lebd, { card: cardNo, face_amount: amount });
  assertStatus(order, 201, `order of ${amount} on ${cardNo}`);
  assert.equal(order.body.pay_amount, amount, 'no discount or fee on these plans');
  const paid = await notify(ctl.lebd, {
    order_no: order.body.order_no,
    amount: order.body.pay_amount,
    status: 'SUCCESS',
  });
  assertStatus(paid, 200, `notification of ${order.body.order_no}`);
  assert.equal(paid.body.received, true);
  return ctl.during(ta, Date.now());
}

/* A card number (prefix6 and the index, with its check digit) and a Chinese mobile number
 * (+86, phone3 such as "137", and the index). */
function cardNumbers(prefix6, phone3, index) {
  return {
    card_no: luhnCardNo(`${prefix6}${String(index).padStart(12, '0')}`),
    msisdn: `+86${phone3}${String(index).padStart(8, '0')}`,
  };
}

/* What the scenario's plans sell: denominations, or multiples of step within [min, max]. */
const PRICING = { denominations: [1000, 5000], min: 100, max: 100000, step: 100 };
const pricingOf = (plan) => plan.pricing || PRICING;

function planBody(plan) {
  const pricing = pricingOf(plan);
  const body = {
    code: plan.code,
    name: `Lifecycle ${plan.code}`,
    currency: 'CNY',
    model: plan.model,
    denominations: pricing.denominations,
    min_amount: pricing.min,
    max_amount: pricing.max,
    amount_step: pricing.step,
    daily_limit: 0,
    grace_days: plan.grace,
  };
  if (plan.model === 'monthly_fee') {
    body.monthly_fee = plan.fee;
  } else {
    body.validity_days = plan.vd;
    body.validity_step_amount = plan.step;
    body.validity_days_max = plan.vmax;
    if (plan.explicitZeroFee) body.monthly_fee = 0;
  }
  if (!plan.defaultLeads) {
    body.remind_days_before = plan.remind;
    body.recycle_warning_days = plan.warn;
  }
  return body;
}

function assertPlanEcho(created, plan) {
  assert.equal(created.code, plan.code);
  assert.equal(created.model, plan.model);
  assert.equal(created.grace_days, plan.grace);
  /* The defaults (3 and 7) when the fields were left out. */
  for (const [field, value] of [['remind_days_before', plan.remind], ['recycle_warning_days', plan.warn]]) {
    if (field in created) assert.equal(created[field], value, `${plan.code} ${field}`);
  }
}

/* ------------------------------------------------------------------------------------------
 * The model: lifecycle.h's rules, written again from its comments.
 * ---------------------------------------------------------------------------------------- */

const SMS_TEMPLATES = [
  'recharge_succeeded', 'low_balance', 'suspended', 'recycle_warning', 'recycled', 'auto_renew_failed',
  'reactivated',
];
/* What the scenario must have done at least once. */
const TOTALS = [
  'topups', 'reactivations', 'partials', 'forfeits', 'capped', 'clamped', 'charged', 'suspended',
  'recycled', 'reminders', 'warnings', 'refunds', 'rejected',
  /* auto-renewal: credits, credits that brought a card back, keep_fee amounts that are a
   * denomination and no multiple of the step, refused agreements, cycles given up, second
   * charges of a cycle that the trade number kept from being credited, settings made on an
   * existing card, settings switched off */
  'arCharged', 'arReactivated', 'arDenomination', 'arFailed', 'arGivenUp', 'arDuplicates',
  'arEnabledLater', 'arDisabled',
];
const STEP_COUNT = {
  charge_fee: 'charged',
  suspend: 'suspended',
  recycle: 'recycled',
  remind_low: 'reminders',
  warn_recycle: 'warnings',
};

/* Whether two instants the model holds are one: the same interval object or the same exact
 * second are; intervals apart are not; anything else the model cannot tell. */
function sameInstant(a, b, what) {
  if (a === b || (a.lo === a.hi && b.lo === b.hi && a.lo === b.lo)) return true;
  if (a.hi < b.lo || b.hi < a.lo) return false;
  throw new Error(`model: cannot tell whether ${what} ${ivText(a)} and ${ivText(b)} are one instant`);
}

/* The smallest amount "plan" sells (a denomination, or a multiple of its step, within
 * [min, max]) that is at least "needed". When none is, lebd charges the largest it sells
 * (autorenew.c; autorenew.h does not say): the scenario does not go there. */
function smallestSold(plan, needed, card) {
  const { denominations, min, max, step } = pricingOf(plan);
  const from = Math.max(needed, min);
  const candidates = [Math.ceil(from / step) * step, ...denominations.filter((d) => d >= from)];
  const sold = candidates.filter((amount) => amount <= max);
  if (sold.length === 0) throw new Error(`model: ${plan.code} sells nothing covering ${needed} for ${card.label}`);
  return Math.min(...sold);
}

class Model {
  constructor() {
    this.cards = [];
    this.byNo = new Map();
    this.webhooks = []; /* expected since the last telecom check */
    this.pendingOrders = []; /* orders that must expire, {orderNo, expiresAt} */
    this.arCards = []; /* the cards that have had an auto-renewal set up */
    this.day = 0;
    this.totals = Object.fromEntries(TOTALS.map((key) => [key, 0]));
  }

  add(card) {
    Object.assign(card, {
      arrears: card.arrears || 0,
      balance: card.balance || 0,
      suspendedAt: card.suspendedAt || null,
      remindedFor: null,
      warnedFor: null,
      pendingReminder: false,
      suspendedDay: null,
      forfeited: 0,
      sms: Object.fromEntries(SMS_TEMPLATES.map((name) => [name, 0])),
      needs422: card.status === 'recycled',
      ar: null, /* the auto-renewal lebd holds for the card, as the model sees it */
      arCredited: [], /* the cycles an agreement charge was credited for (trade AR<card>C<cycle>) */
    });
    this.cards.push(card);
    this.byNo.set(card.card_no, card);
    return card;
  }

  hook(card, event) {
    this.webhooks.push({ event, card_no: card.card_no, msisdn: card.msisdn, status: card.status });
  }

  /* The steps due for "card" at "now", as lifecycle_next() would find them one by one. More
   * than one due at once would leave their order to lebd: the scenario avoids it. */
  due(card, now) {
    const plan = card.plan;
    const steps = [];
    if (card.status === 'active' && plan.model === 'monthly_fee') {
      const billing = iv(card.nextBilling);
      if (reached(now, billing, `billing of ${card.label}`)) {
        steps.push(card.balance >= plan.fee ? 'charge_fee' : 'suspend');
      }
      if (
        plan.remind > 0 &&
        card.balance < plan.fee &&
        !ivSame(card.remindedFor, billing) &&
        reached(now, ivShift(billing, -plan.remind * DAY), `reminder of ${card.label}`)
      ) {
        steps.push('remind_low');
      }
    } else if (card.status === 'active') {
      if (reached(now, card.validUntil, `end of validity of ${card.label}`)) steps.push('suspend');
      if (
        plan.remind > 0 &&
        !ivSame(card.remindedFor, card.validUntil) &&
        reached(now, ivShift(card.validUntil, -plan.remind * DAY), `reminder of ${card.label}`)
      ) {
        steps.push('remind_low');
      }
    } else if (card.status === 'suspended') {
      const recycleAt = ivShift(card.suspendedAt, plan.grace * DAY);
      if (reached(now, recycleAt, `recycling of ${card.label}`)) steps.push('recycle');
      if (
        plan.warn > 0 &&
        !ivSame(card.warnedFor, card.suspendedAt) &&
        reached(now, ivShift(recycleAt, -plan.warn * DAY), `last warning of ${card.label}`)
      ) {
        steps.push('warn_recycle');
      }
    }
    return steps;
  }

  apply(card, step) {
    const plan = card.plan;
    switch (step) {
      case 'charge_fee':
        card.balance -= plan.fee;
        if (new Date(card.nextBilling * 1000).getUTCDate() !== new Date(card.activatedAt * 1000).getUTCDate()) {
          this.totals.clamped++; /* billed on a month's last day before its activation day */
        }
        card.nextBilling = nextBillingAfter(card.activatedAt, card.nextBilling);
        break;
      case 'suspend':
        card.status = 'suspended';
        card.suspendedDay = this.day;
        if (plan.model === 'monthly_fee') {
          card.arrears = plan.fee;
          card.suspendedAt = iv(card.nextBilling);
        } else {
          card.suspendedAt = card.validUntil;
        }
        card.sms.suspended++;
        this.hook(card, 'card.suspended');
        break;
      case 'remind_low':
        card.remindedFor = plan.model === 'monthly_fee' ? iv(card.nextBilling) : card.validUntil;
        card.pendingReminder = true;
        card.sms.low_balance++;
        break;
      case 'warn_recycle':
        card.warnedFor = card.suspendedAt;
        card.sms.recycle_warning++;
        break;
      case 'recycle':
        card.status = 'recycled';
        card.forfeited += card.balance;
        if (card.balance > 0) this.totals.forfeits++;
        card.balance = 0;
        card.needs422 = true;
        card.sms.recycled++;
        this.hook(card, 'card.recycled');
        break;
      default:
        throw new Error(`model: unknown step ${step}`);
    }
    this.totals[STEP_COUNT[step]]++;
  }

  /* One jobs run at "now": auto-renewals first (sched.c, routes_ops.c), then every card step by
   * step, then order expiry; resolves to the counts. */
  run(now) {
    const ar = Object.fromEntries(AUTO_RENEW_COUNTS.map((key) => [key, 0]));
    ar.log = []; /* what the model did, for the messages */
    for (const card of this.arCards) {
      if (card.ar.enabled) this.autoRenew(card, now, ar);
    }
    const counts = Object.fromEntries(JOB_COUNTS.map((key) => [key, 0]));
    for (const card of this.cards) {
      for (let guard = 0; ; guard++) {
        assert.ok(guard < 64, `model: ${card.label} does not settle`);
        const steps = this.due(card, now);
        if (steps.length === 0) break;
        if (steps.length > 1) {
          throw new Error(
            `model: ${card.label} has ${steps.join(' and ')} due at once at ${ivText(now)}: ` +
              'the scenario must not leave their order to lebd',
          );
        }
        this.apply(card, steps[0]);
        counts[STEP_COUNT[steps[0]]]++;
      }
    }
    let expired = 0;
    this.pendingOrders = this.pendingOrders.filter((order) => {
      if (!reached(now, order.expiresAt, `expiry of order ${order.orderNo}`)) return true;
      expired++;
      return false;
    });
    return { counts, expired, ar };
  }

  /* lifecycle_apply_credit() on the model's card; "auto" for an auto-renewal's credit. */
  credit(card, amount, now, auto = false) {
    const plan = card.plan;
    assert.notEqual(card.status, 'recycled', 'model: a credit on a recycled card');
    const wasSuspended = card.status === 'suspended';
    if (plan.model === 'monthly_fee') {
      /* Whether the old balance pays arrears too is not what lifecycle.h pins down. For an
       * auto-renewal it is: keep_fee tops a suspended card up by "what pays its arrears"
       * (autorenew.h), which autorenew.c computes as arrears - balance, "its balance helps,
       * as it does in lifecycle_apply_credit()"; lebd's credits all work that way. */
      if (!auto && card.arrears > 0 && card.balance > 0 && amount < card.arrears) {
        throw new Error(`model: ${card.label}: a partial payment on a card with balance and arrears`);
      }
      const paid = Math.min(card.arrears, auto ? card.balance + amount : amount);
      card.arrears -= paid;
      card.balance += amount - paid;
      if (paid > 0 && card.arrears > 0) this.totals.partials++;
      if (wasSuspended && card.arrears === 0) {
        const lo = nextBillingAfter(card.activatedAt, now.lo);
        const hi = nextBillingAfter(card.activatedAt, now.hi);
        assert.equal(lo, hi, `model: the next billing day of ${card.label} after ${ivText(now)}`);
        card.nextBilling = lo;
        this.reactivate(card);
      }
    } else {
      card.balance += amount;
      const steps = Math.floor(amount / plan.step);
      const fromValidUntil =
        card.validUntil.lo > now.hi && card.validUntil.hi + steps * plan.vd * DAY < now.lo + plan.vmax * DAY;
      if (auto && steps > 0 && !fromValidUntil) {
        /* valid_until would count from this jobs run's now (see Time, above). */
        throw new Error(
          `model: an auto-renewal credit of ${amount} on ${card.label} would not extend ` +
            `valid_until ${ivText(card.validUntil)} as it is`,
        );
      }
      if (steps > 0) {
        const extended = ivShift(ivMax(card.validUntil, now), steps * plan.vd * DAY);
        const cap = ivShift(now, plan.vmax * DAY);
        if (extended.lo > cap.hi) this.totals.capped++;
        card.validUntil = ivMin(extended, cap);
      } else if (wasSuspended) {
        this.totals.partials++;
      }
      if (wasSuspended && later(card.validUntil, now, `${card.label} valid after the credit`)) {
        this.reactivate(card);
      }
    }
    card.sms.recharge_succeeded++;
    this.hook(card, 'card.recharged');
    if (!auto) this.totals.topups++;
    else if (wasSuspended && card.status === 'active') this.totals.arReactivated++;
  }

  /* ---- Auto-renewal: autorenew.h's rules, and its job (src/app/autorenew.c) ---- */

  /* PUT .../auto-renew. The attempts of the cycle stay with the card (a change of rule must not
   * buy a second charge); switching it off keeps the setting; the agreement behaves as the
   * request says ("succeed" when it does not). */
  setAutoRenew(card, body) {
    const previous = card.ar;
    const keep = !body.enabled && previous !== null;
    card.ar = {
      enabled: body.enabled,
      rule: keep ? previous.rule : body.rule || 'keep_fee',
      amount: keep ? previous.amount : body.amount || 0,
      threshold: keep ? previous.threshold : body.threshold || 0,
      behaviour: (body.agreement && body.agreement.behaviour) || 'succeed',
      cycleTried: previous ? previous.cycleTried : null,
      attempts: previous ? previous.attempts : 0,
      lastAttemptAt: previous ? previous.lastAttemptAt : null,
    };
    if (previous === null) this.arCards.push(card);
  }

  /* What the card needs under its rule, 0 for nothing. threshold: "amount" when the balance is
   * below "threshold", and always for a suspended card. keep_fee: the smallest amount the
   * plan sells that makes balance + amount >= monthly_fee, or >= arrears when suspended. */
  autoRenewAmount(card) {
    const setting = card.ar;
    if (setting.rule === 'threshold') {
      return card.status === 'suspended' || card.balance < setting.threshold ? setting.amount : 0;
    }
    assert.equal(card.plan.model, 'monthly_fee', `model: keep_fee on ${card.label}`);
    if (card.status === 'suspended') {
      return smallestSold(card.plan, Math.max(card.arrears - card.balance, 0), card);
    }
    if (card.balance >= card.plan.fee) return 0;
    return smallestSold(card.plan, card.plan.fee - card.balance, card);
  }

  /* One look at an enabled auto-renewal in a jobs run at "now". */
  autoRenew(card, now, counts) {
    const setting = card.ar;
    const plan = card.plan;
    if (card.status === 'recycled') {
      /* The number is gone and the agreement with it: lebd switches it off at its first
       * look after the recycling (the lifecycle job calls it back at once). */
      setting.enabled = false;
      return;
    }
    /* The cycle: the instant the lifecycle acts on next; a suspended card's is its
     * suspended_at, charged at once; an active card's from its lead on. */
    let cycle;
    if (card.status === 'suspended') {
      cycle = card.suspendedAt;
    } else {
      cycle = plan.model === 'monthly_fee' ? iv(card.nextBilling) : card.validUntil;
      const lead = ivShift(cycle, -(AUTORENEW_LEAD_DAYS + plan.remind) * DAY);
      if (!reached(now, lead, `auto-renewal lead of ${card.label}`)) return;
    }
    const same = setting.cycleTried !== null && sameInstant(setting.cycleTried, cycle, `the cycle of ${card.label}`);
    let allowed = true;
    if (same && setting.attempts >= AUTORENEW_ATTEMPTS_MAX) {
      allowed = false;
    } else if (same && setting.attempts > 0) {
      const retry = ivShift(setting.lastAttemptAt, AUTORENEW_RETRY_S);
      allowed = reached(now, retry, `auto-renewal retry of ${card.label}`);
    }
    const amount = this.autoRenewAmount(card);
    if (!allowed || amount === 0) return;
    if (!same) {
      setting.cycleTried = cycle;
      setting.attempts = 0;
    }
    setting.attempts++;
    setting.lastAttemptAt = now;
    counts.log.push(`${card.label}: attempt ${setting.attempts}, ${amount} for ${ivText(cycle)} (${card.status})`);
    const order = {
      orderNo: `auto-renewal ${setting.attempts} of ${card.label}`,
      expiresAt: ivShift(now, ORDER_TTL_S),
    };
    if (setting.behaviour === 'fail') {
      /* The order waits for a payment that never comes. */
      this.pendingOrders.push(order);
      counts.failed++;
      this.totals.arFailed++;
      if (setting.attempts >= AUTORENEW_ATTEMPTS_MAX) {
        counts.given_up++;
        this.totals.arGivenUp++;
        card.sms.auto_renew_failed++;
      }
      return;
    }
    if (card.arCredited.some((credited) => sameInstant(credited, cycle, `the cycle of ${card.label}`))) {
      /* The provider answers with the cycle's first trade, which was credited already: at most
       * one credit per card per cycle, whatever happens. */
      this.pendingOrders.push(order);
      this.totals.arDuplicates++;
      return;
    }
    card.arCredited.push(cycle);
    counts.charged++;
    this.totals.arCharged++;
    const pricing = pricingOf(plan);
    if (setting.rule === 'keep_fee' && amount % pricing.step !== 0) this.totals.arDenomination++;
    this.credit(card, amount, now, true);
  }

  compareAutoRenew(card, view) {
    const issues = [];
    const setting = card.ar;
    const want = (field, actual, expected) => {
      if (actual !== expected) {
        issues.push(
          `${card.label} auto-renew ${field}: lebd ${JSON.stringify(actual)}, model ${JSON.stringify(expected)}`,
        );
      }
    };
    want('enabled', view.enabled, setting.enabled);
    want('rule', view.rule, setting.rule);
    want('amount', view.amount, setting.amount);
    want('threshold', view.threshold, setting.threshold);
    want('attempts', view.attempts, setting.attempts);
    want('provider', view.agreement && view.agreement.provider, 'sandbox');
    if (setting.lastAttemptAt === null) {
      want('last_attempt_at', view.last_attempt_at, null);
    } else {
      const at = typeof view.last_attempt_at === 'string' ? Date.parse(view.last_attempt_at) / 1000 : null;
      if (at === null || !(at >= setting.lastAttemptAt.lo && at <= setting.lastAttemptAt.hi)) {
        issues.push(
          `${card.label} auto-renew last_attempt_at: lebd ${JSON.stringify(view.last_attempt_at)}, ` +
            `model ${ivText(setting.lastAttemptAt)}`,
        );
      }
    }
    if (typeof view.next_check_at !== 'string' || !RFC3339_UTC.test(view.next_check_at)) {
      issues.push(`${card.label} auto-renew next_check_at: ${JSON.stringify(view.next_check_at)}`);
    }
    return issues;
  }

  reactivate(card) {
    card.status = 'active';
    card.suspendedAt = null;
    card.suspendedDay = null;
    this.totals.reactivations++;
    this.hook(card, 'card.reactivated');
    card.sms.reactivated++;
  }

  /* Differences between lebd's view of a card and the model's. */
  compare(card, view) {
    const issues = [];
    const want = (field, actual, expected) => {
      if (actual !== expected) {
        issues.push(`${card.label} ${field}: lebd ${JSON.stringify(actual)}, model ${JSON.stringify(expected)}`);
      }
    };
    const within = (field, actual, expected) => {
      const seconds = actual === null || actual === undefined ? null : Date.parse(actual) / 1000;
      if (seconds === null || !(seconds >= expected.lo && seconds <= expected.hi)) {
        issues.push(`${card.label} ${field}: lebd ${JSON.stringify(actual)}, model ${ivText(expected)}`);
      }
    };
    want('card_no', view.card_no, card.card_no);
    want('status', view.status, card.status);
    want('balance', view.balance, card.balance);
    if (card.status !== 'recycled') want('arrears', view.arrears, card.arrears);
    if (card.plan.model === 'monthly_fee') {
      want('valid_until', view.valid_until, null);
      if (card.status === 'active') want('next_billing_at', view.next_billing_at, iso(card.nextBilling));
    } else {
      want('next_billing_at', view.next_billing_at, null);
      if (card.status !== 'recycled') within('valid_until', view.valid_until, card.validUntil);
    }
    if (card.status === 'active') want('suspended_at', view.suspended_at, null);
    if (card.status === 'suspended') within('suspended_at', view.suspended_at, card.suspendedAt);
    return issues;
  }
}

/* ------------------------------------------------------------------------------------------
 * The scenario: plans, who tops up when, and by how much.
 * ---------------------------------------------------------------------------------------- */

const PLANS = [
  /* The leads left out: the defaults, 3 and 7 days. */
  { code: 'LCM8', model: 'monthly_fee', fee: 800, grace: 60, remind: 3, warn: 7, defaultLeads: true },
  {
    code: 'LCV30', model: 'validity', vd: 30, step: 1000, vmax: 365, grace: 60, remind: 3, warn: 7,
    defaultLeads: true,
  },
  /* No last warning. */
  { code: 'LCM15', model: 'monthly_fee', fee: 1500, grace: 45, remind: 5, warn: 0 },
  /* No reminder; short steps and a short cap. */
  {
    code: 'LCV7', model: 'validity', vd: 7, step: 300, vmax: 60, grace: 30, remind: 0, warn: 10,
    explicitZeroFee: true,
  },
];
const DEMO_PLAN = { code: 'KEEP8', model: 'monthly_fee', fee: 800, grace: 90, remind: 3, warn: 7 };
const BEHAVIOURS = ['reminded', 'early', 'late', 'never', 'partial', 'prepaid'];

/* A plan for auto-renewals only, whose step (500) is no divisor of its denominations: keep_fee
 * must find the smallest amount it sells, a denomination (700, 1300) or a multiple of 500. */
const AR_PLAN = {
  code: 'LCMAR', model: 'monthly_fee', fee: 1250, grace: 40, remind: 2, warn: 5,
  pricing: { denominations: [700, 1300, 2600], min: 500, max: 100000, step: 500 },
};
/* The last AR_PLAN_CARDS cards are on it; the others follow PLANS and BEHAVIOURS. */
const AR_PLAN_CARDS = CARDS >= 500 ? 16 : 8;
const BASE_CARDS = CARDS - AR_PLAN_CARDS;
const AR_PLAN_TOPUPS = [0, 700, 1000, 1300, 2600, 500];

/*
 * Auto-renewals laid over the base scenario, for the cards of a behaviour whose v % 20 is r
 * (two cards per plan, one under the sanitizers, where each kind keeps to one of its model's
 * two plans: every card with an auto-renewal costs lebd a durable commit at every look). "from"
 * is when it is set up: with the card ("create"), on a day, on the day a late card would have
 * topped up, or some days after a partial payment. The threshold of 100000 makes a validity
 * card top up at every cycle, before it expires (see Time, above).
 */
const AR_KINDS = [
  /* Topped up every cycle it needs it: the card is never reminded or suspended. */
  { model: 'monthly_fee', behaviour: 'never', r: 1, rule: 'keep_fee', agreement: 'succeed', from: 'create' },
  /* Three refusals and one auto_renew_failed SMS a cycle; then as if nothing were set up. */
  { model: 'monthly_fee', behaviour: 'never', r: 2, rule: 'keep_fee', agreement: 'fail', from: 'create' },
  { model: 'monthly_fee', behaviour: 'never', r: 3, rule: 'threshold', amount: (p) => 2 * p.fee,
    threshold: (p) => p.fee, agreement: 'succeed', from: 'create' },
  /* 100 is not enough: one credit, the second and third charges of the cycle are the same
   * trade and credit nothing; reminded, suspended, recycled. */
  { model: 'monthly_fee', behaviour: 'never', r: 4, rule: 'threshold', amount: () => 100,
    threshold: (p) => p.fee, agreement: 'succeed', from: 'create' },
  /* A threshold of 0 never tops up an active card: suspended, and topped up (reactivated) at
   * the next run, every cycle. */
  { model: 'monthly_fee', behaviour: 'never', r: 6, rule: 'threshold', amount: (p) => p.fee,
    threshold: () => 0, agreement: 'succeed', from: 'create' },
  { model: 'monthly_fee', behaviour: 'never', r: 7, rule: 'keep_fee', agreement: 'succeed', from: 'create',
    disableDay: (spec) => 150 + (spec.index % 60) },
  /* Refused every cycle; the late top-ups bring it back, and the next cycle is tried anew. */
  { model: 'monthly_fee', behaviour: 'late', r: 1, rule: 'keep_fee', agreement: 'fail', from: 'create' },
  /* Set up instead of the late top-up, on a suspended card: its arrears are paid at once. */
  { model: 'monthly_fee', behaviour: 'late', r: 3, rule: 'keep_fee', agreement: 'succeed', from: 'late' },
  /* Refused twice, then the reminded cardholder tops up: no third attempt, no SMS. */
  { model: 'monthly_fee', behaviour: 'reminded', r: 2, rule: 'keep_fee', agreement: 'fail', from: 'create' },
  { model: 'monthly_fee', behaviour: 'reminded', r: 4, rule: 'keep_fee', agreement: 'succeed', from: 'day',
    day: (spec) => 180 + (spec.index % 30) },
  /* What is left of the arrears after a partial payment. */
  { model: 'monthly_fee', behaviour: 'partial', r: 1, rule: 'keep_fee', agreement: 'succeed', from: 'partial' },
  { model: 'validity', behaviour: 'never', r: 1, rule: 'threshold',
    amount: (p, v) => p.step * (1 + (Math.floor(v / 20) % 2)), threshold: () => 100000, agreement: 'succeed',
    from: 'create' },
  { model: 'validity', behaviour: 'never', r: 2, rule: 'threshold', amount: (p) => p.step,
    threshold: () => 100000, agreement: 'fail', from: 'create' },
  /* Less than a step: a balance but no validity; one credit a cycle, then expiry. */
  { model: 'validity', behaviour: 'never', r: 3, rule: 'threshold', amount: () => 100,
    threshold: () => 100000, agreement: 'succeed', from: 'create' },
  { model: 'validity', behaviour: 'never', r: 4, rule: 'threshold', amount: (p) => p.step,
    threshold: () => 100000, agreement: 'succeed', from: 'create', disableDay: (spec) => 200 + (spec.index % 40) },
  { model: 'validity', behaviour: 'late', r: 1, rule: 'threshold', amount: (p) => p.step,
    threshold: () => 100000, agreement: 'fail', from: 'create' },
];

function arSetting(kind, spec) {
  const setting = { rule: kind.rule, agreement: kind.agreement, from: kind.from };
  if (kind.rule === 'threshold') {
    setting.amount = kind.amount(spec.plan, spec.v);
    setting.threshold = kind.threshold(spec.plan, spec.v);
  }
  if (kind.day) setting.day = kind.day(spec);
  if (kind.disableDay) setting.disableDay = kind.disableDay(spec);
  if (kind.after !== undefined) setting.after = kind.after;
  return setting;
}

function scenarioCard(index) {
  if (index >= BASE_CARDS) {
    const v = index - BASE_CARDS;
    const spec = {
      index,
      ...cardNumbers('898677', '137', index),
      plan: AR_PLAN,
      behaviour: 'auto',
      v,
      createDay: CREATE_DAYS[v % CREATE_DAYS.length],
      refund: null,
    };
    /* keep_fee with the card; set up some days after the suspension; a threshold. */
    const kind = [
      { rule: 'keep_fee', agreement: 'succeed', from: 'create' },
      { rule: 'keep_fee', agreement: 'succeed', from: 'create' },
      { rule: 'keep_fee', agreement: 'succeed', from: 'suspended', after: 2 + (v % 5) },
      { rule: 'threshold', amount: () => 1300, threshold: () => 1250, agreement: 'succeed', from: 'create' },
    ][v % 4];
    spec.arPlan = arSetting(kind, spec);
    spec.label = `card ${index} (${AR_PLAN.code}/${kind.rule}/${kind.from}/${v})`;
    return spec;
  }
  const plan = PLANS[index % PLANS.length];
  const g = Math.floor(index / PLANS.length);
  const behaviour = BEHAVIOURS[g % BEHAVIOURS.length];
  const v = Math.floor(g / BEHAVIOURS.length); /* the variant within plan and behaviour */
  const spec = {
    index,
    ...cardNumbers('898677', '137', index),
    plan,
    behaviour,
    v,
    createDay: CREATE_DAYS[v % CREATE_DAYS.length],
    lateDays: 3 + ((v * 7 + index) % (plan.grace - 5)), /* 3 .. grace - 3 */
    partialDays: 3 + ((v * 5 + index) % 15), /* 3 .. 17, and 5 more to complete */
    refund: behaviour === 'never' && v % 5 === 0 ? { state: 'planned' } : null,
    arPlan: null,
    label: `card ${index} (${plan.code}/${behaviour}/${v})`,
  };
  const k = AR_KINDS.findIndex(
    (kind) => kind.model === plan.model && kind.behaviour === behaviour && kind.r === v % 20,
  );
  const onePlan = CARDS >= 500 || (k + Math.floor(PLANS.indexOf(plan) / 2)) % 2 === 0;
  if (k >= 0 && onePlan) {
    const kind = AR_KINDS[k];
    spec.arPlan = arSetting(kind, spec);
    const what = kind.rule === 'threshold' ? `threshold ${spec.arPlan.threshold}/${spec.arPlan.amount}` : kind.rule;
    spec.label = `card ${index} (${plan.code}/${behaviour}/${v}, ${what} ${kind.agreement} from ${kind.from})`;
  }
  return spec;
}

/* The PUT .../auto-renew "card" makes at U of "day", or null. */
function autoRenewChange(card, day) {
  const setting = card.arPlan;
  if (!setting || card.status === 'recycled') return null;
  if (card.ar === null) {
    const suspendedFor = card.status === 'suspended' ? day - card.suspendedDay : null;
    const due = {
      create: card.createDay === day,
      day: setting.day === day,
      late: suspendedFor === card.lateDays,
      partial: suspendedFor === card.partialDays + 3,
      suspended: suspendedFor === setting.after,
    }[setting.from];
    if (!due) return null;
    const body = {
      enabled: true,
      rule: setting.rule,
      agreement: { provider: 'sandbox', behaviour: setting.agreement },
    };
    if (setting.rule === 'threshold') Object.assign(body, { amount: setting.amount, threshold: setting.threshold });
    return body;
  }
  if (setting.disableDay === day && card.ar.enabled) return { enabled: false };
  return null;
}

/* What a card is topped up with when it is created (0: nothing). */
function initialTopUp(card) {
  const plan = card.plan;
  const v = card.v;
  if (card.behaviour === 'auto') return AR_PLAN_TOPUPS[v % AR_PLAN_TOPUPS.length];
  if (plan.model === 'monthly_fee') {
    const fee = plan.fee;
    switch (card.behaviour) {
      case 'reminded': return fee * (1 + (v % 3));
      case 'early': return fee;
      case 'never': return [0, Math.round(fee / 200) * 100, fee + 500][v % 3];
      case 'prepaid': return fee * (10 + (v % 4));
      default: return 0;
    }
  }
  switch (card.behaviour) {
    case 'never': return [0, Math.round(plan.step / 200) * 100, plan.step + 100][v % 3];
    case 'prepaid': return 50000; /* far beyond validity_days_max: capped */
    default: return 0;
  }
}

/* What a card is topped up with at U of "day" (0: nothing). */
function dailyTopUp(card, day) {
  const plan = card.plan;
  const v = card.v;
  const monthly = plan.model === 'monthly_fee';
  const fee = plan.fee;
  const step = plan.step;
  const shortSteps = !monthly && plan.vd < 30;
  const active = card.status === 'active';
  const suspendedFor = card.status === 'suspended' ? day - card.suspendedDay : null;
  switch (card.behaviour) {
    case 'reminded':
      if (!active) return 0;
      if (plan.remind > 0) {
        if (!card.pendingReminder) return 0;
        card.pendingReminder = false;
        return monthly ? fee * (1 + (v % 4)) : step * (1 + (v % 3)) + (v % 2 ? 100 : 0);
      }
      return dayOf(card.validUntil.lo) - day === 2 ? step * (3 + (v % 3)) : 0;
    case 'early':
      if (!active) return 0;
      if (monthly) {
        return dayOf(card.nextBilling) - day === 7 && card.balance < fee ? fee * (1 + (v % 2)) : 0;
      }
      if (dayOf(card.validUntil.lo) - day !== plan.remind + 3) return 0;
      return shortSteps ? step * (3 + (v % 3)) : step * (1 + (v % 2));
    case 'late':
      if (suspendedFor !== card.lateDays) return 0;
      if (card.arPlan && card.arPlan.from === 'late' && card.ar === null) return 0; /* set up instead */
      if (monthly) return card.arrears + fee * (v % 3);
      return shortSteps ? step * (2 + (v % 3)) : step * (1 + (v % 3));
    case 'partial':
      if (suspendedFor === card.partialDays) {
        return monthly ? 100 * (1 + (v % (fee / 100 - 1))) : 100 * (1 + (v % (step / 100 - 1)));
      }
      if (suspendedFor === card.partialDays + 5 && v % 2 === 0) {
        if (monthly) return card.arrears + fee * (v % 3);
        return step * (1 + (v % 2)) * (shortSteps ? 2 : 1);
      }
      return 0;
    case 'prepaid':
      if (!monthly && shortSteps && active && dayOf(card.validUntil.lo) - day === 3) return 50000;
      return 0;
    default:
      return 0;
  }
}

function isMonthEnd(day) {
  return new Date((T0 + (day + 1) * DAY) * 1000).getUTCDate() === 1;
}

test('the billing calendar of the model (time_next_billing)', () => {
  const at = (text) => Date.parse(text) / 1000;
  const jan31 = at('2027-01-31T13:00:00Z');
  assert.equal(iso(nextBillingAfter(jan31, jan31)), '2027-02-28T00:00:00Z');
  assert.equal(iso(nextBillingAfter(jan31, at('2027-02-28T00:00:00Z'))), '2027-03-31T00:00:00Z');
  assert.equal(iso(nextBillingAfter(jan31, at('2027-04-01T00:00:00Z'))), '2027-04-30T00:00:00Z');
  assert.equal(iso(nextBillingAfter(jan31, at('2028-02-01T00:00:00Z'))), '2028-02-29T00:00:00Z');
  assert.equal(iso(nextBillingAfter(jan31, at('2027-12-31T00:00:00Z'))), '2028-01-31T00:00:00Z');
  const jan1 = at('2027-01-01T00:00:03Z');
  assert.equal(iso(nextBillingAfter(jan1, jan1)), '2027-02-01T00:00:00Z');
  const mar1 = at('2027-03-01T13:00:00Z');
  assert.equal(iso(nextBillingAfter(mar1, at('2027-03-15T13:00:00Z'))), '2027-04-01T00:00:00Z');
  assert.equal(iso(nextBillingAfter(at('2027-01-29T13:00:00Z'), at('2027-02-01T00:00:00Z'))), '2027-02-28T00:00:00Z');
});

const BIG_TEST = `${SIM_DAYS} simulated days, ${CARDS} cards on monthly_fee and validity plans: lebd keeps to the model`;
test(BIG_TEST, { timeout: 900000 }, async (t) => {
  const started = Date.now();
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();

  for (const plan of [...PLANS, AR_PLAN]) assertPlanEcho(await ctl.createPlan(planBody(plan)), plan);

  /* The demo cards live through the same rules and appear in the same counts. */
  for (const key of ['active', 'suspended', 'recycled']) {
    const demo = DEMO[key];
    const view = await ctl.view(demo.card_no);
    const createdAt = parseTime(view.created_at, 'demo created_at');
    assert.ok(createdAt >= T0 && createdAt < T0 + 600, `demo card created at lebd's clock: ${view.created_at}`);
    assert.equal(view.status, key);
    const card = model.add({
      index: -1,
      card_no: demo.card_no,
      msisdn: demo.msisdn,
      plan: DEMO_PLAN,
      behaviour: 'demo',
      v: 0,
      label: `demo ${key} card`,
      status: key,
      balance: view.balance,
      activatedAt: createdAt,
      nextBilling: key === 'recycled' ? null : nextBillingAfter(createdAt, createdAt),
      suspendedAt: key === 'suspended' ? iv(createdAt) : null,
    });
    const issues = model.compare(card, view);
    assert.deepEqual(issues, [], `the demo ${key} card as created`);
  }

  const specs = Array.from({ length: CARDS }, (_, index) => scenarioCard(index));
  const creations = new Map();
  for (const spec of specs) {
    if (!creations.has(spec.createDay)) creations.set(spec.createDay, []);
    creations.get(spec.createDay).push(spec);
  }

  let lastTelecomId = null;
  const issues = [];
  const failIfIssues = (when) => {
    if (issues.length > 0) {
      assert.fail(`${issues.length} differences from the model (${when}):\n${issues.slice(0, 40).join('\n')}`);
    }
  };

  /* The telecom webhooks written since the last check must be exactly the model's. */
  async function checkTelecom(when) {
    const expected = model.webhooks;
    model.webhooks = [];
    assert.ok(expected.length < 1000, `${when}: ${expected.length} webhooks in one phase`);
    const messages = await ctl.outbox('telecom', expected.length + 1);
    const fresh = messages.slice(0, expected.length);
    const older = messages[expected.length];
    /* The status after the event is compared when lebd's payloads carry one. */
    const withStatus = fresh.some((m) => m.payload && m.payload.status !== undefined);
    const key = (event, cardNo, msisdn, status) =>
      withStatus ? `${event} ${cardNo} ${msisdn} ${status}` : `${event} ${cardNo} ${msisdn}`;
    const expectedKeys = expected.map((e) => key(e.event, e.card_no, e.msisdn, e.status)).sort();
    const actualKeys = fresh
      .map((m) => {
        const p = m.payload || {};
        return key(p.event, p.card_no, p.msisdn, p.status);
      })
      .sort();
    const idsFresh = lastTelecomId === null || fresh.every((m) => m.id > lastTelecomId);
    const olderOk =
      lastTelecomId === null ? older === undefined : older !== undefined && older.id === lastTelecomId;
    const same = JSON.stringify(actualKeys) === JSON.stringify(expectedKeys);
    if (!idsFresh || !olderOk || !same) {
      const missing = expectedKeys.filter((k) => !actualKeys.includes(k));
      const unexpected = actualKeys.filter((k) => !expectedKeys.includes(k));
      issues.push(
        `${when}: telecom webhooks differ: expected ${expected.length} new, ` +
          `got ids ${fresh.map((m) => m.id).join(',')} after ${lastTelecomId}` +
          ` (next older ${older ? older.id : 'none'}); missing ${missing.slice(0, 5).join('; ')}; ` +
          `unexpected ${unexpected.slice(0, 5).join('; ')}`,
      );
      const newest = await ctl.outbox('telecom', 1);
      lastTelecomId = newest.length ? newest[0].id : null;
      return;
    }
    for (const m of fresh) {
      assert.equal(m.kind, 'webhook');
      assert.equal(m.destination, 'telecom');
      assert.match(m.payload.at, RFC3339_UTC, 'webhook "at"');
    }
    if (fresh.length > 0) lastTelecomId = fresh[0].id;
  }

  async function jobsPhase(label) {
    const { body, now } = await ctl.runJobs();
    const expected = model.run(now);
    for (const key of JOB_COUNTS) {
      if (body.lifecycle[key] !== expected.counts[key]) {
        issues.push(
          `${label}: jobs/run ${key} ${body.lifecycle[key]}, model ${expected.counts[key]} ` +
            `(${JSON.stringify(body)})`,
        );
      }
    }
    if (body.expired_orders !== expected.expired) {
      issues.push(`${label}: jobs/run expired_orders ${body.expired_orders}, model ${expected.expired}`);
    }
    for (const key of AUTO_RENEW_COUNTS) {
      if (body.auto_renew[key] !== expected.ar[key]) {
        issues.push(
          `${label}: jobs/run auto_renew.${key} ${body.auto_renew[key]}, model ${expected.ar[key]} ` +
            `(${JSON.stringify(body)}; the model: ${expected.ar.log.slice(0, 6).join('; ')})`,
        );
      }
    }
    await checkTelecom(label);
  }

  async function checkpoint(label) {
    const cards = model.cards;
    const views = await mapLimit(cards, IN_FLIGHT, (card) => ctl.view(card.card_no));
    views.forEach((result, i) => {
      if (!result.ok) throw result.error;
      issues.push(...model.compare(cards[i], result.value).map((text) => `${label}: ${text}`));
    });
    const renewals = await mapLimit(model.arCards, IN_FLIGHT, (card) => ctl.autoRenew(card.card_no));
    renewals.forEach((result, i) => {
      if (!result.ok) throw result.error;
      issues.push(...model.compareAutoRenew(model.arCards[i], result.value).map((text) => `${label}: ${text}`));
    });
    await ctl.assertLedgerBalanced();
    failIfIssues(label);
  }

  {
    const newest = await ctl.outbox('telecom', 1);
    lastTelecomId = newest.length ? newest[0].id : null;
    assert.equal(lastTelecomId, null, 'no webhook before the first jobs run');
  }

  for (let day = 0; day < SIM_DAYS; day++) {
    model.day = day;
    const date = dateOfDay(day);

    /* 12:00 J */
    await ctl.setClock(T0 + day * DAY + PHASE_J);
    await jobsPhase(`${date} 12:00 jobs`);

    /* 13:00 U */
    await ctl.advance(HOUR);
    const newSpecs = creations.get(day) || [];
    if (newSpecs.length > 0) {
      for (let from = 0; from < newSpecs.length; from += 1000) {
        const batch = newSpecs.slice(from, from + 1000);
        const { views, now } = await ctl.createCards(
          batch.map((spec) => ({ card_no: spec.card_no, msisdn: spec.msisdn, plan: spec.plan.code })),
        );
        batch.forEach((spec, i) => {
          const view = views[i];
          assert.equal(view.card_no, spec.card_no);
          const activatedAt = parseTime(view.created_at, 'card created_at');
          assert.ok(
            activatedAt >= now.lo && activatedAt <= now.hi,
            `created_at ${view.created_at} within ${ivText(now)}`,
          );
          const card = model.add({
            ...spec,
            status: 'active',
            activatedAt,
            nextBilling: spec.plan.model === 'monthly_fee' ? nextBillingAfter(activatedAt, activatedAt) : null,
            validUntil: spec.plan.model === 'validity' ? iv(activatedAt + spec.plan.vd * DAY) : null,
          });
          issues.push(...model.compare(card, view).map((text) => `${date} created: ${text}`));
        });
      }
    }

    /* Recycled cards are never rechargeable again. */
    const recycled = model.cards.filter((card) => card.needs422);
    const rejected = await mapLimit(recycled, IN_FLIGHT, async (card) => {
      const amount = card.plan === DEMO_PLAN ? 5000 : 1000;
      const response = await createOrder(lebd, { card: card.card_no, face_amount: amount });
      assertError(response, 422, 'card_not_rechargeable', `an order on recycled ${card.label}`);
      const quote = await api(lebd, 'POST', '/api/v1/quotes', {
        body: { card: card.card_no, face_amount: amount, channel: 'web', payment_method: 'sandbox' },
      });
      assertError(quote, 422, 'card_not_rechargeable', `a quote on recycled ${card.label}`);
      if (card.ar !== null) {
        const put = await ctl.call('PUT', `/api/v1/admin/cards/${card.card_no}/auto-renew`, {
          enabled: true,
          rule: card.ar.rule,
          ...(card.ar.rule === 'threshold' ? { amount: card.ar.amount, threshold: card.ar.threshold } : {}),
        });
        assertError(put, 422, 'card_not_rechargeable', `auto-renewal set up on recycled ${card.label}`);
      }
      card.needs422 = false;
      model.totals.rejected++;
    });
    for (const result of rejected) if (!result.ok) throw result.error;

    /* A few cards about to be recycled get an order the day before, paid after recycling:
     * the order expires, the late payment is honoured as a refund, the card gets nothing. */
    for (const card of model.cards) {
      if (!card.refund) continue;
      if (card.refund.state === 'planned' && card.status === 'suspended') {
        const recycleDay = dayOf(card.suspendedAt.lo + card.plan.grace * DAY);
        if (recycleDay - 1 === day && recycleDay + 1 < SIM_DAYS) {
          const order = await createOrder(lebd, { card: card.card_no, face_amount: 1000 });
          assertStatus(order, 201, `the order before recycling of ${card.label}`);
          card.refund = {
            state: 'ordered',
            orderNo: order.body.order_no,
            payAmount: order.body.pay_amount,
            payDay: recycleDay + 1,
          };
          model.pendingOrders.push({
            orderNo: order.body.order_no,
            expiresAt: iv(parseTime(order.body.expires_at)),
          });
        }
      } else if (card.refund.state === 'ordered' && card.refund.payDay === day) {
        assert.equal(card.status, 'recycled', `${card.label} recycled before its late payment`);
        const paid = await notify(lebd, {
          order_no: card.refund.orderNo,
          amount: card.refund.payAmount,
          status: 'SUCCESS',
        });
        assertStatus(paid, 200, 'a payment after recycling');
        assert.equal(paid.body.received, true);
        const order = await getOrder(lebd, card.refund.orderNo);
        assertStatus(order, 200);
        if (!['refunding', 'refunded'].includes(order.body.status) || order.body.credited_at !== null) {
          issues.push(`${date}: a payment on recycled ${card.label}: order ${JSON.stringify(order.body)}`);
        }
        card.refund.state = 'paid';
        model.totals.refunds++;
      }
    }

    const topUps = [];
    for (const card of model.cards) {
      if (card.behaviour === 'demo' || card.status === 'recycled') continue;
      const amount = card.createDay === day ? initialTopUp(card) : dailyTopUp(card, day);
      if (amount > 0) topUps.push({ card, amount });
    }
    const credited = await mapLimit(topUps, IN_FLIGHT, async ({ card, amount }) => {
      const now = await topUp(ctl, card.card_no, amount);
      model.credit(card, amount, now);
    });
    for (const result of credited) if (!result.ok) throw result.error;

    /* Auto-renewals set up, or switched off. */
    const changes = [];
    for (const card of model.cards) {
      const body = autoRenewChange(card, day);
      if (body !== null) changes.push({ card, body });
    }
    const changed = await mapLimit(changes, IN_FLIGHT, async ({ card, body }) => {
      const { view, now } = await ctl.setAutoRenew(card.card_no, body);
      if (body.enabled && card.ar === null && card.createDay !== day) model.totals.arEnabledLater++;
      if (!body.enabled) model.totals.arDisabled++;
      model.setAutoRenew(card, body);
      issues.push(...model.compareAutoRenew(card, view).map((text) => `${date} auto-renew set: ${text}`));
      const checkAt = Date.parse(view.next_check_at) / 1000;
      if (!(checkAt >= now.lo && checkAt <= now.hi)) {
        issues.push(`${date}: ${card.label} auto-renew next_check_at ${view.next_check_at}, set at ${ivText(now)}`);
      }
    });
    for (const result of changed) if (!result.ok) throw result.error;
    await checkTelecom(`${date} 13:00 top-ups`);

    /* 14:00 J2 */
    await ctl.advance(HOUR);
    await jobsPhase(`${date} 14:00 jobs`);

    if (isMonthEnd(day) || day === SIM_DAYS - 1) await checkpoint(`end of ${date}`);
    else if (issues.length > 0) failIfIssues(date);
  }

  /* The SMS each card was sent. */
  const sampled = model.cards;
  const unknownTemplates = new Set();
  const smsChecked = await mapLimit(sampled, IN_FLIGHT, async (card) => {
    const messages = await ctl.outbox(card.msisdn, 1000);
    assert.ok(messages.length < 1000, `${card.label}: fewer than 1000 messages`);
    const counts = Object.fromEntries(SMS_TEMPLATES.map((name) => [name, 0]));
    for (const message of messages) {
      assert.equal(message.kind, 'sms', `${card.label}: only SMS go to a phone`);
      assert.equal(message.destination, card.msisdn);
      const template = message.payload && message.payload.template;
      if (template in counts) counts[template]++;
      else unknownTemplates.add(template);
    }
    for (const name of SMS_TEMPLATES) {
      if (counts[name] !== card.sms[name]) {
        issues.push(`${card.label}: ${counts[name]} "${name}" SMS, model ${card.sms[name]}`);
      }
    }
  });
  for (const result of smsChecked) if (!result.ok) throw result.error;
  if (unknownTemplates.size > 0) {
    issues.push(`SMS templates beyond the ${SMS_TEMPLATES.length}: ${[...unknownTemplates].join(', ')}`);
  }

  /* The public view says so too. */
  for (const card of model.cards.filter((c) => c.status === 'recycled').slice(0, 5)) {
    const response = await api(lebd, 'GET', `/api/v1/cards/${card.card_no}`);
    assertStatus(response, 200);
    assert.equal(response.body.status, 'recycled');
    assert.equal(response.body.rechargeable, false);
  }
  await ctl.assertLedgerBalanced();
  failIfIssues('the end');

  /* The scenario did reach every corner it means to. */
  const totals = model.totals;
  t.diagnostic(`model totals: ${JSON.stringify(totals)}`);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  t.diagnostic(
    `${SIM_DAYS} days in ${seconds} s, ${ctl.logins} logins, SMS of ${sampled.length} cards, ` +
      `${model.arCards.length} auto-renewals`,
  );
  for (const key of TOTALS) {
    assert.ok(totals[key] > 0, `the scenario has ${key}`);
  }
  const statuses = new Set(model.cards.map((card) => `${card.plan.model}:${card.status}`));
  for (const model_ of ['monthly_fee', 'validity']) {
    for (const status of ['active', 'suspended', 'recycled']) {
      assert.ok(statuses.has(`${model_}:${status}`), `some ${model_} card ends ${status}`);
    }
  }
});

/* ------------------------------------------------------------------------------------------
 * Idempotency, concurrency, crash, catch-up, test mode only.
 * ---------------------------------------------------------------------------------------- */

async function monthlyPlan(ctl, code, grace = 90) {
  await ctl.createPlan({
    code,
    name: `Lifecycle ${code}`,
    currency: 'CNY',
    model: 'monthly_fee',
    monthly_fee: 800,
    denominations: [800, 1600],
    min_amount: 100,
    max_amount: 100000,
    amount_step: 100,
    grace_days: grace,
  });
}

/* Cards created at once (on 2027-01-01, billed on the 1st), topped up with amounts[i]. */
async function cardsWithBalances(ctl, prefix, phone3, code, amounts) {
  const specs = amounts.map((amount, index) => ({ ...cardNumbers(prefix, phone3, index), amount }));
  for (let from = 0; from < specs.length; from += 1000) {
    const batch = specs.slice(from, from + 1000);
    await ctl.createCards(batch.map((s) => ({ card_no: s.card_no, msisdn: s.msisdn, plan: code })));
  }
  const paid = await mapLimit(specs.filter((s) => s.amount > 0), IN_FLIGHT, (s) => topUp(ctl, s.card_no, s.amount));
  for (const result of paid) if (!result.ok) throw result.error;
  return specs;
}

function assertNothingDone(body, what) {
  for (const key of JOB_COUNTS) assert.equal(body.lifecycle[key], 0, `${what}: ${key} in ${JSON.stringify(body)}`);
}

async function viewsOf(ctl, specs) {
  const views = await mapLimit(specs, IN_FLIGHT, (s) => ctl.view(s.card_no));
  return views.map((result) => {
    if (!result.ok) throw result.error;
    return result.value;
  });
}

/* How many telecom webhooks of "event" each card got (the newest 1000). */
async function webhookCounts(ctl, event) {
  const counts = new Map();
  for (const message of await ctl.outbox('telecom', 1000)) {
    if (message.payload.event !== event) continue;
    counts.set(message.payload.card_no, (counts.get(message.payload.card_no) || 0) + 1);
  }
  return counts;
}

async function smsCount(ctl, msisdn, template) {
  return (await ctl.outbox(msisdn, 1000)).filter((m) => m.payload && m.payload.template === template).length;
}

const FEB1 = Date.UTC(2027, 1, 1) / 1000;
const MAR1 = Date.UTC(2027, 2, 1) / 1000;
const APR1 = Date.UTC(2027, 3, 1) / 1000;

test('the test-mode clock moves forward only, and its routes want an operator', async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const now0 = await ctl.moveClock({ advance_s: 60 });
  assert.ok(now0 >= T0 + 60 && now0 < T0 + 600, `the clock started at ${CLOCK_START}: ${iso(now0)}`);
  const moved = await ctl.setClock(T0 + 10 * DAY);
  const refused = [
    [{ now: iso(moved - 3600) }, 'the clock backwards'],
    [{ advance_s: 0 }, 'advance_s 0'],
    [{ advance_s: -5 }, 'advance_s < 0'],
    [{ now: 'yesterday' }, 'now not a time'],
    [{}, 'neither advance_s nor now'],
  ];
  for (const [body, what] of refused) {
    assertError(await ctl.call('POST', '/api/v1/admin/clock', body), 400, 'invalid_request', what);
  }
  const anonymous = (path, body) => api(lebd, 'POST', path, { body });
  assertError(await anonymous('/api/v1/admin/clock', { advance_s: 60 }), 401, 'unauthorized', 'clock, no token');
  assertError(await anonymous('/api/v1/admin/jobs/run', {}), 401, 'unauthorized', 'jobs/run, no token');
  /* The clock did not move back: still ten days on. */
  const after = await ctl.moveClock({ advance_s: 1 });
  assert.ok(after >= moved + 1 && after < moved + 600, `after the refusals: ${iso(after)}`);
});

test('jobs/run twice in a row does nothing twice, and five at once charge each card once', {
  timeout: 300000,
}, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  await monthlyPlan(ctl, 'IDEM');
  const M = SANITIZED ? 100 : 300;
  /* 0: reminded, suspended on 1 February; 800: charged once, then suspended on 1 March;
   * 1600: charged twice; 2400: charged twice, 800 left. */
  const amounts = Array.from({ length: M }, (_, i) => 800 * (i % 4));
  const specs = await cardsWithBalances(ctl, '898688', '135', 'IDEM', amounts);
  const count = (amount) => specs.filter((s) => s.amount === amount).length;

  /* 30 January: the reminders, once. */
  await ctl.setClock(FEB1 - 2 * DAY + PHASE_J);
  const reminded = await ctl.runJobs();
  assert.deepEqual(
    { ...reminded.body.lifecycle, cards: 0 },
    { cards: 0, charged: 0, suspended: 0, recycled: 0, reminders: count(0) + 1 /* the demo card */, warnings: 0 },
  );
  assertNothingDone((await ctl.runJobs()).body, 'the same day again');
  assert.equal((await ctl.runJobs()).body.lifecycle.reminders, 0);

  /* 1 February: twice in a row. */
  await ctl.setClock(FEB1 + PHASE_J);
  const first = await ctl.runJobs();
  assert.equal(first.body.lifecycle.charged, M - count(0), `charged on 1 February: ${JSON.stringify(first.body)}`);
  assert.equal(first.body.lifecycle.suspended, count(0) + 1, 'suspended on 1 February (the demo card too)');
  const afterFirst = await viewsOf(ctl, specs);
  const second = await ctl.runJobs();
  assertNothingDone(second.body, 'the second run on 1 February');
  assert.deepEqual(await viewsOf(ctl, specs), afterFirst, 'the second run changed no card');
  afterFirst.forEach((view, i) => {
    const amount = specs[i].amount;
    const actual = [view.status, view.balance, view.arrears, view.suspended_at, view.next_billing_at];
    if (amount === 0) {
      assert.deepEqual(actual.slice(0, 4), ['suspended', 0, 800, iso(FEB1)], `card ${i}`);
    } else {
      assert.deepEqual(actual, ['active', amount - 800, 0, null, iso(MAR1)], `card ${i}`);
    }
  });
  await ctl.assertLedgerBalanced();

  /* 26 February: the reminders of the cards left with nothing. */
  await ctl.setClock(MAR1 - 3 * DAY + PHASE_J);
  assert.equal((await ctl.runJobs()).body.lifecycle.reminders, count(800));

  /* 1 March: five runs at once. */
  await ctl.setClock(MAR1 + PHASE_J);
  await ctl.validToken();
  const runs = await Promise.all(Array.from({ length: 5 }, () => ctl.runJobs()));
  const sum = (key) => runs.reduce((total, run) => total + run.body.lifecycle[key], 0);
  t.diagnostic(`five concurrent runs: ${runs.map((run) => JSON.stringify(run.body.lifecycle)).join(' ')}`);
  assert.equal(sum('charged'), count(1600) + count(2400), 'charged once per card over the five runs');
  assert.equal(sum('suspended'), count(800), 'suspended once per card over the five runs');
  assert.equal(sum('recycled') + sum('warnings') + sum('reminders'), 0);
  assertNothingDone((await ctl.runJobs()).body, 'a sixth run');

  const views = await viewsOf(ctl, specs);
  views.forEach((view, i) => {
    const amount = specs[i].amount;
    const expected = {
      0: ['suspended', 0, 800, iso(FEB1), null],
      800: ['suspended', 0, 800, iso(MAR1), null],
      1600: ['active', 0, 0, null, iso(APR1)],
      2400: ['active', 800, 0, null, iso(APR1)],
    }[amount];
    const nextBilling = view.status === 'active' ? view.next_billing_at : null;
    const actual = [view.status, view.balance, view.arrears, view.suspended_at, nextBilling];
    assert.deepEqual(actual, expected, `card ${i} topped up with ${amount}`);
  });
  await ctl.assertLedgerBalanced();

  /* One suspension webhook and one suspension SMS per suspended card, one reminder each. */
  const suspendedHooks = await webhookCounts(ctl, 'card.suspended');
  specs.forEach((s) => {
    const expected = s.amount <= 800 ? 1 : 0;
    assert.equal(suspendedHooks.get(s.card_no) || 0, expected, `card.suspended webhooks of ${s.card_no}`);
  });
  for (const s of specs.filter((_, i) => i % 7 === 0)) {
    const expected = s.amount <= 800 ? 1 : 0;
    assert.equal(await smsCount(ctl, s.msisdn, 'suspended'), expected, `suspended SMS to ${s.msisdn}`);
    assert.equal(await smsCount(ctl, s.msisdn, 'low_balance'), expected, `low_balance SMS to ${s.msisdn}`);
  }
});

/*
 * Two billing days, each run killed with SIGKILL part of the way through and finished after a
 * restart on the same database (lebd's start-up run and one of ours). Cards topped up with 0,
 * 800 or 1600: on 1 February 0 is suspended, the others are charged; on 1 March 800 is
 * suspended too, 1600 is charged again. Every card must be charged exactly once per cycle.
 */
test('SIGKILL in the middle of a billing run: after a restart every card is charged exactly once', {
  timeout: 300000,
}, async (t) => {
  let lebd = await startTestLebd(t);
  let ctl = new Ctl(lebd);
  await monthlyPlan(ctl, 'CRASHL');
  const M = SANITIZED ? 300 : 1000;
  const amounts = Array.from({ length: M }, (_, i) => 800 * (i % 3));
  const specs = await cardsWithBalances(ctl, '898699', '136', 'CRASHL', amounts);
  const count = (amount) => specs.filter((s) => s.amount === amount).length;
  const started = Date.now();

  const cycles = [
    {
      billing: FEB1,
      reminders: count(0) + 1 /* the demo card */,
      steps: M + 1,
      expect: (amount) => (amount === 0 ? ['suspended', 0, 800, iso(FEB1)] : ['active', amount - 800, 0, iso(MAR1)]),
    },
    {
      billing: MAR1,
      reminders: count(800),
      steps: count(800) + count(1600),
      expect: (amount) =>
        ({
          0: ['suspended', 0, 800, iso(FEB1)],
          800: ['suspended', 0, 800, iso(MAR1)],
          1600: ['active', 0, 0, iso(APR1)],
        })[amount],
    },
  ];
  for (const cycle of cycles) {
    const date = iso(cycle.billing).slice(0, 10);
    await ctl.setClock(cycle.billing - 3 * DAY + PHASE_J);
    const remindStarted = Date.now();
    assert.equal((await ctl.runJobs()).body.lifecycle.reminders, cycle.reminders, `reminders before ${date}`);
    const remindMs = Date.now() - remindStarted;

    await ctl.setClock(cycle.billing + PHASE_J);
    await ctl.validToken();
    /* The billing run does more steps than the reminder run, with ledger postings: kill it
     * somewhere in its first half or so. */
    const estimateMs = (remindMs * cycle.steps) / cycle.reminders * 1.5;
    const killAfter = Math.max(3, Math.floor(estimateMs * (0.25 + 0.5 * Math.random())));
    const running = api(lebd, 'POST', '/api/v1/admin/jobs/run', { body: {}, token: ctl.token, allow5xx: true }).then(
      (response) => ({ response, at: Date.now() }),
      (error) => ({ error, at: Date.now() }),
    );
    await delay(killAfter);
    const killedAt = Date.now();
    const exit = await lebd.kill();
    assert.equal(exit.signal, 'SIGKILL');
    const outcome = await running;
    const answered = outcome.response !== undefined && outcome.at <= killedAt;
    t.diagnostic(
      `${date}: reminder run ${remindMs} ms; billing run killed after ${killAfter} ms; ` +
        (answered ? `it had already answered ${outcome.response.status} ${outcome.response.text}` : 'it was cut off'),
    );

    /* The clock must not go back: start again a little after lebd's last now. */
    const lastNow = ctl.during(Date.now()).hi + 1;
    lebd = await lebd.restart({ args: ['--clock', iso(lastNow)] });
    ctl = new Ctl(lebd);
    await ctl.moveClock({ advance_s: 1 });
    const again = await ctl.runJobs();
    t.diagnostic(
      `${date}: the run after the restart (lebd's start-up run may have done the rest): ` +
        JSON.stringify(again.body.lifecycle),
    );
    assertNothingDone((await ctl.runJobs()).body, `one more run after the restart on ${date}`);

    const views = await viewsOf(ctl, specs);
    views.forEach((view, i) => {
      const when = view.status === 'active' ? view.next_billing_at : view.suspended_at;
      const actual = [view.status, view.balance, view.arrears, when];
      const amount = specs[i].amount;
      assert.deepEqual(actual, cycle.expect(amount), `card ${i} (${amount}) after the crash on ${date}`);
    });
    const demo = await ctl.view(DEMO.active.card_no);
    assert.deepEqual([demo.status, demo.balance, demo.arrears], ['suspended', 0, 800], 'the demo card');
    await ctl.assertLedgerBalanced();
  }

  /* The outbox was written with each step: one suspension webhook per suspended card (the
   * newest 1000 webhooks hold them all: the top-ups' came first). */
  const suspendedHooks = await webhookCounts(ctl, 'card.suspended');
  specs.forEach((s) => {
    const expected = s.amount <= 800 ? 1 : 0;
    assert.equal(suspendedHooks.get(s.card_no) || 0, expected, `card.suspended webhooks of ${s.card_no}`);
  });
  assert.equal(suspendedHooks.get(DEMO.active.card_no), 1, 'card.suspended webhooks of the demo card');
  for (const s of specs.filter((_, i) => i % 25 === 0)) {
    const expected = s.amount <= 800 ? 1 : 0;
    assert.equal(await smsCount(ctl, s.msisdn, 'suspended'), expected, `suspended SMS to ${s.msisdn}`);
    assert.equal(await smsCount(ctl, s.msisdn, 'low_balance'), expected, `low_balance SMS to ${s.msisdn}`);
  }
  t.diagnostic(`two crashed billing runs checked in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

/*
 * Payments arriving while a billing run is under way: whichever comes first for a card, the fee
 * is charged before or the arrears paid after, and every card ends active with nothing left,
 * billed next on 1 March. A run that wrote back a card it read before a credit committed would
 * lose the credit: the balances and the ledger would show it.
 */
test('payments racing a billing run: no credit is lost, no fee taken twice', { timeout: 300000 }, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  await monthlyPlan(ctl, 'RACE');
  const M = SANITIZED ? 300 : 1000;
  const specs = await cardsWithBalances(ctl, '898633', '152', 'RACE', new Array(M).fill(0));
  await ctl.setClock(FEB1 - 2 * DAY + PHASE_J);
  assert.equal((await ctl.runJobs()).body.lifecycle.reminders, M + 1);

  await ctl.setClock(FEB1 + PHASE_J);
  const ordered = await mapLimit(specs, IN_FLIGHT, async (s) => {
    const order = await createOrder(lebd, { card: s.card_no, face_amount: 800 });
    assertStatus(order, 201);
    return order.body;
  });
  const orders = ordered.map((result) => {
    if (!result.ok) throw result.error;
    return result.value;
  });
  await ctl.validToken();
  const [run, paid] = await Promise.all([
    ctl.runJobs(),
    mapLimit(orders, 64, async (order) => {
      const response = await notify(lebd, { order_no: order.order_no, amount: 800, status: 'SUCCESS' });
      assertStatus(response, 200);
    }),
  ]);
  for (const result of paid) if (!result.ok) throw result.error;
  const after = await ctl.runJobs();
  const l = run.body.lifecycle;
  t.diagnostic(`the run: ${JSON.stringify(l)}; the next: ${JSON.stringify(after.body.lifecycle)}`);
  assert.equal(l.charged + after.body.lifecycle.charged + l.suspended + after.body.lifecycle.suspended, M + 1);

  const views = await viewsOf(ctl, specs);
  views.forEach((view, i) => {
    const actual = [view.status, view.balance, view.arrears, view.next_billing_at, view.suspended_at];
    assert.deepEqual(actual, ['active', 0, 0, iso(MAR1), null], `card ${i}`);
  });
  await ctl.assertLedgerBalanced();
});

test('the lifecycle fields of a plan are checked', async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const base = planBody({ code: 'X', model: 'monthly_fee', fee: 800, grace: 30, remind: 3, warn: 7 });
  const bad = [
    [{ remind_days_before: -1 }, 'a negative reminder lead'],
    [{ remind_days_before: 29 }, 'a reminder lead over 28 days'],
    [{ recycle_warning_days: -1 }, 'a negative warning lead'],
    [{ recycle_warning_days: 31 }, 'a warning lead beyond grace_days'],
  ];
  for (const [fields, what] of bad) {
    const response = await ctl.call('POST', '/api/v1/admin/plans', { ...base, code: 'BAD', ...fields });
    assert.equal(response.status, 400, `${what}: ${response.text}`);
    assert.ok(['invalid_plan', 'invalid_request'].includes(response.body.error.code), `${what}: ${response.text}`);
  }
  const edge = await ctl.createPlan({ ...base, code: 'EDGE', remind_days_before: 28, recycle_warning_days: 30 });
  assert.equal(edge.remind_days_before, 28);
  assert.equal(edge.recycle_warning_days, 30);
  const none = await ctl.createPlan({ ...base, code: 'NONE', remind_days_before: 0, recycle_warning_days: 0 });
  assert.equal(none.remind_days_before, 0);
  assert.equal(none.recycle_warning_days, 0);
});

test('a job not run for months catches up one billing cycle at a time', { timeout: 120000 }, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  await monthlyPlan(ctl, 'CATCH', 60);
  await ctl.createPlan(
    planBody({ code: 'CATCHV', model: 'validity', vd: 30, step: 1000, vmax: 365, grace: 60, remind: 3, warn: 7 }),
  );
  /* Two fees, five fees, nothing; and a validity card. */
  const specs = await cardsWithBalances(ctl, '898611', '150', 'CATCH', [1600, 4000, 0]);
  const validity = cardNumbers('898612', '151', 0);
  const { views: created } = await ctl.createCards([{ ...validity, plan: 'CATCHV' }]);
  const validUntil = parseTime(created[0].valid_until, 'valid_until');
  assert.equal(validUntil, parseTime(created[0].created_at) + 30 * DAY, 'a new validity card comes with one step');

  /* 15 April: Feb, Mar, Apr billing; recycling 60 days after suspension. */
  await ctl.setClock(Date.UTC(2027, 3, 15, 12) / 1000);
  const run = await ctl.runJobs();
  t.diagnostic(`catch-up run: ${JSON.stringify(run.body)}`);
  const l = run.body.lifecycle;
  /* 1600: Feb, Mar charged, suspended 1 Apr. 4000: Feb, Mar, Apr charged. 0: suspended 1 Feb,
   * recycled 2 Apr. Validity: suspended 31 Jan, recycled 1 Apr. Demo active: suspended 1 Feb;
   * demo suspended (since 1 Jan): recycled 1 Apr. */
  assert.equal(l.charged, 2 + 3, 'charged');
  assert.equal(l.suspended, 1 + 1 + 1 + 1, 'suspended');
  assert.equal(l.recycled, 1 + 1 + 1, 'recycled');
  assertNothingDone((await ctl.runJobs()).body, 'the run after the catch-up');

  const views = await viewsOf(ctl, [...specs, validity]);
  const brief = (v) => [
    v.status,
    v.balance,
    v.status === 'recycled' ? '-' : v.arrears,
    v.status === 'active' ? v.next_billing_at : v.suspended_at,
  ];
  assert.deepEqual(brief(views[0]), ['suspended', 0, 800, iso(APR1)]);
  assert.deepEqual(brief(views[1]), ['active', 1600, 0, iso(Date.UTC(2027, 4, 1) / 1000)]);
  assert.deepEqual(brief(views[2]).slice(0, 2), ['recycled', 0]);
  assert.deepEqual(brief(views[3]).slice(0, 2), ['recycled', 0]);
  assert.equal((await ctl.view(DEMO.suspended.card_no)).status, 'recycled');
  assert.equal((await ctl.view(DEMO.active.card_no)).status, 'suspended');
  await ctl.assertLedgerBalanced();
});

test('outside test mode the clock and jobs routes do not exist', async (t) => {
  const lebd = await startLebd({ t });
  const ctl = new Ctl(lebd);
  const clock = await ctl.call('POST', '/api/v1/admin/clock', { advance_s: 86400 });
  assertError(clock, 404, 'not_found', 'POST /api/v1/admin/clock without --test-mode');
  const clockNow = await ctl.call('POST', '/api/v1/admin/clock', { now: '2030-01-01T00:00:00Z' });
  assertError(clockNow, 404, 'not_found', 'POST /api/v1/admin/clock {now} without --test-mode');
  const jobs = await ctl.call('POST', '/api/v1/admin/jobs/run', {});
  assertError(jobs, 404, 'not_found', 'POST /api/v1/admin/jobs/run without --test-mode');
  /* And the clock did not move: a new card is billed a month from today (real time). */
  const view = await ctl.view(DEMO.active.card_no);
  const createdAt = parseTime(view.created_at);
  assert.ok(Math.abs(createdAt - Date.now() / 1000) < 600, `created_at ${view.created_at} is the real time`);
});
