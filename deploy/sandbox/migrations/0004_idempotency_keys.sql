-- The Idempotency-Key records of the APIs we define ourselves (payroll, facilities), on Stripe's
-- model: the first successful answer to a key, kept with a fingerprint of the request it answered,
-- so a repeat of the same request gets that answer again and a different request under the key is
-- refused. Written in the same transaction as the write it answers.
CREATE TABLE sandbox_idempotency_keys (
    system text NOT NULL,
    key text NOT NULL,
    coworker text NOT NULL,
    fingerprint text NOT NULL,
    status integer NOT NULL,
    body jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    PRIMARY KEY (system, key)
);
