-- Room on each page of the outbox for the new versions of its rows (claim, heartbeat, completion each
-- write one): an update whose new version fits on the same page avoids extending the table, and a
-- heartbeat (no indexed column changes) can then be HOT. Applies to pages written from now on.
ALTER TABLE ops.escalations SET (fillfactor = 70);
