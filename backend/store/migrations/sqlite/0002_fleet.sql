-- edgegw ingest schema, version 2 (SQLite): what the fleet view needs.

-- Per gateway, its newest committed batch (highest sequence number): when it
-- was received and the configuration version it was made under.
ALTER TABLE gateways ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gateways ADD COLUMN last_received TEXT;
ALTER TABLE gateways ADD COLUMN config_version INTEGER NOT NULL DEFAULT 0;

-- The newest reading of each gateway, device and channel.
CREATE TABLE latest_readings (
	gateway TEXT    NOT NULL,
	device  TEXT    NOT NULL,
	channel TEXT    NOT NULL,
	time    TEXT    NOT NULL,
	value   REAL,
	unit    TEXT    NOT NULL,
	flags   INTEGER NOT NULL,
	PRIMARY KEY (gateway, device, channel)
) WITHOUT ROWID;

-- The newest retained document of each kind ('health', 'config-status') a
-- gateway published, as received (body is one JSON object).
CREATE TABLE gateway_docs (
	gateway  TEXT NOT NULL,
	kind     TEXT NOT NULL,
	received TEXT NOT NULL,
	body     TEXT NOT NULL,
	PRIMARY KEY (kind, gateway)
) WITHOUT ROWID;

-- The documents received before, a bounded number per gateway and kind.
CREATE TABLE gateway_doc_history (
	gateway  TEXT NOT NULL,
	kind     TEXT NOT NULL,
	received TEXT NOT NULL,
	body     TEXT NOT NULL
);
CREATE INDEX gateway_doc_history_time ON gateway_doc_history (gateway, kind, received);

-- Each gateway's fleet state now, and since when.
CREATE TABLE fleet_states (
	gateway TEXT PRIMARY KEY,
	state   TEXT NOT NULL,
	reason  TEXT NOT NULL,
	since   TEXT NOT NULL
) WITHOUT ROWID;

-- Every change of a gateway's fleet state; alert tells whether it raised an
-- alert (a flapping gateway's changes after the first do not).
CREATE TABLE fleet_transitions (
	gateway    TEXT    NOT NULL,
	time       TEXT    NOT NULL,
	from_state TEXT    NOT NULL,
	to_state   TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	alert      INTEGER NOT NULL
);
CREATE INDEX fleet_transitions_gateway ON fleet_transitions (gateway, time);
CREATE INDEX fleet_transitions_time ON fleet_transitions (time);
