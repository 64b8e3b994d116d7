-- Which controller started what (maintctl tick; see maintctl/cmd_tick.py): one row per client, kind
-- (a schedule entry such as 'nightly', or 'probe', 'watch') and slot start (ISO UTC). The primary key
-- makes the claim atomic: of two controllers ticking on one store, the one whose INSERT lands starts
-- the slot and the other skips it. A claim is for one slot only: a controller that crashed after
-- claiming blocks nothing later (the next slot is free; its run left 'running' is recovered as stale).
CREATE TABLE IF NOT EXISTS slot_claims (
    client       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    slot         TEXT NOT NULL,
    controller   TEXT NOT NULL,          -- who claimed it: $MAINT_CONTROLLER, else host name and MAINT_HOME
    claimed      TEXT NOT NULL,
    PRIMARY KEY (client, kind, slot)
);
CREATE INDEX IF NOT EXISTS slot_claims_slot ON slot_claims (slot);
