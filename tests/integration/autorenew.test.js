'use strict';
/*
 * autorenew.test.js - auto-renewal (自动续费, src/core/autorenew.h): a card with a (sandbox)
 * payment agreement is topped up on its own before its fee or validity falls due, through the
 * auto_renew channel, at most once per card per cycle.
 *
 * lebd runs with --test-mode --clock 2027-01-01T00:00:00Z and its background jobs held back
 * (lifecycle once a day of real time, order expiry once an hour): time is moved with
 * POST /api/v1/admin/clock and the jobs run with POST /api/v1/admin/jobs/run.
 *
 * The tests keep their own model of the rules (autorenew.h, lifecycle.h), written again from
 * their comments: the cycle (next_billing_at, valid_until, or suspended_at), the lead
 * (1 + remind_days_before days before the cycle), the smallest amount the plan allows
 * (a multiple of amount_step or a denomination, within [amount_min, amount_max]), the retries
 * (6 h apart, 3 a cycle), and the lifecycle steps the top-ups feed (billing, reminders,
 * suspension, reactivation). Nothing is asked of lebd to compute an expectation: only the
 * instants lebd fixed itself (a card's created_at) are read back.
 *
 * Differences from the model are collected and reported together at the end of each test
 * (one root cause often shows at several instants), each with the instant and the card.
 */

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { isDeepStrictEqual } = require('node:util');

const { startLebd, SANITIZED } = require('../lib/lebd');
const {
  DEMO,
  RFC3339_UTC,
  api,
  assertError,
  assertStatus,
  createOrder,
  luhnCardNo,
  mapLimit,
  notify,
} = require('../lib/client');

const DAY = 86400;
const HOUR = 3600;
const CLOCK_START = '2027-01-01T00:00:00Z';
const T0 = Date.parse(CLOCK_START) / 1000;
const JAN = (day, hour = 0, minute = 0) => Date.UTC(2027, 0, day, hour, minute) / 1000;
const FEB = (day, hour = 0, minute = 0) => Date.UTC(2027, 1, day, hour, minute) / 1000;
const FEB1 = FEB(1);
const MAR1 = Date.UTC(2027, 2, 1) / 1000;

/* autorenew.h */
const LEAD_DAYS = 1;
const RETRY_S = 6 * HOUR;
const ATTEMPTS_MAX = 3;

const LEBD_ENV = {
  LEB_LIFECYCLE_INTERVAL_S: '86400',
  LEB_ORDERS_EXPIRY_INTERVAL_S: '3600',
  LEB_LIMITS_CARD_LOOKUP_PER_MIN: '6000',
  LEB_LIMITS_CARD_LOOKUP_BURST: '1000',
};

function startTestLebd(t) {
  return startLebd({ t, testMode: true, args: ['--clock', CLOCK_START], env: LEBD_ENV });
}

/* ------------------------------------------------------------------------------------------
 * Time
 * ---------------------------------------------------------------------------------------- */

function iso(seconds) {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function parseTime(text, what = 'time') {
  assert.match(String(text), RFC3339_UTC, `${what} is RFC 3339 UTC`);
  return Date.parse(text) / 1000;
}

/* time_next_billing(): the first billing instant strictly after "after" for a card activated
 * at "activatedAt": the activation day of the month at 00:00:00 UTC, clamped to the month's
 * last day. */
function nextBillingAfter(activatedAt, after) {
  const dayOfMonth = new Date(activatedAt * 1000).getUTCDate();
  const from = new Date(after * 1000);
  for (let k = 0; k <= 2; k++) {
    const year = from.getUTCFullYear();
    const month = from.getUTCMonth() + k;
    const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const instant = Date.UTC(year, month, Math.min(dayOfMonth, last)) / 1000;
    if (instant > after) return instant;
  }
  throw new Error(`nextBillingAfter(${after}): unreachable`);
}

/* ------------------------------------------------------------------------------------------
 * Plans, and the amounts a plan allows (pricing's rule, brute force)
 * ---------------------------------------------------------------------------------------- */

/* Like the demo plan KEEP8. */
const PLAN_K8 = {
  code: 'ARK8', model: 'monthly_fee', fee: 800, denominations: [5000, 10000, 20000],
  min: 1000, max: 50000, step: 100, remind: 3, grace: 90, warn: 7,
};
/* A fee no single step covers, a denomination that is not a multiple of the step, a longer lead. */
const PLAN_ODD = {
  code: 'ARODD', model: 'monthly_fee', fee: 1250, denominations: [1300],
  min: 1000, max: 50000, step: 500, remind: 5, grace: 90, warn: 7,
};
/* A big fee, for arrears that a balance pays in part. */
const PLAN_BIG = {
  code: 'ARBIG', model: 'monthly_fee', fee: 3000, denominations: [1200, 1900],
  min: 1000, max: 50000, step: 500, remind: 3, grace: 90, warn: 7,
};
const PLAN_VAL = {
  code: 'ARVAL', model: 'validity', vd: 30, vstep: 1000, vmax: 365, denominations: [5000],
  min: 1000, max: 50000, step: 100, remind: 3, grace: 60, warn: 7,
};

function planBody(plan) {
  const body = {
    code: plan.code,
    name: `Auto-renewal ${plan.code}`,
    currency: 'CNY',
    model: plan.model,
    denominations: plan.denominations,
    min_amount: plan.min,
    max_amount: plan.max,
    amount_step: plan.step,
    grace_days: plan.grace,
    remind_days_before: plan.remind,
    recycle_warning_days: plan.warn,
  };
  if (plan.model === 'monthly_fee') {
    body.monthly_fee = plan.fee;
  } else {
    body.validity_days = plan.vd;
    body.validity_step_amount = plan.vstep;
    body.validity_days_max = plan.vmax;
  }
  return body;
}

function amountAllowed(plan, amount) {
  return (
    Number.isSafeInteger(amount) &&
    amount >= plan.min &&
    amount <= plan.max &&
    (plan.denominations.includes(amount) || amount % plan.step === 0)
  );
}

/* The smallest amount the plan allows that is at least "needed"; the largest if none is. */
function smallestCovering(plan, needed) {
  for (let amount = Math.max(needed, plan.min); amount <= plan.max; amount++) {
    if (amountAllowed(plan, amount)) return amount;
  }
  for (let amount = plan.max; amount >= plan.min; amount--) {
    if (amountAllowed(plan, amount)) return amount;
  }
  throw new Error(`model: plan ${plan.code} allows no amount`);
}

test('the model of the amounts a plan allows', () => {
  assert.equal(smallestCovering(PLAN_K8, 800), 1000, 'KEEP8: 800 short -> amount_min');
  assert.equal(smallestCovering(PLAN_K8, 1050), 1100, 'KEEP8: the next multiple of the step');
  assert.equal(smallestCovering(PLAN_ODD, 1250), 1300, 'a denomination below the next multiple');
  assert.equal(smallestCovering(PLAN_ODD, 1350), 1500);
  assert.equal(smallestCovering(PLAN_BIG, 1800), 1900);
  assert.equal(smallestCovering(PLAN_BIG, 0), 1000, 'nothing owed: the smallest amount sold');
  assert.equal(smallestCovering(PLAN_K8, 60000), 50000, 'more than amount_max: amount_max');
  assert.equal(amountAllowed(PLAN_K8, 1050), false);
  assert.equal(amountAllowed(PLAN_K8, 5000), true);
  assert.equal(amountAllowed(PLAN_BIG, 1200), true);
  assert.equal(amountAllowed(PLAN_BIG, 1300), false);
});

/* ------------------------------------------------------------------------------------------
 * Differences, collected
 * ---------------------------------------------------------------------------------------- */

class Issues {
  constructor() {
    this.list = [];
  }

  eq(actual, expected, what) {
    if (!isDeepStrictEqual(actual, expected)) {
      this.list.push(`${what}: lebd ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
    }
  }

  ok(condition, what) {
    if (!condition) this.list.push(what);
  }

  done() {
    if (this.list.length > 0) {
      assert.fail(`${this.list.length} difference(s) from the rules:\n  ${this.list.join('\n  ')}`);
    }
  }
}

/* ------------------------------------------------------------------------------------------
 * lebd as an operator drives it
 * ---------------------------------------------------------------------------------------- */

class Ctl {
  constructor(lebd) {
    this.lebd = lebd;
    this.token = null;
    this.now = T0;
  }

  async login() {
    const response = await api(this.lebd, 'POST', '/api/v1/auth/login', {
      body: { username: 'admin', password: this.lebd.adminPassword },
    });
    assertStatus(response, 200, 'admin login');
    this.token = response.body.token;
    return this.token;
  }

  /* One operator request; a 401 (the token expired on lebd's moving clock) logs in again. */
  async call(method, path, body) {
    if (this.token === null) await this.login();
    let response = await api(this.lebd, method, path, { token: this.token, body });
    if (response.status === 401) {
      await this.login();
      response = await api(this.lebd, method, path, { token: this.token, body });
    }
    return response;
  }

  async setClock(seconds) {
    assert.ok(seconds > this.now, `the test moves the clock forward: ${iso(seconds)} after ${iso(this.now)}`);
    const response = await this.call('POST', '/api/v1/admin/clock', { now: iso(seconds) });
    assertStatus(response, 200, `clock to ${iso(seconds)}`);
    const now = parseTime(response.body.now, 'clock now');
    assert.ok(now >= seconds && now <= seconds + 10, `clock set to ${iso(seconds)}, lebd says ${iso(now)}`);
    this.now = seconds;
    return now;
  }

  async runJobs() {
    const response = await this.call('POST', '/api/v1/admin/jobs/run', {});
    assertStatus(response, 200, 'jobs/run');
    const body = response.body;
    assert.ok(body && body.lifecycle && body.auto_renew, `jobs/run answer: ${response.text}`);
    for (const key of ['charged', 'failed', 'given_up']) {
      assert.ok(
        Number.isSafeInteger(body.auto_renew[key]) && body.auto_renew[key] >= 0,
        `jobs/run auto_renew.${key}: ${response.text}`,
      );
    }
    return body;
  }

  async createPlan(plan) {
    const response = await this.call('POST', '/api/v1/admin/plans', planBody(plan));
    assertStatus(response, 201, `plan ${plan.code}`);
    return response.body;
  }

  async createCard(fields) {
    const response = await this.call('POST', '/api/v1/admin/cards', fields);
    assertStatus(response, 201, `card ${JSON.stringify(fields)}`);
    return response.body;
  }

  async view(number) {
    const response = await this.call('GET', `/api/v1/cards/${encodeURIComponent(number)}/balance`);
    assertStatus(response, 200, `balance of ${number}`);
    return response.body;
  }

  putAutoRenew(number, body) {
    return this.call('PUT', `/api/v1/admin/cards/${encodeURIComponent(number)}/auto-renew`, body);
  }

  async putAutoRenewOk(number, body) {
    const response = await this.putAutoRenew(number, body);
    assertStatus(response, 200, `PUT auto-renew ${JSON.stringify(body)} on ${number}`);
    return response.body;
  }

  getAutoRenew(number) {
    return this.call('GET', `/api/v1/admin/cards/${encodeURIComponent(number)}/auto-renew`);
  }

  async getAutoRenewOk(number) {
    const response = await this.getAutoRenew(number);
    assertStatus(response, 200, `GET auto-renew of ${number}`);
    return response.body;
  }

  async outbox(destination) {
    const response = await this.call(
      'GET',
      `/api/v1/admin/outbox?destination=${encodeURIComponent(destination)}&limit=1000`,
    );
    assertStatus(response, 200, `outbox of ${destination}`);
    assert.ok(Array.isArray(response.body.messages));
    assert.ok(response.body.messages.length < 1000, 'fewer than 1000 messages');
    return [...response.body.messages].sort((a, b) => a.id - b.id);
  }

  async assertLedgerBalanced() {
    const response = await this.call('GET', '/api/v1/admin/ledger/check');
    assertStatus(response, 200, 'ledger check');
    assert.equal(response.body.balanced, true, `ledger not balanced: ${response.text}`);
    assert.deepEqual(response.body.mismatches, [], 'ledger mismatches');
  }
}

/* A web order and its signed SUCCESS notification: the cardholder's own top-up. */
async function webTopUp(ctl, cardNo, amount) {
  const order = await createOrder(ctl.lebd, { card: cardNo, face_amount: amount });
  assertStatus(order, 201, `web order of ${amount} on ${cardNo}`);
  assert.equal(order.body.pay_amount, amount, 'no discount or fee on these plans');
  const paid = await notify(ctl.lebd, { order_no: order.body.order_no, amount, status: 'SUCCESS' });
  assertStatus(paid, 200, `notification of ${order.body.order_no}`);
  return order.body.order_no;
}

function cardNumbers(prefix6, phone3, index) {
  return {
    card_no: luhnCardNo(`${prefix6}${String(index).padStart(12, '0')}`),
    msisdn: `+86${phone3}${String(index).padStart(8, '0')}`,
  };
}

const AGREEMENT_OK = { provider: 'sandbox', behaviour: 'succeed' };
const AGREEMENT_FAIL = { provider: 'sandbox', behaviour: 'fail' };
const SMS_TEMPLATES = ['recharge_succeeded', 'low_balance', 'suspended', 'recycle_warning', 'recycled', 'auto_renew_failed', 'reactivated'];

/* ------------------------------------------------------------------------------------------
 * The model: autorenew.h and lifecycle.h again, for the cards of one test
 * ---------------------------------------------------------------------------------------- */

class Model {
  constructor() {
    this.cards = [];
  }

  /* A card as lebd created it (its view): only created_at is read back, as the activation. */
  add(label, numbers, plan, view, status = 'active') {
    const activatedAt = parseTime(view.created_at, `${label} created_at`);
    const card = {
      label,
      ...numbers,
      plan,
      status,
      balance: 0,
      arrears: 0,
      activatedAt,
      nextBilling: plan.model === 'monthly_fee' && status !== 'recycled' ? nextBillingAfter(activatedAt, activatedAt) : null,
      validUntil: plan.model === 'validity' ? (status === 'active' ? activatedAt + plan.vd * DAY : activatedAt) : null,
      suspendedAt: status === 'suspended' ? activatedAt : null,
      remindedFor: null,
      setting: null,
      arCycle: 0,
      arAttempts: 0,
      arLast: 0,
      chargedCycles: new Set(),
      toldCycles: new Set(),
      credits: [], /* {amount, channel, balance} in order */
      hooks: [], /* events in order */
      sms: Object.fromEntries(SMS_TEMPLATES.map((name) => [name, 0])),
    };
    this.cards.push(card);
    return card;
  }

  /* PUT auto-renew that lebd accepted: a change keeps the attempts of the cycle. */
  set(card, setting) {
    card.setting = { ...setting };
  }

  cycleOf(card) {
    if (card.status === 'active') return card.plan.model === 'monthly_fee' ? card.nextBilling : card.validUntil;
    if (card.status === 'suspended') return card.suspendedAt;
    return 0;
  }

  leadOf(card) {
    return this.cycleOf(card) - (LEAD_DAYS + card.plan.remind) * DAY;
  }

  needed(card) {
    const { setting, plan } = card;
    if (setting.rule === 'threshold') {
      return card.status === 'suspended' || card.balance < setting.threshold ? setting.amount : 0;
    }
    if (card.status === 'suspended') return smallestCovering(plan, Math.max(card.arrears - card.balance, 0));
    return card.balance >= plan.fee ? 0 : smallestCovering(plan, plan.fee - card.balance);
  }

  /* lifecycle_apply_credit() */
  credit(card, amount, channel, now) {
    assert.notEqual(card.status, 'recycled', `model: a credit on recycled ${card.label}`);
    const plan = card.plan;
    const wasSuspended = card.status === 'suspended';
    card.balance += amount;
    if (plan.model === 'monthly_fee') {
      const paid = Math.min(card.arrears, card.balance);
      card.balance -= paid;
      card.arrears -= paid;
      if (wasSuspended && card.arrears === 0) {
        card.status = 'active';
        card.suspendedAt = null;
        card.nextBilling = nextBillingAfter(card.activatedAt, now);
      }
    } else {
      const steps = Math.floor(amount / plan.vstep);
      if (steps > 0) {
        card.validUntil = Math.min(Math.max(card.validUntil, now) + steps * plan.vd * DAY, now + plan.vmax * DAY);
      }
      if (wasSuspended && card.validUntil > now) {
        card.status = 'active';
        card.suspendedAt = null;
      }
    }
    card.credits.push({ amount, channel, balance: card.balance });
    card.sms.recharge_succeeded++;
    card.hooks.push('card.recharged');
    if (wasSuspended && card.status === 'active') {
      card.hooks.push('card.reactivated');
      card.sms.reactivated++;
    }
  }

  /* One auto-renewal pass at "now": {charged, failed, given_up}. */
  autoRenew(now) {
    const counts = { charged: 0, failed: 0, given_up: 0 };
    for (const card of this.cards) {
      const setting = card.setting;
      if (!setting || !setting.enabled || card.status === 'recycled') continue;
      const cycle = this.cycleOf(card);
      if (!cycle) continue;
      if (card.status === 'active' && now < this.leadOf(card)) continue;
      if (card.chargedCycles.has(cycle)) continue; /* at most one charge per card per cycle */
      const amount = this.needed(card);
      if (amount === 0) continue;
      if (card.arCycle === cycle && card.arAttempts > 0) {
        if (card.arAttempts >= ATTEMPTS_MAX || now < card.arLast + RETRY_S) continue;
      } else {
        card.arCycle = cycle;
        card.arAttempts = 0;
      }
      card.arAttempts++;
      card.arLast = now;
      if (setting.behaviour === 'fail') {
        counts.failed++;
        if (card.arAttempts >= ATTEMPTS_MAX && !card.toldCycles.has(cycle)) {
          card.toldCycles.add(cycle);
          card.sms.auto_renew_failed++;
          counts.given_up++;
        }
      } else {
        assert.ok(amountAllowed(card.plan, amount), `model: ${amount} on ${card.plan.code}`);
        card.chargedCycles.add(cycle);
        this.credit(card, amount, 'auto_renew', now);
        counts.charged++;
      }
    }
    return counts;
  }

  /* The lifecycle steps due for "card" at "now" (lifecycle_next), one at a time. */
  lifecycleSteps(card, now) {
    const plan = card.plan;
    for (let guard = 0; guard < 64; guard++) {
      const due = [];
      if (card.status === 'active' && plan.model === 'monthly_fee') {
        if (now >= card.nextBilling) due.push(card.balance >= plan.fee ? 'charge_fee' : 'suspend');
        if (
          plan.remind > 0 && card.balance < plan.fee && card.remindedFor !== card.nextBilling &&
          now >= card.nextBilling - plan.remind * DAY
        ) {
          due.push('remind_low');
        }
      } else if (card.status === 'active') {
        if (now >= card.validUntil) due.push('suspend');
        if (plan.remind > 0 && card.remindedFor !== card.validUntil && now >= card.validUntil - plan.remind * DAY) {
          due.push('remind_low');
        }
      } else if (card.status === 'suspended') {
        const recycleAt = card.suspendedAt + plan.grace * DAY;
        if (now >= recycleAt || (plan.warn > 0 && now >= recycleAt - plan.warn * DAY)) {
          throw new Error(`model: ${card.label} reaches its recycling or last warning: not in these scenarios`);
        }
      }
      if (due.length === 0) return;
      if (due.length > 1) {
        throw new Error(`model: ${card.label} has ${due.join(' and ')} due at once at ${iso(now)}: avoid it`);
      }
      switch (due[0]) {
        case 'charge_fee':
          card.balance -= plan.fee;
          card.nextBilling = nextBillingAfter(card.activatedAt, card.nextBilling);
          break;
        case 'suspend':
          card.status = 'suspended';
          if (plan.model === 'monthly_fee') {
            card.arrears = plan.fee;
            card.suspendedAt = card.nextBilling;
          } else {
            card.suspendedAt = card.validUntil;
          }
          card.sms.suspended++;
          card.hooks.push('card.suspended');
          break;
        case 'remind_low':
          card.remindedFor = plan.model === 'monthly_fee' ? card.nextBilling : card.validUntil;
          card.sms.low_balance++;
          break;
        default:
          throw new Error(`model: ${due[0]}`);
      }
    }
    throw new Error(`model: ${card.label} does not settle`);
  }

  /* jobs/run: auto-renewal, then the lifecycle. */
  run(now) {
    const counts = this.autoRenew(now);
    for (const card of this.cards) this.lifecycleSteps(card, now);
    return counts;
  }

  expectedView(card) {
    const monthly = card.plan.model === 'monthly_fee';
    return {
      status: card.status,
      balance: card.balance,
      arrears: card.arrears,
      next_billing_at: monthly && card.status === 'active' ? iso(card.nextBilling) : null,
      valid_until: monthly ? null : iso(card.validUntil),
      suspended_at: card.status === 'suspended' ? iso(card.suspendedAt) : null,
    };
  }
}

function viewFields(view) {
  return {
    status: view.status,
    balance: view.balance,
    arrears: view.arrears,
    next_billing_at: view.status === 'active' ? view.next_billing_at : null,
    valid_until: view.valid_until,
    suspended_at: view.suspended_at,
  };
}

/* Moves the clock to "at", runs the jobs (twice: the second run must find nothing left), and
 * compares the counts and every card with the model. */
async function step(ctl, model, issues, at, label) {
  await ctl.setClock(at);
  const body = await ctl.runJobs();
  const expected = model.run(at);
  issues.eq(body.auto_renew, expected, `${label} (${iso(at)}): jobs/run auto_renew`);
  const again = await ctl.runJobs();
  issues.eq(again.auto_renew, { charged: 0, failed: 0, given_up: 0 }, `${label} (${iso(at)}): a second jobs/run at once`);
  model.run(at);
  await compareCards(ctl, model, issues, `${label} (${iso(at)})`);
  return body;
}

async function compareCards(ctl, model, issues, label) {
  for (const card of model.cards) {
    const view = await ctl.view(card.card_no);
    issues.eq(viewFields(view), model.expectedView(card), `${label}: ${card.label}`);
  }
}

/* The outbox of every card against the model: the SMS per template, each recharge_succeeded
 * (amount, balance after, and the order it names: channel, status, amount), and the card's
 * telecom webhooks in order. */
async function compareOutbox(ctl, model, issues) {
  const telecom = await ctl.outbox('telecom');
  for (const card of model.cards) {
    const messages = await ctl.outbox(card.msisdn);
    const counts = Object.fromEntries(SMS_TEMPLATES.map((name) => [name, 0]));
    for (const message of messages) {
      issues.eq([message.kind, message.destination], ['sms', card.msisdn], `${card.label}: a message to its phone`);
      const template = message.payload && message.payload.template;
      if (template in counts) counts[template]++;
      else issues.ok(false, `${card.label}: an SMS of unknown template ${JSON.stringify(message.payload)}`);
    }
    issues.eq(counts, card.sms, `${card.label}: SMS per template`);

    const recharged = messages.filter((m) => m.payload && m.payload.template === 'recharge_succeeded');
    const seen = [];
    for (const message of recharged) {
      const orderNo = message.payload.order_no;
      const order = await api(ctl.lebd, 'GET', `/api/v1/orders/${encodeURIComponent(String(orderNo))}`);
      assertStatus(order, 200, `the order ${orderNo} a recharge_succeeded SMS names`);
      seen.push({
        amount: message.payload.amount,
        balance: message.payload.balance,
        channel: order.body.channel,
        status: order.body.status,
        face_amount: order.body.face_amount,
        credited: typeof order.body.credited_at === 'string',
      });
    }
    issues.eq(
      seen,
      card.credits.map((c) => ({
        amount: c.amount, balance: c.balance, channel: c.channel, status: 'succeeded', face_amount: c.amount, credited: true,
      })),
      `${card.label}: the recharge_succeeded SMS and their orders`,
    );
    const orderNos = recharged.map((m) => m.payload.order_no);
    issues.eq(new Set(orderNos).size, orderNos.length, `${card.label}: one SMS per order`);

    const hooks = telecom.filter((m) => m.payload && m.payload.card_no === card.card_no).map((m) => m.payload.event);
    issues.eq(hooks, card.hooks, `${card.label}: telecom webhooks`);
  }
}

/* ------------------------------------------------------------------------------------------
 * 1. keep_fee on monthly cards
 * ---------------------------------------------------------------------------------------- */

test('keep_fee: from the lead on, one top-up by the smallest allowed amount per cycle, before the reminder', {
  timeout: 120000,
}, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  for (const plan of [PLAN_K8, PLAN_ODD]) await ctl.createPlan(plan);

  /* k8: fee 800, nothing on it. odd: fee 1250, nothing on it. prepaid: 1000 on it already. */
  const specs = [
    ['KEEP8-like card, no balance', PLAN_K8, 0],
    ['odd plan card, no balance', PLAN_ODD, 0],
    ['KEEP8-like card, 1000 prepaid', PLAN_K8, 1000],
  ];
  const cards = [];
  for (const [index, [label, plan, prepaid]] of specs.entries()) {
    const numbers = cardNumbers('898621', '139', index);
    const view = await ctl.createCard({ ...numbers, plan: plan.code });
    assert.equal(view.next_billing_at, iso(FEB1), `${label}: created on 1 January, billed on the 1st`);
    const card = model.add(label, numbers, plan, view);
    if (prepaid > 0) {
      await webTopUp(ctl, card.card_no, prepaid);
      model.credit(card, prepaid, 'web', T0);
    }
    const setting = { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK };
    const shown = await ctl.putAutoRenewOk(card.card_no, setting);
    assert.equal(shown.enabled, true);
    assert.equal(shown.rule, 'keep_fee');
    assert.equal(shown.agreement.provider, 'sandbox');
    assert.equal(typeof shown.agreement.agreement_id, 'string');
    assert.ok(shown.agreement.agreement_id.length > 0, 'an agreement id');
    assert.equal(shown.attempts, 0);
    assert.equal(shown.card_no_masked, view.card_no_masked);
    assert.deepEqual(await ctl.getAutoRenewOk(card.card_no), shown, 'GET shows what PUT answered');
    model.set(card, { enabled: true, rule: 'keep_fee', behaviour: 'succeed' });
    cards.push(card);
  }
  const [k8, odd, prepaid] = cards;
  await compareCards(ctl, model, issues, 'created');

  /* The leads: 1 + remind_days_before days before the billing day. */
  const leadK8 = FEB1 - (1 + 3) * DAY;
  const leadOdd = FEB1 - (1 + 5) * DAY;
  assert.equal(model.leadOf(k8), leadK8);
  assert.equal(model.leadOf(odd), leadOdd);

  await step(ctl, model, issues, T0 + HOUR, 'an hour after enabling');
  await step(ctl, model, issues, JAN(20), '20 January');
  await step(ctl, model, issues, leadOdd - 60, 'a minute before the odd plan card\'s lead');
  const atOdd = await step(ctl, model, issues, leadOdd, 'the odd plan card\'s lead');
  t.diagnostic(`at the odd plan's lead: ${JSON.stringify(atOdd.auto_renew)}`);
  await step(ctl, model, issues, leadK8 - 60, 'a minute before the KEEP8-like lead');
  const atK8 = await step(ctl, model, issues, leadK8, 'the KEEP8-like lead');
  t.diagnostic(`at the KEEP8-like lead: ${JSON.stringify(atK8.auto_renew)}`);
  await step(ctl, model, issues, leadK8 + HOUR, 'an hour after the lead');
  /* The reminder instants (the odd plan's was 27 January): nothing to remind of. */
  await step(ctl, model, issues, FEB1 - 3 * DAY + 12 * HOUR, 'the KEEP8-like reminder day');
  await step(ctl, model, issues, FEB1 - DAY + 12 * HOUR, 'the eve of the billing day');
  await step(ctl, model, issues, FEB1 + 12 * HOUR, 'the billing day');

  /* The next month, once more. */
  const leadK8Mar = MAR1 - 4 * DAY;
  const leadOddMar = MAR1 - 6 * DAY;
  await step(ctl, model, issues, FEB(10), '10 February');
  await step(ctl, model, issues, leadOddMar - 60, 'a minute before the odd plan card\'s March lead');
  await step(ctl, model, issues, leadOddMar, 'the odd plan card\'s March lead');
  await step(ctl, model, issues, leadK8Mar - 60, 'a minute before the KEEP8-like March lead');
  await step(ctl, model, issues, leadK8Mar, 'the KEEP8-like March lead');
  await step(ctl, model, issues, leadK8Mar + 7 * HOUR, 'seven hours after the March lead');
  await step(ctl, model, issues, MAR1 - 2 * DAY, 'two days before 1 March');
  await step(ctl, model, issues, MAR1 + 12 * HOUR, '1 March');

  /* What the model expects, spelt out: each card charged once a cycle, never reminded. */
  assert.deepEqual(k8.credits.map((c) => c.amount), [1000, 1000]);
  assert.deepEqual(odd.credits.map((c) => c.amount), [1300, 1300]);
  assert.deepEqual(prepaid.credits.map((c) => [c.channel, c.amount]), [['web', 1000], ['auto_renew', 1000]]);
  assert.deepEqual(cards.map((c) => [c.status, c.balance]), [['active', 400], ['active', 100], ['active', 400]]);
  assert.deepEqual(cards.map((c) => c.sms.low_balance), [0, 0, 0]);

  await compareOutbox(ctl, model, issues);
  for (const card of cards) {
    const shown = await ctl.getAutoRenewOk(card.card_no);
    issues.eq([shown.enabled, shown.rule], [true, 'keep_fee'], `${card.label}: the setting stays`);
  }
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * 2. threshold
 * ---------------------------------------------------------------------------------------- */

test('threshold: tops up "amount" when the balance is below "threshold" from the lead on, not otherwise', {
  timeout: 120000,
}, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  for (const plan of [PLAN_K8, PLAN_VAL]) await ctl.createPlan(plan);
  const setting = { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, agreement: AGREEMENT_OK };

  const specs = [
    ['monthly, no balance', PLAN_K8, 0],
    ['monthly, 2000 (not below the threshold)', PLAN_K8, 2000],
    ['monthly, 1900 (below)', PLAN_K8, 1900],
    ['validity, no balance', PLAN_VAL, 0],
  ];
  const cards = [];
  for (const [index, [label, plan, prepaid]] of specs.entries()) {
    const numbers = cardNumbers('898622', '132', index);
    const view = await ctl.createCard({ ...numbers, plan: plan.code });
    const card = model.add(label, numbers, plan, view);
    if (prepaid > 0) {
      await webTopUp(ctl, card.card_no, prepaid);
      model.credit(card, prepaid, 'web', T0);
    }
    const shown = await ctl.putAutoRenewOk(card.card_no, setting);
    assert.deepEqual(
      [shown.enabled, shown.rule, shown.amount, shown.threshold],
      [true, 'threshold', 5000, 2000],
      `${label}: the setting as shown`,
    );
    model.set(card, { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, behaviour: 'succeed' });
    cards.push(card);
  }
  const [none, enough, below, validity] = cards;
  await compareCards(ctl, model, issues, 'created');
  const validityLead = model.leadOf(validity);
  assert.equal(validityLead, validity.activatedAt + (30 - 4) * DAY);

  await step(ctl, model, issues, JAN(20), '20 January');
  await step(ctl, model, issues, validityLead, 'the validity card\'s lead');
  await step(ctl, model, issues, FEB1 - 4 * DAY, 'the monthly cards\' lead');
  await step(ctl, model, issues, FEB1 - 2 * DAY, 'two days before 1 February');
  await step(ctl, model, issues, FEB1 + 12 * HOUR, '1 February');
  await step(ctl, model, issues, FEB(15), '15 February');
  /* The monthly cards' March lead: 2000 - 800 = 1200 is below 2000 now. */
  await step(ctl, model, issues, MAR1 - 4 * DAY, 'the March lead');
  await step(ctl, model, issues, MAR1 + 12 * HOUR, '1 March');

  assert.deepEqual(none.credits.map((c) => c.amount), [5000]);
  assert.deepEqual(enough.credits.map((c) => [c.channel, c.amount]), [['web', 2000], ['auto_renew', 5000]]);
  assert.deepEqual(below.credits.map((c) => [c.channel, c.amount]), [['web', 1900], ['auto_renew', 5000]]);
  assert.deepEqual(validity.credits.map((c) => c.amount), [5000]);
  assert.equal(validity.validUntil, validity.activatedAt + (30 + 5 * 30) * DAY, 'five steps of 30 days more');
  assert.deepEqual(cards.map((c) => c.balance), [3400, 5400, 5300, 5000]);

  await compareOutbox(ctl, model, issues);
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * 3. an agreement that fails
 * ---------------------------------------------------------------------------------------- */

test('a failing agreement: 3 attempts at least 6 h apart, one auto_renew_failed SMS, then the lifecycle as without', {
  timeout: 120000,
}, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  await ctl.createPlan(PLAN_K8);

  const numbers = cardNumbers('898623', '137', 0);
  const view = await ctl.createCard({ ...numbers, plan: PLAN_K8.code });
  const card = model.add('failing card', numbers, PLAN_K8, view);
  await ctl.putAutoRenewOk(card.card_no, { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_FAIL });
  model.set(card, { enabled: true, rule: 'keep_fee', behaviour: 'fail' });
  /* A card beside it that auto-renews fine: the failures are the agreement's alone. */
  const okNumbers = cardNumbers('898623', '137', 1);
  const okView = await ctl.createCard({ ...okNumbers, plan: PLAN_K8.code });
  const okCard = model.add('succeeding card', okNumbers, PLAN_K8, okView);
  await ctl.putAutoRenewOk(okCard.card_no, { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK });
  model.set(okCard, { enabled: true, rule: 'keep_fee', behaviour: 'succeed' });

  const lead = FEB1 - 4 * DAY;
  const attemptsShown = async (label, attempts, lastAt) => {
    const shown = await ctl.getAutoRenewOk(card.card_no);
    issues.eq(shown.attempts, attempts, `${label}: attempts shown`);
    if (lastAt !== null) {
      const last = shown.last_attempt_at === null ? null : parseTime(shown.last_attempt_at);
      issues.ok(last !== null && last >= lastAt && last <= lastAt + 10, `${label}: last_attempt_at ${shown.last_attempt_at}, expected ${iso(lastAt)}`);
    }
  };

  await step(ctl, model, issues, T0 + HOUR, 'an hour after enabling');
  await step(ctl, model, issues, JAN(20), '20 January');
  const first = await step(ctl, model, issues, lead, 'the lead: attempt 1');
  await attemptsShown('after attempt 1', 1, lead);
  await step(ctl, model, issues, lead + RETRY_S - 30, 'retry delay not yet over');
  await step(ctl, model, issues, lead + RETRY_S + 30, 'attempt 2');
  await attemptsShown('after attempt 2', 2, lead + RETRY_S + 30);
  await step(ctl, model, issues, lead + 2 * RETRY_S, 'retry delay not yet over');
  const third = await step(ctl, model, issues, lead + 2 * RETRY_S + 60, 'attempt 3');
  await attemptsShown('after attempt 3', 3, lead + 2 * RETRY_S + 60);
  await step(ctl, model, issues, lead + 3 * RETRY_S + 120, 'after the third failure, 6 h on');
  /* The reminder instant (1 February - 3 days = the lead + 1 day). */
  await step(ctl, model, issues, lead + DAY + 120, 'the reminder day');
  await step(ctl, model, issues, lead + DAY + 2 * RETRY_S, 'the reminder day, later');
  await step(ctl, model, issues, FEB1 - 12 * HOUR, 'the eve of the billing day');
  await step(ctl, model, issues, FEB1 + 60, 'the billing day');
  /* Suspended on its billing instant: its cycle is the same instant, whose attempts are used. */
  await step(ctl, model, issues, FEB1 + RETRY_S + 120, 'the billing day, 6 h on');
  await step(ctl, model, issues, FEB1 + DAY, 'a day after the suspension');

  t.diagnostic(`first attempt: ${JSON.stringify(first.auto_renew)}; third: ${JSON.stringify(third.auto_renew)}`);
  /* The model's expectations, spelt out. */
  assert.equal(card.arAttempts, 3);
  assert.deepEqual(card.sms, {
    recharge_succeeded: 0, low_balance: 1, suspended: 1, recycle_warning: 0, recycled: 0, auto_renew_failed: 1,
    reactivated: 0,
  });
  assert.deepEqual(card.hooks, ['card.suspended']);
  assert.deepEqual([card.status, card.balance, card.arrears, card.suspendedAt], ['suspended', 0, 800, FEB1]);
  assert.deepEqual(okCard.credits.map((c) => c.amount), [1000]);

  const failed = (await ctl.outbox(card.msisdn)).filter((m) => m.payload && m.payload.template === 'auto_renew_failed');
  issues.eq(failed.length, 1, 'one auto_renew_failed SMS');
  if (failed.length > 0) {
    issues.eq([failed[0].kind, failed[0].destination, failed[0].payload.card_no], ['sms', card.msisdn, card.card_no], 'the auto_renew_failed SMS');
  }
  await compareOutbox(ctl, model, issues);
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * 4. never more than one charge per card per cycle
 * ---------------------------------------------------------------------------------------- */

test('one charge per card per cycle: five concurrent jobs runs, disable/enable and a change of rule', {
  timeout: 120000,
}, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  await ctl.createPlan(PLAN_K8);
  const N = SANITIZED ? 6 : 24;

  const specs = Array.from({ length: N }, (_, i) => cardNumbers('898624', '136', i));
  const created = await ctl.call('POST', '/api/v1/admin/cards', {
    cards: specs.map((s) => ({ ...s, plan: PLAN_K8.code })),
  });
  assertStatus(created, 201, 'the cards');
  const cards = specs.map((s, i) => model.add(`keep_fee card ${i}`, s, PLAN_K8, created.body.cards[i]));
  /* One more, whose rule wants money whatever the balance: only the cycle stops a second charge. */
  const greedyNumbers = cardNumbers('898624', '136', 9999);
  const greedy = model.add('threshold 100000 card', greedyNumbers, PLAN_K8, await ctl.createCard({ ...greedyNumbers, plan: PLAN_K8.code }));
  const greedySetting = { enabled: true, rule: 'threshold', amount: 1000, threshold: 100000, agreement: AGREEMENT_OK };

  const put = await mapLimit(cards, 8, (card) =>
    ctl.putAutoRenewOk(card.card_no, { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK }),
  );
  for (const result of put) if (!result.ok) throw result.error;
  for (const card of cards) model.set(card, { enabled: true, rule: 'keep_fee', behaviour: 'succeed' });
  await ctl.putAutoRenewOk(greedy.card_no, greedySetting);
  model.set(greedy, { enabled: true, rule: 'threshold', amount: 1000, threshold: 100000, behaviour: 'succeed' });

  await step(ctl, model, issues, JAN(20), '20 January');

  /* The lead: five runs at once. */
  const lead = FEB1 - 4 * DAY;
  await ctl.setClock(lead);
  if (ctl.token === null) await ctl.login();
  const runs = await Promise.all(Array.from({ length: 5 }, () => ctl.runJobs()));
  const expected = model.run(lead);
  assert.deepEqual(expected, { charged: N + 1, failed: 0, given_up: 0 });
  const sum = (key) => runs.reduce((total, run) => total + run.auto_renew[key], 0);
  t.diagnostic(`five concurrent runs: ${runs.map((run) => JSON.stringify(run.auto_renew)).join(' ')}`);
  issues.eq({ charged: sum('charged'), failed: sum('failed'), given_up: sum('given_up') }, expected, 'the five runs together');
  issues.eq((await ctl.runJobs()).auto_renew, { charged: 0, failed: 0, given_up: 0 }, 'a sixth run');
  await compareCards(ctl, model, issues, 'after the five runs');
  for (const card of [...cards, greedy]) {
    const shown = await ctl.getAutoRenewOk(card.card_no);
    issues.eq(shown.attempts, 1, `${card.label}: one attempt recorded`);
  }

  /* Every card got exactly one credited auto_renew order, each a different one. */
  const orderNos = [];
  for (const card of [...cards, greedy]) {
    const sms = (await ctl.outbox(card.msisdn)).filter((m) => m.payload && m.payload.template === 'recharge_succeeded');
    issues.eq(sms.length, 1, `${card.label}: recharge_succeeded SMS`);
    for (const message of sms) orderNos.push(message.payload.order_no);
  }
  issues.eq(new Set(orderNos).size, orderNos.length, 'the SMS name different orders');

  /* Disable and enable again (two PUTs), and a change of rule, within the cycle. */
  const toggled = cards[0];
  const switched = cards[1];
  const disabled = await ctl.putAutoRenewOk(toggled.card_no, { enabled: false, rule: 'keep_fee', agreement: AGREEMENT_OK });
  assert.equal(disabled.enabled, false);
  assert.deepEqual(await ctl.getAutoRenewOk(toggled.card_no), disabled, 'GET shows the card disabled');
  await ctl.putAutoRenewOk(toggled.card_no, { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK });
  await ctl.putAutoRenewOk(greedy.card_no, { ...greedySetting, enabled: false });
  await ctl.putAutoRenewOk(greedy.card_no, greedySetting);
  /* keep_fee -> threshold 5000 under 2000: the balance (1000) is below it. */
  await ctl.putAutoRenewOk(switched.card_no, { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, agreement: AGREEMENT_OK });
  model.set(switched, { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, behaviour: 'succeed' });

  await step(ctl, model, issues, lead + 60, 'just after the toggles');
  await step(ctl, model, issues, lead + RETRY_S + 30, '6 h after the charge');
  await step(ctl, model, issues, lead + 2 * RETRY_S + 60, '12 h after the charge');
  await step(ctl, model, issues, lead + 3 * RETRY_S + 90, '18 h after the charge');
  await step(ctl, model, issues, FEB1 + 12 * HOUR, 'the billing day');
  /* The next cycle buys one charge again. */
  await step(ctl, model, issues, FEB(15), '15 February');
  await step(ctl, model, issues, MAR1 - 4 * DAY, 'the March lead');
  await step(ctl, model, issues, MAR1 - 4 * DAY + RETRY_S + 30, '6 h after the March lead');

  assert.deepEqual(toggled.credits.map((c) => c.amount), [1000, 1000]);
  assert.deepEqual(switched.credits.map((c) => c.amount), [1000, 5000]);
  assert.deepEqual(greedy.credits.map((c) => c.amount), [1000, 1000]);

  await compareOutbox(ctl, model, issues);
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * 5. suspended cards
 * ---------------------------------------------------------------------------------------- */

test('a suspended card is topped up at once by what pays its arrears, and reactivated', { timeout: 120000 }, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  for (const plan of [PLAN_BIG, PLAN_K8]) await ctl.createPlan(plan);

  /* arrears: 1200 on it, suspended on 1 February owing 3000: 1800 short -> 1900 (a denomination). */
  const aNumbers = cardNumbers('898625', '135', 0);
  const arrears = model.add('suspended with arrears', aNumbers, PLAN_BIG, await ctl.createCard({ ...aNumbers, plan: PLAN_BIG.code }));
  await webTopUp(ctl, arrears.card_no, 1200);
  model.credit(arrears, 1200, 'web', T0);
  /* created suspended: owes nothing, needs a credit to come back -> the smallest amount, 1000. */
  const sNumbers = cardNumbers('898625', '135', 1);
  const createdSuspended = model.add(
    'created suspended', sNumbers, PLAN_BIG,
    await ctl.createCard({ ...sNumbers, plan: PLAN_BIG.code, status: 'suspended' }), 'suspended',
  );
  /* threshold 0: never tops up while active; suspended on 1 February owing 800 -> 1000 at once. */
  const zNumbers = cardNumbers('898625', '135', 2);
  const zero = model.add('threshold 0', zNumbers, PLAN_K8, await ctl.createCard({ ...zNumbers, plan: PLAN_K8.code }));
  await ctl.putAutoRenewOk(zero.card_no, { enabled: true, rule: 'threshold', amount: 1000, threshold: 0, agreement: AGREEMENT_OK });
  model.set(zero, { enabled: true, rule: 'threshold', amount: 1000, threshold: 0, behaviour: 'succeed' });
  await compareCards(ctl, model, issues, 'created');

  await step(ctl, model, issues, JAN(20), '20 January');
  await step(ctl, model, issues, FEB1 - 4 * DAY + 12 * HOUR, 'after the lead');
  await step(ctl, model, issues, FEB1 - 2 * DAY, 'the reminders');
  await ctl.setClock(FEB1 + 12 * HOUR);
  const billing = await ctl.runJobs();
  issues.eq(billing.auto_renew, model.run(FEB1 + 12 * HOUR), 'the billing day\'s run');
  await compareCards(ctl, model, issues, 'suspended on the billing day');
  assert.deepEqual([arrears.status, arrears.balance, arrears.arrears], ['suspended', 1200, 3000]);
  assert.deepEqual([zero.status, zero.balance, zero.arrears], ['suspended', 0, 800]);

  /* Auto-renewal set up on the two suspended cards; the threshold 0 card had it all along. */
  const later = FEB1 + 12 * HOUR + 60;
  await ctl.setClock(later);
  for (const card of [arrears, createdSuspended]) {
    await ctl.putAutoRenewOk(card.card_no, { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK });
    model.set(card, { enabled: true, rule: 'keep_fee', behaviour: 'succeed' });
  }
  const run = await ctl.runJobs();
  const expected = model.run(later);
  assert.deepEqual(expected, { charged: 3, failed: 0, given_up: 0 });
  issues.eq(run.auto_renew, expected, 'the next run after the suspensions: the three at once');
  issues.eq((await ctl.runJobs()).auto_renew, { charged: 0, failed: 0, given_up: 0 }, 'one more run');
  await compareCards(ctl, model, issues, 'topped up');

  assert.deepEqual(arrears.credits.map((c) => c.amount), [1200, 1900]);
  assert.deepEqual([arrears.status, arrears.balance, arrears.arrears, arrears.nextBilling], ['active', 100, 0, MAR1]);
  assert.deepEqual(createdSuspended.credits.map((c) => c.amount), [1000]);
  assert.deepEqual([createdSuspended.status, createdSuspended.balance, createdSuspended.nextBilling], ['active', 1000, MAR1]);
  assert.deepEqual(zero.credits.map((c) => c.amount), [1000]);
  assert.deepEqual([zero.status, zero.balance, zero.nextBilling], ['active', 200, MAR1]);
  assert.deepEqual(arrears.hooks, ['card.recharged', 'card.suspended', 'card.recharged', 'card.reactivated']);

  await compareOutbox(ctl, model, issues);
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * 6. validation
 * ---------------------------------------------------------------------------------------- */

test('PUT/GET auto-renew: bad requests are refused and change nothing', { timeout: 120000 }, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  for (const plan of [PLAN_K8, PLAN_VAL]) await ctl.createPlan(plan);

  const mNumbers = cardNumbers('898626', '134', 0);
  const monthly = model.add('monthly card set up', mNumbers, PLAN_K8, await ctl.createCard({ ...mNumbers, plan: PLAN_K8.code }));
  const nNumbers = cardNumbers('898626', '134', 1);
  const never = model.add('monthly card never set up', nNumbers, PLAN_K8, await ctl.createCard({ ...nNumbers, plan: PLAN_K8.code }));
  const vNumbers = cardNumbers('898626', '134', 2);
  const validity = model.add('validity card', vNumbers, PLAN_VAL, await ctl.createCard({ ...vNumbers, plan: PLAN_VAL.code }));
  const rNumbers = cardNumbers('898626', '134', 3);
  const recycledView = await ctl.createCard({ ...rNumbers, plan: PLAN_K8.code, status: 'recycled' });
  assert.equal(recycledView.status, 'recycled');

  const good = { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, agreement: AGREEMENT_OK };
  const before = await ctl.putAutoRenewOk(monthly.card_no, good);
  model.set(monthly, { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, behaviour: 'succeed' });
  /* The phone number is a card's number too. */
  assert.deepEqual(await ctl.getAutoRenewOk(monthly.msisdn), before, 'GET by the phone number');

  const off = { enabled: false };
  const unchanged = async (what) => {
    issues.eq(await ctl.getAutoRenewOk(monthly.card_no), before, `after ${what}: the monthly card's setting`);
    issues.eq(await ctl.getAutoRenewOk(never.card_no), off, `after ${what}: the card never set up`);
    issues.eq(await ctl.getAutoRenewOk(validity.card_no), off, `after ${what}: the validity card`);
    issues.eq(await ctl.getAutoRenewOk(rNumbers.card_no), off, `after ${what}: the recycled card`);
  };
  await unchanged('the set-up');

  const refused = async (number, body, status, code, what) => {
    const response = await ctl.putAutoRenew(number, body);
    if (response.status !== status || !response.body || !response.body.error || response.body.error.code !== code) {
      issues.ok(false, `${what}: PUT ${JSON.stringify(body)} -> ${response.status} ${response.text}, expected ${status} ${code}`);
    } else {
      assertError(response, status, code, what);
    }
    await unchanged(what);
  };

  const keepFee = { enabled: true, rule: 'keep_fee', agreement: AGREEMENT_OK };
  await refused(validity.card_no, keepFee, 400, 'invalid_request', 'keep_fee on a validity plan');
  await refused(monthly.card_no, { ...good, amount: 1050 }, 400, 'invalid_request', 'a threshold amount the plan does not allow (1050)');
  await refused(monthly.card_no, { ...good, amount: 500 }, 400, 'invalid_request', 'a threshold amount below amount_min');
  await refused(monthly.card_no, { ...good, amount: 60000 }, 400, 'invalid_request', 'a threshold amount above amount_max');
  await refused(never.card_no, { ...good, amount: 1050 }, 400, 'invalid_request', 'an amount not allowed, on a card never set up');
  await refused(monthly.card_no, { ...good, threshold: -1 }, 400, 'invalid_request', 'a negative threshold');
  await refused(monthly.card_no, { ...good, rule: 'weekly' }, 400, 'invalid_request', 'an unknown rule');
  await refused(never.card_no, { ...keepFee, rule: 'monthly' }, 400, 'invalid_request', 'an unknown rule on a card never set up');
  await refused(monthly.card_no, { ...good, agreement: { provider: 'sandbox', behaviour: 'maybe' } }, 400, 'invalid_request', 'an unknown behaviour');
  await refused(monthly.card_no, { rule: 'keep_fee', agreement: AGREEMENT_OK }, 400, 'invalid_request', 'no "enabled"');
  await refused(monthly.card_no, { ...keepFee, enabled: 'yes' }, 400, 'invalid_request', '"enabled" not a boolean');
  await refused(monthly.card_no, { ...keepFee, surprise: 1 }, 400, 'invalid_request', 'an unknown field');
  await refused(monthly.card_no, { ...keepFee, agreement: { provider: 'alipay' } }, 422, 'payment_method_unavailable', 'an alipay agreement');
  await refused(never.card_no, { ...keepFee, agreement: { provider: 'wechatpay', behaviour: 'succeed' } }, 422, 'payment_method_unavailable', 'a wechatpay agreement');
  await refused(rNumbers.card_no, keepFee, 422, 'card_not_rechargeable', 'a recycled card');
  await refused(DEMO.recycled.card_no, keepFee, 422, 'card_not_rechargeable', 'the demo recycled card');

  /* No token, a bad token. */
  for (const token of [undefined, 'not-a-token']) {
    const what = token ? 'a bad token' : 'no token';
    const put = await api(lebd, 'PUT', `/api/v1/admin/cards/${never.card_no}/auto-renew`, { body: keepFee, token });
    assertError(put, 401, 'unauthorized', `PUT with ${what}`);
    const get = await api(lebd, 'GET', `/api/v1/admin/cards/${monthly.card_no}/auto-renew`, { token });
    assertError(get, 401, 'unauthorized', `GET with ${what}`);
    await unchanged(`PUT with ${what}`);
  }

  /* Unknown and bad card numbers. */
  const unknown = luhnCardNo('898626999999999999');
  assertError(await ctl.getAutoRenew(unknown), 404, 'card_not_found', 'GET on an unknown card');
  await refused(unknown, keepFee, 404, 'card_not_found', 'PUT on an unknown card');
  const badCheck = `${unknown.slice(0, 18)}${(Number(unknown[18]) + 1) % 10}`;
  assertError(await ctl.getAutoRenew(badCheck), 400, 'invalid_card_number', 'GET with a bad check digit');
  await refused(badCheck, keepFee, 400, 'invalid_card_number', 'PUT with a bad check digit');
  assertError(await ctl.getAutoRenew('12345'), 400, 'invalid_card_number', 'GET with a short number');
  await refused('12345', keepFee, 400, 'invalid_card_number', 'PUT with a short number');

  /* Nothing was set up by the refusals: at the leads only the monthly card set up tops up. */
  await step(ctl, model, issues, FEB1 - 4 * DAY + 12 * HOUR, 'after the leads');
  assert.deepEqual(monthly.credits.map((c) => c.amount), [5000]);
  assert.deepEqual([never.credits.length, validity.credits.length], [0, 0]);
  const recycled = await ctl.view(rNumbers.card_no);
  issues.eq([recycled.status, recycled.balance], ['recycled', 0], 'the recycled card');
  await ctl.assertLedgerBalanced();
  issues.done();
});

/* ------------------------------------------------------------------------------------------
 * Turning it off
 * ---------------------------------------------------------------------------------------- */

test('{"enabled": false} turns auto-renewal off, whatever the rule and the plan', { timeout: 120000 }, async (t) => {
  const lebd = await startTestLebd(t);
  const ctl = new Ctl(lebd);
  const model = new Model();
  const issues = new Issues();
  for (const plan of [PLAN_K8, PLAN_VAL]) await ctl.createPlan(plan);
  const threshold = { enabled: true, rule: 'threshold', amount: 5000, threshold: 2000, agreement: AGREEMENT_OK };

  const cards = [];
  for (const [index, plan] of [PLAN_K8, PLAN_VAL].entries()) {
    const numbers = cardNumbers('898627', '133', index);
    const card = model.add(`${plan.model} card`, numbers, plan, await ctl.createCard({ ...numbers, plan: plan.code }));
    await ctl.putAutoRenewOk(card.card_no, threshold);
    /* The route asks for "rule" only when enabling: off needs nothing more. */
    const response = await ctl.putAutoRenew(card.card_no, { enabled: false });
    issues.eq([response.status, response.body && response.body.enabled], [200, false], `${card.label}: PUT {"enabled":false} -> ${response.text}`);
    const shown = await ctl.getAutoRenewOk(card.card_no);
    issues.eq(shown.enabled, false, `${card.label}: GET after turning it off`);
    model.set(card, { enabled: false });
    cards.push(card);
  }
  /* Off: no top-up at the leads (balances 0, below the threshold). */
  await step(ctl, model, issues, FEB1 - 4 * DAY + 12 * HOUR, 'after the leads');
  await ctl.assertLedgerBalanced();
  issues.done();
});
