-- edgegw ingest schema, version 3 (PostgreSQL): the newest good reading.

-- Per gateway, device and channel, the time of the newest committed reading
-- without the read-error flag (bit 16 of flags), beside the newest reading:
-- what tells a device that stopped answering from one that failed once.
-- Commit keeps it in the transaction that stores the batch. NULL while no
-- good reading is known: a row whose newest reading is good starts with its
-- time, the others fill as batches come.
ALTER TABLE latest_readings ADD COLUMN good_time timestamptz;
UPDATE latest_readings SET good_time = time WHERE flags & 16 = 0;
