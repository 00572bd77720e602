-- Gridwalk sync server schema, version 1 → 2: who holds the bytes of each photo blob, and who
-- pushed each photo record (`src/photos.rs`). Applied in one transaction after version 1.

-- A user holds a blob once an upload of theirs completed with bytes hashing to it (proof of
-- possession), or once they asked for a blob a linked record in their scope already serves.
CREATE TABLE blob_holders (
    sha256    TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    device_id TEXT NOT NULL,   -- the device of the first proof ('' for grandfathered rows)
    since     INTEGER NOT NULL,
    PRIMARY KEY (sha256, user_id)
) WITHOUT ROWID;

-- The pusher of each photo record. A record is linked to its bytes (and may serve them) when
-- its pusher holds its hash. Photo records are append-only: the hash never changes.
CREATE TABLE photo_claims (
    photo_id TEXT PRIMARY KEY,
    sha256   TEXT NOT NULL,
    user_id  TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX photo_claims_sha256 ON photo_claims (sha256);

-- Photo records written under version 1 keep serving their files as they did: their pusher is
-- not known, so they are claimed by the placeholder holder '(v1)', which holds their hashes.
-- ('(v1)' is no user id: ids are UUIDs.)
INSERT OR IGNORE INTO photo_claims (photo_id, sha256, user_id)
    SELECT id, json_extract(data, '$.sha256'), '(v1)' FROM records
    WHERE entity = 'photo' AND json_type(data, '$.sha256') = 'text';
INSERT OR IGNORE INTO blob_holders (sha256, user_id, device_id, since)
    SELECT DISTINCT sha256, '(v1)', '', 0 FROM photo_claims WHERE user_id = '(v1)';
