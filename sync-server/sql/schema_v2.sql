-- Gridwalk sync server schema, version 2 (PRAGMA user_version = 2): sign-in throttling.
-- Applied in one transaction on top of version 1.

-- Sign-in throttling state, shared by every server process on this database. `key` is the hex
-- SHA-256 of 'user' or 'addr', a zero byte, and the user name or client address: no name or
-- mistyped password is stored in clear. Times are ms since the epoch.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    failures     INTEGER NOT NULL,   -- attempts counted in the window
    locked_until INTEGER NOT NULL,   -- refused until then; 0 = not locked
    strikes      INTEGER NOT NULL,   -- lockouts in a row (each doubles the next)
    last_failure INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_throttle_last ON login_throttle (last_failure);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_device ON sessions (device_id);
