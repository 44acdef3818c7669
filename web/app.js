// app.js - the H5 recharge page: number -> card -> amount -> quote -> order -> pay page.
//
// Rules this page keeps:
// - A mistyped card number (wrong Luhn check digit) is caught here, before any request.
// - Amounts are integers of fen throughout; yuan appear only in what people read and type.
// - One Idempotency-Key per payment attempt, and the pay button is disabled synchronously on the
//   first click, so a double click (or a retry after a lost response) never makes two orders.

import {
  CARD_STATUS,
  apiCall,
  classifyNumber,
  errorText,
  formatMoney,
  groupCardNumber,
  newIdempotencyKey,
  normalizeNumber,
  setBilingual,
} from './common.js';

const CHANNEL = 'web';
const LOOKUP_DELAY_MS = 250;
const QUOTE_DELAY_MS = 150;
const QUOTE_RETRIES_MAX = 3;
const QUOTE_RETRY_DELAY_MS = 2000;

const $ = (id) => document.getElementById(id);
const el = {
  form: $('recharge-form'),
  number: $('number'),
  lookupButton: $('lookup-button'),
  numberMsg: $('number-msg'),
  cardInfo: $('card-info'),
  cardNo: $('card-no'),
  cardMsisdn: $('card-msisdn'),
  cardPlan: $('card-plan'),
  cardStatus: $('card-status'),
  cardBlocked: $('card-blocked'),
  amountStep: $('amount-step'),
  denominations: $('denominations'),
  otherAmount: $('other-amount'),
  otherHint: $('other-hint'),
  amountMsg: $('amount-msg'),
  methodStep: $('method-step'),
  quote: $('quote'),
  formError: $('form-error'),
  payButton: $('pay-button'),
  payLabel: $('pay-label'),
  payLabelEn: $('pay-label-en'),
  announcer: $('announcer'),
};

const state = {
  number: null, // the normalised number the card below belongs to (or is being looked up)
  card: null, // GET /api/v1/cards/{number}
  lookupTimer: 0,
  lookupAbort: null,
  amount: null, // face amount in fen, or null
  quote: null, // POST /api/v1/quotes for (number, amount, method)
  quoteFor: '', // the request body the quote answers
  quoteSeq: 0,
  quoteTimer: 0,
  attempt: null, // {key, body}: one payment attempt, one Idempotency-Key
  submitting: false,
};

// ---- small helpers ---------------------------------------------------------------------------

function showMsg(target, kind, zh, en) {
  target.classList.toggle('msg-error', kind === 'error');
  target.classList.toggle('msg-ok', kind === 'ok');
  if (zh) setBilingual(target, zh, en);
  else target.replaceChildren();
}

function announce(text) {
  el.announcer.textContent = text;
}

function paymentMethod() {
  const checked = el.form.querySelector('input[name="payment_method"]:checked');
  return checked ? checked.value : 'sandbox';
}

function orderBody() {
  return {
    card: state.number,
    face_amount: state.amount,
    channel: CHANNEL,
    payment_method: paymentMethod(),
  };
}

// ---- step 1: the number ----------------------------------------------------------------------

function resetCard() {
  if (state.lookupAbort) state.lookupAbort.abort();
  state.lookupAbort = null;
  clearTimeout(state.lookupTimer);
  state.number = null;
  state.card = null;
  el.cardInfo.hidden = true;
  el.amountStep.hidden = true;
  el.methodStep.hidden = true;
  el.number.removeAttribute('aria-invalid');
  resetAmount();
}

function resetAmount() {
  state.amount = null;
  for (const radio of el.denominations.querySelectorAll('input')) radio.checked = false;
  el.otherAmount.value = '';
  el.otherAmount.removeAttribute('aria-invalid');
  showMsg(el.amountMsg, null);
  resetQuote();
}

function resetQuote() {
  clearTimeout(state.quoteTimer);
  state.quoteSeq++;
  state.quote = null;
  state.quoteFor = '';
  el.quote.hidden = true;
  showMsg(el.formError, null);
  renderPayButton();
loadPaymentMethods();
}

// Re-reads the number field. "now" skips the typing delay (Enter, the look-up button, blur).
function onNumberChange({ now = false, final = false } = {}) {
  const normalized = normalizeNumber(el.number.value);
  const parsed = classifyNumber(normalized);

  if (parsed.kind === 'card' || parsed.kind === 'phone') {
    el.number.removeAttribute('aria-invalid');
    if (parsed.number === state.number && (state.card || state.lookupAbort) && !now) return;
    if (parsed.number !== state.number) resetCard();
    state.number = parsed.number;
    const shown = parsed.kind === 'card' ? groupCardNumber(parsed.number) : parsed.display;
    showMsg(
      el.numberMsg,
      null,
      `${parsed.kind === 'card' ? '卡号' : '手机号'} ${shown}`,
      parsed.kind === 'card' ? 'Card number' : 'Phone number',
    );
    clearTimeout(state.lookupTimer);
    if (now) lookup(parsed.number);
    else state.lookupTimer = setTimeout(() => lookup(parsed.number), LOOKUP_DELAY_MS);
    return;
  }

  resetCard();
  switch (parsed.kind) {
    case 'empty':
      showMsg(el.numberMsg, final ? 'error' : null, final ? '请输入卡号或手机号' : '', final ? 'Enter a card or phone number' : '');
      break;
    case 'bad_char':
      el.number.setAttribute('aria-invalid', 'true');
      showMsg(el.numberMsg, 'error', '只能输入数字，请核对号码', 'Digits only: please check the number');
      break;
    case 'bad_check':
      el.number.setAttribute('aria-invalid', 'true');
      showMsg(
        el.numberMsg,
        'error',
        '卡号校验位不对，请核对卡背面的号码',
        'The check digit is wrong: please check the number on the back of the card',
      );
      break;
    case 'too_long':
      el.number.setAttribute('aria-invalid', 'true');
      showMsg(el.numberMsg, 'error', `号码太长：已输入 ${parsed.digits} 位，卡号为 19 位`, `Too long: ${parsed.digits} digits (a card number has 19)`);
      break;
    case 'partial':
      if (final) {
        el.number.setAttribute('aria-invalid', 'true');
        showMsg(el.numberMsg, 'error', `号码不完整：已输入 ${parsed.digits} 位。请输入 19 位卡号或 11 位手机号`, `Incomplete: ${parsed.digits} digits. Enter the 19-digit card number or an 11-digit phone number`);
      } else {
        showMsg(el.numberMsg, null, parsed.digits ? `已输入 ${parsed.digits} 位` : '', parsed.digits ? `${parsed.digits} digits so far` : '');
      }
      break;
  }
}

async function lookup(number) {
  if (state.lookupAbort) state.lookupAbort.abort();
  const abort = new AbortController();
  state.lookupAbort = abort;
  el.lookupButton.disabled = true;
  el.number.setAttribute('aria-busy', 'true');
  try {
    const { data } = await apiCall('GET', `/api/v1/cards/${encodeURIComponent(number)}`, {
      signal: abort.signal,
    });
    if (state.lookupAbort !== abort || state.number !== number) return;
    state.card = data;
    renderCard(data);
  } catch (err) {
    if (err && err.name === 'AbortError') return;
    if (state.lookupAbort !== abort) return;
    state.card = null;
    el.cardInfo.hidden = true;
    el.number.setAttribute('aria-invalid', 'true');
    const [zh, en] = errorText(err);
    showMsg(el.numberMsg, 'error', zh, en);
  } finally {
    if (state.lookupAbort === abort) {
      state.lookupAbort = null;
      el.lookupButton.disabled = false;
      el.number.removeAttribute('aria-busy');
    }
  }
}

// ---- the card --------------------------------------------------------------------------------

function renderCard(card) {
  el.cardNo.textContent = card.card_no_masked || '—';
  el.cardMsisdn.textContent = card.msisdn_masked || '—';
  el.cardPlan.textContent = (card.plan && (card.plan.name || card.plan.code)) || '—';

  const [zh, en, tone] = CARD_STATUS[card.status] || [card.status || '未知', card.status || 'Unknown', 'warn'];
  setBilingual(el.cardStatus, zh, en);
  el.cardStatus.className = `badge badge-${tone}`;

  const rechargeable = card.rechargeable === true && card.status !== 'recycled';
  el.cardBlocked.hidden = rechargeable;
  if (!rechargeable) {
    const why =
      card.status === 'recycled'
        ? ['这张卡的号码已被回收，不能再充值。请不要付款。', 'This number has been recycled and cannot be recharged. Do not pay.']
        : ['这张卡目前不能充值。', 'This card cannot be recharged at the moment.'];
    setBilingual(el.cardBlocked, why[0], why[1]);
  }
  el.cardInfo.hidden = false;
  showMsg(el.numberMsg, rechargeable ? 'ok' : null, '已找到这张卡', 'Card found');

  el.amountStep.hidden = !rechargeable;
  el.methodStep.hidden = !rechargeable;
  if (rechargeable) renderDenominations(card);
  resetAmount();

  announce(
    `卡号 ${card.card_no_masked || ''}，套餐 ${el.cardPlan.textContent}，状态 ${zh}` +
      (rechargeable ? '。请选择充值金额。' : '。这张卡不能充值。'),
  );
}

function renderDenominations(card) {
  const currency = (card.plan && card.plan.currency) || 'CNY';
  const list = Array.isArray(card.denominations) ? card.denominations.filter(Number.isSafeInteger) : [];
  el.denominations.replaceChildren();
  el.denominations.hidden = list.length === 0;
  for (const amount of list) {
    const label = document.createElement('label');
    label.className = 'tile';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'denomination';
    input.value = String(amount);
    const body = document.createElement('span');
    body.className = 'tile-body';
    body.textContent = formatMoney(amount, currency);
    label.append(input, body);
    el.denominations.append(label);
  }
  const min = card.min_amount;
  const max = card.max_amount;
  if (Number.isSafeInteger(min) && Number.isSafeInteger(max)) {
    setBilingual(
      el.otherHint,
      `可输入 ${formatMoney(min, currency)} 至 ${formatMoney(max, currency)} 之间的整数金额`,
      `Whole yuan, from ${formatMoney(min, currency)} to ${formatMoney(max, currency)}`,
    );
  } else {
    setBilingual(el.otherHint, '请输入整数金额（元）', 'Whole yuan');
  }
}

// ---- step 2: the amount ----------------------------------------------------------------------

function onDenominationChange(event) {
  if (event.target.name !== 'denomination') return;
  el.otherAmount.value = '';
  el.otherAmount.removeAttribute('aria-invalid');
  showMsg(el.amountMsg, null);
  setAmount(Number(event.target.value));
}

function onOtherAmountInput() {
  for (const radio of el.denominations.querySelectorAll('input')) radio.checked = false;
  const card = state.card;
  const currency = (card && card.plan && card.plan.currency) || 'CNY';
  const text = normalizeNumber(el.otherAmount.value).replace(/元$/, '');
  el.otherAmount.removeAttribute('aria-invalid');
  if (text === '') {
    showMsg(el.amountMsg, null);
    setAmount(null);
    return;
  }
  if (!/^[0-9]{1,7}$/.test(text)) {
    el.otherAmount.setAttribute('aria-invalid', 'true');
    showMsg(el.amountMsg, 'error', '请输入整数金额，例如 80', 'Whole yuan only, e.g. 80');
    setAmount(null);
    return;
  }
  const fen = Number(text) * 100;
  const min = card && Number.isSafeInteger(card.min_amount) ? card.min_amount : 0;
  const max = card && Number.isSafeInteger(card.max_amount) ? card.max_amount : Infinity;
  if (fen < min || fen > max) {
    el.otherAmount.setAttribute('aria-invalid', 'true');
    showMsg(
      el.amountMsg,
      'error',
      `金额需在 ${formatMoney(min, currency)} 至 ${formatMoney(max, currency)} 之间`,
      `Must be between ${formatMoney(min, currency)} and ${formatMoney(max, currency)}`,
    );
    setAmount(null);
    return;
  }
  const step = card && Number.isSafeInteger(card.amount_step) && card.amount_step > 0 ? card.amount_step : 100;
  if (fen % step !== 0) {
    el.otherAmount.setAttribute('aria-invalid', 'true');
    showMsg(
      el.amountMsg,
      'error',
      `金额需是 ${formatMoney(step, currency)} 的整数倍`,
      `Must be a multiple of ${formatMoney(step, currency)}`,
    );
    setAmount(null);
    return;
  }
  showMsg(el.amountMsg, null);
  setAmount(fen);
}

function setAmount(fen) {
  if (fen === state.amount) return;
  resetQuote();
  state.amount = fen;
  if (fen !== null) {
    // While typing "100", do not quote "1" and "10" on the way.
    state.quoteTimer = setTimeout(() => requestQuote(), QUOTE_DELAY_MS);
  }
}

// ---- the quote -------------------------------------------------------------------------------

async function requestQuote(retry = 0) {
  if (!state.card || state.amount === null) return;
  const body = orderBody();
  const bodyJson = JSON.stringify(body);
  const seq = ++state.quoteSeq;
  renderPayButton('quoting');
  try {
    const { data } = await apiCall('POST', '/api/v1/quotes', { body });
    if (seq !== state.quoteSeq) return;
    state.quote = data;
    state.quoteFor = bodyJson;
    showMsg(el.amountMsg, null);
    renderQuote(data);
  } catch (err) {
    if (seq !== state.quoteSeq) return;
    const [zh, en] = errorText(err);
    showMsg(el.amountMsg, 'error', zh, en);
    // A lost connection or a busy server is worth a few more tries; a refusal is not.
    const transient = err.status === 0 || err.status >= 500 || err.status === 429;
    if (transient && retry < QUOTE_RETRIES_MAX) {
      state.quoteTimer = setTimeout(() => requestQuote(retry + 1), QUOTE_RETRY_DELAY_MS);
    }
  } finally {
    if (seq === state.quoteSeq) renderPayButton();
loadPaymentMethods();
  }
}

function renderQuote(q) {
  const currency = q.currency || 'CNY';
  const money = (v) => formatMoney(v, currency);
  $('q-face').textContent = money(q.face_amount);
  const optional = [
    ['q-discount', q.discount_amount, (v) => `-${money(v)}`],
    ['q-fee', q.fee_amount, money],
    ['q-bonus', q.bonus_amount, (v) => `+${money(v)}`],
  ];
  for (const [id, value, fmt] of optional) {
    const show = Number.isSafeInteger(value) && value !== 0;
    $(`${id}-row`).hidden = !show;
    $(id).textContent = show ? fmt(value) : '';
  }
  $('q-pay').textContent = money(q.pay_amount);
  el.quote.hidden = false;
  announce(`充值 ${money(q.face_amount)}，应付 ${money(q.pay_amount)}`);
}

function renderPayButton(mode) {
  const ready = state.quote !== null && state.quoteFor === JSON.stringify(orderBody());
  const rechargeable = state.card && state.card.rechargeable === true && state.card.status !== 'recycled';
  // A card that cannot be recharged gets no pay button at all.
  el.payButton.closest('.actions').hidden = state.card !== null && !rechargeable;
  if (state.submitting) {
    el.payButton.disabled = true;
    el.payLabel.textContent = '正在创建订单…';
    el.payLabelEn.textContent = 'Creating the order…';
    return;
  }
  el.payButton.disabled = !ready || !rechargeable;
  if (ready) {
    const pay = formatMoney(state.quote.pay_amount, state.quote.currency || 'CNY');
    el.payLabel.textContent = `确认支付 ${pay}`;
    el.payLabelEn.textContent = `Confirm and pay ${pay}`;
  } else if (mode === 'quoting') {
    el.payLabel.textContent = '正在计算金额…';
    el.payLabelEn.textContent = 'Calculating…';
  } else {
    el.payLabel.textContent = '确认支付';
    el.payLabelEn.textContent = state.card ? 'Choose an amount first' : 'Enter the number first';
  }
}

// ---- the order -------------------------------------------------------------------------------

async function onSubmit(event) {
  event.preventDefault();
  // Only the pay button pays: Enter in a field never does (see the keydown handlers).
  if (event.submitter && event.submitter !== el.payButton) return;
  if (state.submitting || el.payButton.disabled) return;
  const body = orderBody();
  const bodyJson = JSON.stringify(body);
  if (!state.quote || state.quoteFor !== bodyJson) return;

  // Disable first, synchronously: a second click of a double click lands on a disabled button.
  state.submitting = true;
  renderPayButton();
loadPaymentMethods();
  showMsg(el.formError, null);

  // The same attempt (same body) keeps its key, so retrying after a lost response returns the
  // order already made instead of making a second one.
  if (!state.attempt || state.attempt.body !== bodyJson) {
    state.attempt = { key: newIdempotencyKey(), body: bodyJson };
  }
  try {
    const { data } = await apiCall('POST', '/api/v1/orders', {
      body,
      headers: { 'Idempotency-Key': state.attempt.key },
    });
    announce('订单已创建，正在打开支付页面');
    location.assign(payTarget(data));
  } catch (err) {
    // A definite refusal ends this attempt; a network error or 5xx may have made the order, so
    // the next click retries with the same key.
    if (err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
      state.attempt = null;
    }
    state.submitting = false;
    const [zh, en] = errorText(err);
    showMsg(el.formError, 'error', zh, en);
    renderPayButton();
loadPaymentMethods();
    if (err.code === 'card_not_rechargeable') lookup(state.number);
  }
}

// Where to send the payer. The sandbox page is served by this same server, so keep the payer on
// the origin they are using (lebd's public_url may name another host or port); real providers'
// pages are followed as given.
function payTarget(order) {
  const payment = order.payment || {};
  const fallback = `/sandbox/pay/${encodeURIComponent(order.order_no)}`;
  const orderPage = `/order.html?order_no=${encodeURIComponent(order.order_no)}`;
  if (!payment.pay_url) return payment.provider === 'sandbox' ? fallback : orderPage;
  if (payment.provider === 'sandbox') {
    try {
      const url = new URL(payment.pay_url, location.href);
      if (url.pathname.startsWith('/sandbox/pay/')) return url.pathname + url.search;
    } catch {
      return fallback;
    }
  }
  // A link no browser opens (WeChat Pay's weixin://) is scanned from the order page's QR code.
  return /^https?:\/\//i.test(payment.pay_url) ? payment.pay_url : orderPage;
}

// ---- payment methods ---------------------------------------------------------------------------

const METHOD_WORDS = {
  alipay: ['支付宝', 'Alipay'],
  wechatpay: ['微信支付', 'WeChat Pay'],
  wechatpay_v2: ['微信支付', 'WeChat Pay'],
  card: ['银行卡', 'Bank card'],
  sandbox: ['沙箱支付 (演示)', 'Sandbox (demo, no real money)'],
};

// The methods this server takes, first one chosen; the page's own sandbox choice stays if the
// list cannot be had (an old server), since the server refuses what it does not take anyway.
async function loadPaymentMethods() {
  let methods;
  try {
    const { data } = await apiCall('GET', '/api/v1/payment-methods');
    methods = Array.isArray(data.methods) ? data.methods.filter((m) => METHOD_WORDS[m]) : null;
  } catch {
    methods = null;
  }
  if (!methods || methods.length === 0) return;
  for (const label of el.methodStep.querySelectorAll('label.method')) label.remove();
  methods.forEach((method, index) => {
    const [zh, en] = METHOD_WORDS[method];
    const label = document.createElement('label');
    label.className = 'method';
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = 'payment_method';
    input.value = method;
    input.checked = index === 0;
    const body = document.createElement('span');
    body.className = 'method-body';
    const zhSpan = document.createElement('span');
    zhSpan.className = 'zh';
    zhSpan.textContent = zh;
    const enSpan = document.createElement('span');
    enSpan.className = 'en';
    enSpan.lang = 'en';
    enSpan.textContent = en;
    body.append(zhSpan, enSpan);
    label.append(input, body);
    el.methodStep.append(label);
  });
}

// ---- wiring ----------------------------------------------------------------------------------

el.number.addEventListener('input', () => onNumberChange());
el.number.addEventListener('blur', () => {
  if (el.number.value.trim() !== '') onNumberChange({ final: true });
});
// Enter in the number field means "look it up"; Enter in any other field does nothing. No field
// submits the form, so nobody pays by pressing Enter by mistake: paying takes the pay button.
el.number.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.isComposing) {
    event.preventDefault();
    onNumberChange({ now: true, final: true });
  }
});
el.form.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && event.target instanceof HTMLInputElement) event.preventDefault();
});
el.lookupButton.addEventListener('click', () => onNumberChange({ now: true, final: true }));
el.denominations.addEventListener('change', onDenominationChange);
el.otherAmount.addEventListener('input', onOtherAmountInput);
el.form.addEventListener('change', (event) => {
  if (event.target.name === 'payment_method') {
    const amount = state.amount;
    state.amount = null;
    setAmount(amount);
  }
});
el.form.addEventListener('submit', onSubmit);

// Coming back from the pay page (back button, page restored from the cache): allow a new attempt.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    state.submitting = false;
    state.attempt = null;
    renderPayButton();
loadPaymentMethods();
  }
});

// A recharge link (?card= or ?number=, e.g. from an SMS) fills in the number.
{
  const params = new URLSearchParams(location.search);
  const preset = params.get('card') || params.get('number') || params.get('msisdn');
  if (preset) {
    el.number.value = preset;
    onNumberChange({ now: true, final: true });
  }
}
renderPayButton();
loadPaymentMethods();
