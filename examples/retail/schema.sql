-- The shop's database: the catalogue the pipeline reads through CDC (products) and the two tables
-- it writes through the Postgres sink (reorders, prices).
CREATE TABLE IF NOT EXISTS products (
    sku           text PRIMARY KEY,
    name          text NOT NULL,
    base_price    numeric(10,2) NOT NULL,
    price         numeric(10,2) NOT NULL,
    reorder_point integer NOT NULL,  -- reorder when on-hand + on-order falls below this
    reorder_qty   integer NOT NULL,  -- units per reorder
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per reorder: the n-th reorder of a sku is (sku, seq), so a replayed output upserts
-- the same row instead of adding one.
CREATE TABLE IF NOT EXISTS reorders (
    sku           text NOT NULL,
    seq           bigint NOT NULL,
    qty           bigint NOT NULL,
    on_hand       bigint NOT NULL,
    reorder_point bigint NOT NULL,
    event_time    bigint NOT NULL,  -- ms since the epoch of the sale that crossed the point
    written_at    timestamptz NOT NULL DEFAULT clock_timestamp(),  -- when the sink inserted it
    PRIMARY KEY (sku, seq)
);

-- The current price adjustment per sku.
CREATE TABLE IF NOT EXISTS prices (
    sku         text PRIMARY KEY,
    price_cents bigint NOT NULL,
    reason      text NOT NULL,
    event_time  bigint NOT NULL
);
