/*
 * card.h - the pure parts of the card provider (a Stripe-compatible card gateway), apart so
 * that they are tested without a network or a clock: the Stripe-Signature check of a webhook
 * event, and the expiry LEB asks for a Checkout Session.
 *
 * Nothing here reads the clock: "now" is a parameter.
 */
#ifndef LEB_PAY_CARD_H
#define LEB_PAY_CARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* How far an event's signed timestamp may be from now, either way (Stripe's default). */
#define CARD_SIGNATURE_TOLERANCE_S 300
/* The longest Stripe-Signature header looked at, and the most elements in it. */
#define CARD_SIGNATURE_HEADER_MAX 2048
#define CARD_SIGNATURE_ELEMENTS_MAX 16
/* The secrets an event may be signed with: the endpoint's, and the next one in a rotation. */
#define CARD_SECRETS_MAX 2

/*
 * Verifies the Stripe-Signature "header" of the raw event "body" ("body_size" bytes): the
 * header is "t=<unix seconds>,v1=<hex>[,v1=<hex>...]" (other schemes such as v0 ignored), and
 * a v1 value is the lower-case hex HMAC-SHA256 of "<t>.<body>" under a webhook secret. The
 * event verifies if any v1 value matches any of the "secrets_count" "secrets" (a rotation
 * signs with both), compared in constant time, and if "t" is within "tolerance_s" of "now".
 * Returns 0, or LEB_E_INVALID_SIGNATURE for a missing, malformed, stale or wrong signature:
 * the caller learns nothing more, as a forger should not.
 */
LEB_MUST_CHECK int card_signature_verify(const char *header, const char *body, size_t body_size,
                                         const char *const *secrets, size_t secrets_count,
                                         int64_t now, int64_t tolerance_s);

/* What LEB asks a Checkout Session to live at least and at most, and the margin it keeps to
 * Stripe's own bounds (30 minutes to 24 hours after the session's creation) for the time a
 * request takes and for clocks that differ a little. */
#define CARD_SESSION_TTL_MIN_S (40 * 60)
#define CARD_SESSION_TTL_MAX_S (23 * 3600)
#define CARD_STRIPE_TTL_MIN_S (30 * 60)
#define CARD_STRIPE_TTL_MAX_S (24 * 3600)
#define CARD_SESSION_MARGIN_S 60

/*
 * The expires_at (Unix seconds, the provider's real time) of the Checkout Session of an order
 * created at "created_at" and due to expire at "expires_at" on LEB's clock, which runs
 * "clock_offset_s" ahead of the real time "real_now". The order's time to live, clamped into
 * [CARD_SESSION_TTL_MIN_S, CARD_SESSION_TTL_MAX_S], counted from the order's creation: the
 * same answer on every attempt for the same order, because Stripe refuses an Idempotency-Key
 * sent again with other parameters. Only an attempt so late that this would break Stripe's
 * bounds counts from "real_now" instead.
 */
int64_t card_session_expires_at(int64_t created_at, int64_t expires_at, int64_t clock_offset_s,
                                int64_t real_now);

#endif
