-- Gridwalk sync server schema, version 6 (PRAGMA user_version = 6): no echo. Applied in one
-- transaction on top of version 5.

-- The device (user id, a line feed, device id) whose push wrote the record's current revision
-- when that device already holds exactly this state: the record is then left out of that
-- device's pulls (docs/protocol.md, "No echo"). NULL for every other write (server-made
-- changes, merges with fields the device has not seen, older devices that send no cursor).
ALTER TABLE records ADD COLUMN echo TEXT;
