-- edgegw ingest schema, version 1 (SQLite). Times are text in UTC,
-- 'YYYY-MM-DDTHH:MM:SS.ffffffZ', so they sort in time order and SQLite's date
-- functions read them. Sequence numbers are 1..2^63-2.

-- One row per gateway that has a committed batch: its counters. Commit
-- updates them in the transaction that stores the batches.
CREATE TABLE gateways (
	gateway          TEXT PRIMARY KEY,
	batches          INTEGER NOT NULL DEFAULT 0,
	readings         INTEGER NOT NULL DEFAULT 0,
	gap_records      INTEGER NOT NULL DEFAULT 0,
	audits           INTEGER NOT NULL DEFAULT 0,
	dropped_readings INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- One row per committed batch of any class (data, 'gap', 'audit').
CREATE TABLE batches (
	gateway        TEXT    NOT NULL,
	seq            INTEGER NOT NULL,
	class          TEXT    NOT NULL,
	key_id         BLOB,
	config_version INTEGER NOT NULL,
	created        TEXT    NOT NULL,
	received       TEXT    NOT NULL,
	committed_at   TEXT    NOT NULL,
	readings       INTEGER NOT NULL,
	size           INTEGER NOT NULL,
	header_hash    BLOB    NOT NULL,
	PRIMARY KEY (gateway, seq)
) WITHOUT ROWID;

-- The readings of data batches; value is NULL for a read-error reading.
CREATE TABLE readings (
	gateway TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	device  TEXT    NOT NULL,
	channel TEXT    NOT NULL,
	time    TEXT    NOT NULL,
	value   REAL,
	unit    TEXT    NOT NULL,
	flags   INTEGER NOT NULL
);
CREATE INDEX readings_series ON readings (gateway, device, channel, time);

-- Gap records: seq is the record's own sequence number, from_seq..to_seq the
-- batches it says were dropped.
CREATE TABLE gaps (
	gateway  TEXT    NOT NULL,
	seq      INTEGER NOT NULL,
	from_seq INTEGER NOT NULL,
	to_seq   INTEGER NOT NULL,
	batches  INTEGER NOT NULL,
	readings INTEGER NOT NULL,
	reason   TEXT    NOT NULL,
	PRIMARY KEY (gateway, seq)
) WITHOUT ROWID;
CREATE INDEX gaps_from ON gaps (gateway, from_seq);

-- Audit records: one JSON object each; time is the record's creation time.
CREATE TABLE audit (
	gateway TEXT    NOT NULL,
	seq     INTEGER NOT NULL,
	time    TEXT    NOT NULL,
	record  TEXT    NOT NULL,
	PRIMARY KEY (gateway, seq)
) WITHOUT ROWID;

-- Envelopes the ingest did not store; gateway is what the envelope claimed.
CREATE TABLE rejects (
	time    TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	gateway TEXT    NOT NULL,
	topic   TEXT    NOT NULL,
	detail  TEXT    NOT NULL,
	size    INTEGER NOT NULL
);
CREATE INDEX rejects_time ON rejects (time);

-- The sequence numbers of each gateway's batch rows as disjoint, non-adjacent
-- inclusive ranges: what Committed and Missing read instead of the batches.
CREATE TABLE received_ranges (
	gateway  TEXT    NOT NULL,
	from_seq INTEGER NOT NULL,
	to_seq   INTEGER NOT NULL,
	PRIMARY KEY (gateway, from_seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX received_ranges_to ON received_ranges (gateway, to_seq);
