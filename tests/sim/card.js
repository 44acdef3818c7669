'use strict';
/*
 * card.js - a simulator of a Stripe-compatible card gateway, for lebd's card provider: the
 * parts of Stripe's API that LEB uses, with Stripe's wire format (form-encoded requests, JSON
 * objects, {"error":{"type","code","message","param"}} errors, bearer API keys,
 * Idempotency-Key), and Stripe's signed webhook events (Stripe-Signature
 * "t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'>").
 *
 *   POST /v1/checkout/sessions           a Checkout Session in payment mode
 *   GET  /v1/checkout/sessions/{id}      ?expand[]=payment_intent
 *   POST /v1/refunds                     payment_intent, amount, metadata[...]
 *   GET  /v1/refunds/{id}
 *   GET  /c/pay/{id}, POST /c/pay/{id}   a payment page: POST pays and sends the event
 *
 * Node built-ins only. In the tests: startCardSim() (see its comment). Standalone:
 *   node tests/sim/card.js [--port N] [--lebd URL] [--dir DIR]
 * prints the settings for lebd (and writes the key files into DIR) and serves until killed.
 */

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const SESSION_TTL_MIN_S = 30 * 60;
const SESSION_TTL_MAX_S = 24 * 3600;
const API_VERSION = '2024-06-20';

function randomId(prefix, bytes = 12) {
  return `${prefix}${crypto.randomBytes(bytes).toString('base64url').replace(/[-_]/g, 'x')}`;
}

function nowS() {
  return Math.floor(Date.now() / 1000);
}

/* The v1 signature of "raw" at "timestamp" under "secret". */
function signEvent(raw, timestamp, secret) {
  return crypto.createHmac('sha256', secret).update(`${timestamp}.${raw}`).digest('hex');
}

/* Changes one byte of a signed body, keeping it JSON: a digit of the first amount. */
function tamperOneByte(raw) {
  const match = /("amount(?:_received|_total)?":)(\d)/.exec(raw);
  if (match) {
    const at = match.index + match[1].length;
    return raw.slice(0, at) + (match[2] === '9' ? '8' : String(Number(match[2]) + 1)) + raw.slice(at + 1);
  }
  return raw.replace('"', "'");
}

/* A Stripe-style nested form ("a[b][0][c]=v") into an object; arrays stay objects keyed by
 * index, which is enough for checking. */
function parseForm(text) {
  const out = {};
  for (const [key, value] of new URLSearchParams(text)) {
    const parts = key.split(/[[\]]+/).filter((part) => part !== '');
    let node = out;
    for (let i = 0; i < parts.length - 1; i++) {
      if (typeof node[parts[i]] !== 'object' || node[parts[i]] === null) node[parts[i]] = {};
      node = node[parts[i]];
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}

function stripeError(status, type, message, extra = {}) {
  return { status, body: { error: { type, message, ...extra } } };
}

function missingParam(param) {
  return stripeError(400, 'invalid_request_error', `Missing required param: ${param}.`, {
    code: 'parameter_missing',
    param,
  });
}

function integerParam(value) {
  return /^\d+$/.test(String(value)) ? Number(value) : null;
}

/*
 * startCardSim(opts) starts the gateway on a free loopback port and resolves to
 * {
 *   url, apiKey, webhookSecret, nextWebhookSecret,
 *   writeKeyFiles(dir) -> {webhookSecretFile, webhookSecretNextFile, apiKeyFile},
 *   lebdEnv(dir, {next}) -> the LEB_CARD_* environment of a lebd using this gateway,
 *   attach(lebdUrl)   where events go (/api/v1/payments/card/notify),
 *   sessions (Map id -> session), sessionOf(order_no), paymentIntents, refunds (Map),
 *   requests (every API call: {method, path, query, headers, form, status, body}),
 *   pay(order_no, {amount, currency}) -> the payment intent (the session is complete, paid),
 *   expire(order_no), refundStatus ('succeeded' by default: what new refunds become),
 *   event(order_no, opts) -> {raw, header, event}: a signed event, not sent,
 *   sign(body, opts) -> {raw, header}: any body signed as an event would be,
 *   send(raw, header) -> {status, text, body}: posts an event to lebd,
 *   notify(order_no, opts) -> {status, text, body, raw, header}: event() then send(),
 *   close()
 * }
 * Event options: type ('payment_intent.succeeded'), amount, currency, orderNo (the metadata's
 * order number), tamper (one byte changed after signing), wrongSecret, secret (sign with
 * this), secrets (a v1 per secret, in order), timestamp (t), header (this header instead;
 * null: none), raw (this body instead of the event).
 * opts of startCardSim: apiKey, webhookSecret, nextWebhookSecret, lebdUrl, port.
 */
async function startCardSim(opts = {}) {
  const apiKey = opts.apiKey || randomId('sk_test_', 24);
  const webhookSecret = opts.webhookSecret || randomId('whsec_', 24);
  const nextWebhookSecret = opts.nextWebhookSecret || randomId('whsec_', 24);
  const sessions = new Map();
  const paymentIntents = new Map();
  const refunds = new Map();
  const requests = [];
  const idempotency = new Map(); /* key -> {method, path, params, status, body} */
  let lebdUrl = opts.lebdUrl || null;

  const sim = {
    url: null,
    apiKey,
    webhookSecret,
    nextWebhookSecret,
    sessions,
    paymentIntents,
    refunds,
    requests,
    refundStatus: 'succeeded',
  };

  function sessionView(session, expandIntent) {
    if (session.status === 'open' && nowS() >= session.expires_at) session.status = 'expired';
    const view = {};
    for (const [key, value] of Object.entries(session)) if (!key.startsWith('_')) view[key] = value;
    if (expandIntent && session.payment_intent) {
      view.payment_intent = paymentIntents.get(session.payment_intent);
    }
    return view;
  }

  function createSession(form) {
    if (form.mode === undefined) return missingParam('mode');
    if (form.mode !== 'payment') {
      return stripeError(400, 'invalid_request_error', 'Only payment mode is simulated.', {
        param: 'mode',
      });
    }
    const item = form.line_items && form.line_items['0'];
    const price = item && item.price_data;
    if (!price) return missingParam('line_items[0][price_data]');
    if (!price.currency) return missingParam('line_items[0][price_data][currency]');
    const unitAmount = integerParam(price.unit_amount);
    if (unitAmount === null || unitAmount < 1) {
      return stripeError(400, 'invalid_request_error', 'Invalid integer: unit_amount', {
        param: 'line_items[0][price_data][unit_amount]',
      });
    }
    if (!price.product_data || !price.product_data.name) {
      return missingParam('line_items[0][price_data][product_data][name]');
    }
    const quantity = integerParam(item.quantity);
    if (quantity === null || quantity < 1) return missingParam('line_items[0][quantity]');
    if (!form.success_url) return missingParam('success_url');
    const created = nowS();
    let expiresAt = created + SESSION_TTL_MAX_S;
    if (form.expires_at !== undefined) {
      expiresAt = integerParam(form.expires_at);
      if (expiresAt === null || expiresAt < created + SESSION_TTL_MIN_S) {
        return stripeError(
          400,
          'invalid_request_error',
          'The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.',
          { param: 'expires_at' },
        );
      }
      if (expiresAt > created + SESSION_TTL_MAX_S) {
        return stripeError(
          400,
          'invalid_request_error',
          'The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.',
          { param: 'expires_at' },
        );
      }
    }
    const id = randomId('cs_test_', 24);
    const session = {
      id,
      object: 'checkout.session',
      amount_subtotal: unitAmount * quantity,
      amount_total: unitAmount * quantity,
      cancel_url: form.cancel_url || null,
      client_reference_id: form.client_reference_id || null,
      created,
      currency: String(price.currency).toLowerCase(),
      expires_at: expiresAt,
      _name: price.product_data.name,
      livemode: false,
      metadata: form.metadata || {},
      mode: 'payment',
      payment_intent: null,
      payment_status: 'unpaid',
      status: 'open',
      success_url: form.success_url,
      url: `${sim.url}/c/pay/${id}`,
      _payment_intent_data: form.payment_intent_data || {},
    };
    sessions.set(id, session);
    return { status: 200, body: sessionView(session, false) };
  }

  function createRefund(form) {
    if (!form.payment_intent && !form.charge) return missingParam('payment_intent');
    const intent = paymentIntents.get(form.payment_intent);
    if (!intent) {
      return stripeError(400, 'invalid_request_error', `No such payment_intent: '${form.payment_intent}'`, {
        code: 'resource_missing',
        param: 'payment_intent',
      });
    }
    const remaining = intent.amount_received - intent.amount_refunded;
    const amount = form.amount === undefined ? remaining : integerParam(form.amount);
    if (remaining <= 0) {
      return stripeError(400, 'invalid_request_error', `Charge ${intent.latest_charge} has already been refunded.`, {
        code: 'charge_already_refunded',
      });
    }
    if (amount === null || amount < 1 || amount > remaining) {
      return stripeError(
        400,
        'invalid_request_error',
        `Refund amount (${form.amount}) is greater than unrefunded amount on charge (${remaining})`,
        { code: 'amount_too_large', param: 'amount' },
      );
    }
    const refund = {
      id: randomId('re_', 24),
      object: 'refund',
      amount,
      charge: intent.latest_charge,
      created: nowS(),
      currency: intent.currency,
      metadata: form.metadata || {},
      payment_intent: intent.id,
      reason: form.reason || null,
      status: sim.refundStatus,
    };
    if (refund.status === 'failed') refund.failure_reason = 'expired_or_canceled_card';
    if (refund.status !== 'failed' && refund.status !== 'canceled') intent.amount_refunded += amount;
    refunds.set(refund.id, refund);
    return { status: 200, body: refund };
  }

  function authorized(req) {
    const header = req.headers.authorization || '';
    const match = /^Bearer (.+)$/.exec(header);
    if (!match) {
      return stripeError(
        401,
        'invalid_request_error',
        'You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth.',
      );
    }
    if (match[1] !== apiKey) {
      return stripeError(401, 'invalid_request_error', `Invalid API Key provided: ${match[1].slice(0, 8)}****${match[1].slice(-4)}`);
    }
    return null;
  }

  /* Stripe's idempotency: the same key for the same call answers what the first answered;
   * with other parameters it is an error. Only POSTs are idempotent this way. */
  function idempotent(req, pathname, form, make) {
    const key = req.headers['idempotency-key'];
    if (key === undefined) return { ...make(), replayed: false };
    const params = JSON.stringify(form);
    const seen = idempotency.get(key);
    if (seen) {
      if (seen.path !== pathname || seen.params !== params) {
        return {
          ...stripeError(
            400,
            'idempotency_error',
            `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
          ),
          replayed: false,
        };
      }
      return { status: seen.status, body: seen.body, replayed: true };
    }
    const answer = make();
    /* Stripe keeps the answer of a request that ran, whatever it said. */
    idempotency.set(key, { path: pathname, params, status: answer.status, body: answer.body });
    return { ...answer, replayed: false };
  }

  function payPage(session) {
    const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
    return `<!doctype html><meta charset="utf-8"><title>Card gateway (simulated)</title>
<h1>Pay ${escape((session.amount_total / 100).toFixed(2))} ${escape(session.currency.toUpperCase())}</h1>
<p>${escape(session._name)} (session ${escape(session.id)}, ${escape(session.status)})</p>
<form method="post"><button>Pay</button></form>`;
  }

  async function handle(req, res, raw) {
    const url = new URL(req.url, 'http://sim');
    const reply = (status, body, headers = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
        'request-id': randomId('req_', 10),
        'stripe-version': API_VERSION,
        ...headers,
      });
      res.end(text);
      return { status, text };
    };

    /* The payment page: not the API, no key. */
    const page = /^\/c\/pay\/([^/]+)$/.exec(url.pathname);
    if (page) {
      const session = sessions.get(decodeURIComponent(page[1]));
      if (!session) return reply(404, '<p>No such session.</p>');
      if (req.method === 'GET') {
        sessionView(session, false); /* an expired session says so */
        return reply(200, payPage(session));
      }
      if (req.method === 'POST') {
        if (session.status === 'open') {
          sim.pay(session.client_reference_id || session.metadata.order_no);
          if (lebdUrl) await sim.notify(session.client_reference_id || session.metadata.order_no).catch(() => {});
        }
        return reply(303, '', { location: session.success_url });
      }
    }

    const record = {
      method: req.method,
      path: url.pathname,
      query: url.search,
      headers: req.headers,
      form: null,
      status: 0,
      body: null,
    };
    requests.push(record);
    const answer = (result) => {
      record.status = result.status;
      record.body = result.body;
      return reply(result.status, result.body, result.replayed ? { 'idempotent-replayed': 'true' } : {});
    };
    const unauthorized = authorized(req);
    if (unauthorized) return answer(unauthorized);

    if (req.method === 'POST') {
      const type = req.headers['content-type'] || '';
      if (!type.startsWith('application/x-www-form-urlencoded')) {
        return answer(stripeError(400, 'invalid_request_error', 'Invalid request: the body must be application/x-www-form-urlencoded.'));
      }
      record.form = parseForm(raw);
    }

    if (req.method === 'POST' && url.pathname === '/v1/checkout/sessions') {
      return answer(idempotent(req, url.pathname, record.form, () => createSession(record.form)));
    }
    if (req.method === 'POST' && url.pathname === '/v1/refunds') {
      return answer(idempotent(req, url.pathname, record.form, () => createRefund(record.form)));
    }
    const sessionPath = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && sessionPath) {
      const id = decodeURIComponent(sessionPath[1]);
      const session = sessions.get(id);
      if (!session) {
        return answer(stripeError(404, 'invalid_request_error', `No such checkout.session: '${id}'`, {
          code: 'resource_missing',
          param: 'session',
        }));
      }
      const expand = url.searchParams.getAll('expand[]');
      return answer({ status: 200, body: sessionView(session, expand.includes('payment_intent')) });
    }
    const refundPath = /^\/v1\/refunds\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && refundPath) {
      const refund = refunds.get(decodeURIComponent(refundPath[1]));
      if (!refund) {
        return answer(stripeError(404, 'invalid_request_error', `No such refund: '${refundPath[1]}'`, {
          code: 'resource_missing',
          param: 'id',
        }));
      }
      return answer({ status: 200, body: refund });
    }
    return answer(stripeError(404, 'invalid_request_error', `Unrecognized request URL (${req.method}: ${url.pathname}).`));
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((error) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'api_error', message: String(error && error.message) } }));
      });
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port || 0, '127.0.0.1', resolve);
  });
  sim.url = `http://127.0.0.1:${server.address().port}`;

  sim.attach = (url) => {
    lebdUrl = String(url).replace(/\/+$/, '');
  };

  sim.sessionOf = (orderNo) => {
    let found = null;
    for (const session of sessions.values()) {
      if (session.client_reference_id === orderNo || session.metadata.order_no === orderNo) found = session;
    }
    return found;
  };

  /* The payer pays: a succeeded payment intent, and the session complete and paid. */
  sim.pay = (orderNo, { amount, currency } = {}) => {
    const session = sim.sessionOf(orderNo);
    if (!session) throw new Error(`card sim: no session for order ${orderNo}`);
    if (session.payment_intent) return paymentIntents.get(session.payment_intent);
    const received = amount === undefined ? session.amount_total : amount;
    const intent = {
      id: randomId('pi_', 24),
      object: 'payment_intent',
      amount: received,
      amount_capturable: 0,
      amount_received: received,
      amount_refunded: 0,
      created: nowS(),
      currency: currency || session.currency,
      latest_charge: randomId('ch_', 24),
      livemode: false,
      metadata: { ...(session._payment_intent_data.metadata || {}) },
      status: 'succeeded',
    };
    paymentIntents.set(intent.id, intent);
    session.payment_intent = intent.id;
    session.payment_status = 'paid';
    session.status = 'complete';
    return intent;
  };

  sim.expire = (orderNo) => {
    const session = sim.sessionOf(orderNo);
    if (!session) throw new Error(`card sim: no session for order ${orderNo}`);
    if (session.status === 'open') session.status = 'expired';
    session.expires_at = Math.min(session.expires_at, nowS());
    return session;
  };

  /* A signed event about the order's payment intent (made, unpaid, for a failure). */
  sim.event = (orderNo, o = {}) => {
    if (o.raw !== undefined) return sim.sign(o.raw, o);
    const type = o.type || 'payment_intent.succeeded';
    const session = sim.sessionOf(orderNo);
    let object;
    if (type.startsWith('checkout.session.')) {
      if (!session) throw new Error(`card sim: no session for order ${orderNo}`);
      object = sessionView(session, false);
    } else {
      let intent = session && session.payment_intent ? paymentIntents.get(session.payment_intent) : null;
      if (!intent && type === 'payment_intent.succeeded') intent = sim.pay(orderNo);
      if (!intent) {
        intent = {
          id: randomId('pi_', 24),
          object: 'payment_intent',
          amount: session ? session.amount_total : o.amount || 100,
          amount_received: 0,
          currency: session ? session.currency : 'cny',
          metadata: { order_no: orderNo },
          status: 'requires_payment_method',
          last_payment_error: { code: 'card_declined', message: 'Your card was declined.' },
        };
      }
      object = { ...intent, metadata: { ...intent.metadata } };
    }
    if (o.amount !== undefined) {
      if (object.object === 'payment_intent') {
        object.amount = o.amount;
        if (type === 'payment_intent.succeeded') object.amount_received = o.amount;
      } else {
        object.amount_total = o.amount;
      }
    }
    if (o.currency !== undefined) object.currency = o.currency;
    if (o.orderNo !== undefined) object.metadata = { ...object.metadata, order_no: o.orderNo };
    const event = {
      id: randomId('evt_', 24),
      object: 'event',
      api_version: API_VERSION,
      created: nowS(),
      data: { object },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
    return { ...sim.sign(JSON.stringify(event, null, 2), o), event };
  };

  /* Signs "body" as Stripe does, with the same options as event(). */
  sim.sign = (body, o = {}) => {
    let raw = body;
    const timestamp = o.timestamp !== undefined ? o.timestamp : nowS();
    let secrets = o.secrets || [o.secret || webhookSecret];
    if (o.wrongSecret) secrets = [randomId('whsec_', 24)];
    let header = `t=${timestamp},${secrets.map((secret) => `v1=${signEvent(raw, timestamp, secret)}`).join(',')}`;
    /* Stripe adds a v0 signature in test mode; receivers ignore it. */
    header += `,v0=${signEvent(raw, timestamp, 'whsec_test_v0')}`;
    if (o.tamper) raw = tamperOneByte(raw);
    if (o.header !== undefined) header = o.header;
    return { raw, header, event: null };
  };

  /* Posts an event as Stripe does: JSON, its signature header, Stripe's user agent. */
  sim.send = async (raw, header) => {
    if (!lebdUrl) throw new Error('card sim: attach(lebd.url) first');
    const headers = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
    };
    if (header !== null) headers['stripe-signature'] = header;
    const response = await fetch(`${lebdUrl}/api/v1/payments/card/notify`, {
      method: 'POST',
      headers,
      body: raw,
    });
    const text = await response.text();
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (_) {
      body = null;
    }
    return { status: response.status, text, body, headers: response.headers };
  };

  sim.notify = async (orderNo, o = {}) => {
    const { raw, header, event } = sim.event(orderNo, o);
    return { ...(await sim.send(raw, header)), raw, header, event };
  };

  sim.writeKeyFiles = (dir) => {
    fs.mkdirSync(dir, { recursive: true });
    const files = {
      webhookSecretFile: path.join(dir, 'card-webhook-secret'),
      webhookSecretNextFile: path.join(dir, 'card-webhook-secret-next'),
      apiKeyFile: path.join(dir, 'card-api-key'),
    };
    fs.writeFileSync(files.webhookSecretFile, `${webhookSecret}\n`, { mode: 0o600 });
    fs.writeFileSync(files.webhookSecretNextFile, `${nextWebhookSecret}\n`, { mode: 0o600 });
    fs.writeFileSync(files.apiKeyFile, `${apiKey}\n`, { mode: 0o600 });
    return files;
  };

  sim.lebdEnv = (dir, { next = false } = {}) => {
    const files = sim.writeKeyFiles(dir);
    const env = {
      LEB_CARD_WEBHOOK_SECRET_FILE: files.webhookSecretFile,
      LEB_CARD_API_KEY_FILE: files.apiKeyFile,
      LEB_CARD_BASE_URL: sim.url,
    };
    if (next) env.LEB_CARD_WEBHOOK_SECRET_NEXT_FILE = files.webhookSecretNextFile;
    return env;
  };

  sim.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });

  return sim;
}

module.exports = { startCardSim, signEvent, tamperOneByte };

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  startCardSim({ port: Number(option('--port') || 0), lebdUrl: option('--lebd') }).then((sim) => {
    const dir = option('--dir');
    const lines = [`card gateway simulator at ${sim.url}`];
    if (dir) {
      for (const [key, value] of Object.entries(sim.lebdEnv(dir, { next: true }))) {
        lines.push(`${key}=${value}`);
      }
    } else {
      lines.push(`LEB_CARD_BASE_URL=${sim.url}`, '(give --dir DIR to write the key files for lebd)');
    }
    lines.push('open a session url and press Pay: the signed event goes to --lebd URL');
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
