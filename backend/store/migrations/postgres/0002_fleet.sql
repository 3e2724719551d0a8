-- edgegw ingest schema, version 2 (PostgreSQL): what the fleet view needs.

-- Per gateway, its newest committed batch (highest sequence number): when it
-- was received and the configuration version it was made under.
ALTER TABLE gateways ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE gateways ADD COLUMN last_received timestamptz;
ALTER TABLE gateways ADD COLUMN config_version bigint NOT NULL DEFAULT 0;

-- The newest reading of each gateway, device and channel.
CREATE TABLE latest_readings (
	gateway text             NOT NULL,
	device  text             NOT NULL,
	channel text             NOT NULL,
	time    timestamptz      NOT NULL,
	value   double precision,
	unit    text             NOT NULL,
	flags   integer          NOT NULL,
	PRIMARY KEY (gateway, device, channel)
);

-- The newest retained document of each kind ('health', 'config-status') a
-- gateway published, as received (body is one JSON object).
CREATE TABLE gateway_docs (
	gateway  text        NOT NULL,
	kind     text        NOT NULL,
	received timestamptz NOT NULL,
	body     text        NOT NULL,
	PRIMARY KEY (kind, gateway)
);

-- The documents received before, a bounded number per gateway and kind.
CREATE TABLE gateway_doc_history (
	gateway  text        NOT NULL,
	kind     text        NOT NULL,
	received timestamptz NOT NULL,
	body     text        NOT NULL
);
CREATE INDEX gateway_doc_history_time ON gateway_doc_history (gateway, kind, received);

-- Each gateway's fleet state now, and since when.
CREATE TABLE fleet_states (
	gateway text PRIMARY KEY,
	state   text        NOT NULL,
	reason  text        NOT NULL,
	since   timestamptz NOT NULL
);

-- Every change of a gateway's fleet state; alert tells whether it raised an
-- alert (a flapping gateway's changes after the first do not).
CREATE TABLE fleet_transitions (
	gateway    text        NOT NULL,
	time       timestamptz NOT NULL,
	from_state text        NOT NULL,
	to_state   text        NOT NULL,
	reason     text        NOT NULL,
	alert      boolean     NOT NULL
);
CREATE INDEX fleet_transitions_gateway ON fleet_transitions (gateway, time);
CREATE INDEX fleet_transitions_time ON fleet_transitions (time);
