-- edgegw ingest schema, version 1 (PostgreSQL). Sequence numbers are
-- 1..2^63-2.

-- One row per gateway that has a committed batch: its counters, and the row
-- Commit locks so that replicas committing for one gateway take turns.
CREATE TABLE gateways (
	gateway          text PRIMARY KEY,
	batches          bigint NOT NULL DEFAULT 0,
	readings         bigint NOT NULL DEFAULT 0,
	gap_records      bigint NOT NULL DEFAULT 0,
	audits           bigint NOT NULL DEFAULT 0,
	dropped_readings bigint NOT NULL DEFAULT 0
);

-- One row per committed batch of any class (data, 'gap', 'audit').
CREATE TABLE batches (
	gateway        text        NOT NULL,
	seq            bigint      NOT NULL,
	class          text        NOT NULL,
	key_id         bytea,
	config_version bigint      NOT NULL,
	created        timestamptz NOT NULL,
	received       timestamptz NOT NULL,
	committed_at   timestamptz NOT NULL,
	readings       integer     NOT NULL,
	size           integer     NOT NULL,
	header_hash    bytea       NOT NULL,
	PRIMARY KEY (gateway, seq)
);

-- The readings of data batches; value is NULL for a read-error reading.
-- Partitioned by day (UTC): Commit creates the partition readings_pYYYYMMDD
-- before it first inserts into that day.
CREATE TABLE readings (
	gateway text             NOT NULL,
	seq     bigint           NOT NULL,
	device  text             NOT NULL,
	channel text             NOT NULL,
	time    timestamptz      NOT NULL,
	value   double precision,
	unit    text             NOT NULL,
	flags   integer          NOT NULL
) PARTITION BY RANGE (time);
CREATE INDEX readings_series ON readings (gateway, device, channel, time);
CREATE INDEX readings_time ON readings USING brin (time);

-- Gap records: seq is the record's own sequence number, from_seq..to_seq the
-- batches it says were dropped.
CREATE TABLE gaps (
	gateway  text   NOT NULL,
	seq      bigint NOT NULL,
	from_seq bigint NOT NULL,
	to_seq   bigint NOT NULL,
	batches  bigint NOT NULL,
	readings bigint NOT NULL,
	reason   text   NOT NULL,
	PRIMARY KEY (gateway, seq)
);
CREATE INDEX gaps_from ON gaps (gateway, from_seq);

-- Audit records: one JSON object each; time is the record's creation time.
CREATE TABLE audit (
	gateway text        NOT NULL,
	seq     bigint      NOT NULL,
	time    timestamptz NOT NULL,
	record  json        NOT NULL,
	PRIMARY KEY (gateway, seq)
);

-- Envelopes the ingest did not store; gateway is what the envelope claimed.
CREATE TABLE rejects (
	time    timestamptz NOT NULL,
	reason  text        NOT NULL,
	gateway text        NOT NULL,
	topic   text        NOT NULL,
	detail  text        NOT NULL,
	size    integer     NOT NULL
);
CREATE INDEX rejects_time ON rejects (time);

-- The sequence numbers of each gateway's batch rows as disjoint, non-adjacent
-- inclusive ranges: what Committed and Missing read instead of the batches.
CREATE TABLE received_ranges (
	gateway  text   NOT NULL,
	from_seq bigint NOT NULL,
	to_seq   bigint NOT NULL,
	PRIMARY KEY (gateway, from_seq)
);
CREATE UNIQUE INDEX received_ranges_to ON received_ranges (gateway, to_seq);
