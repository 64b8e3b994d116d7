-- A result's message as a template and its parameters (JSON: {"id": ..., "params": {...}}), so that a
-- report can say it in its own language; NULL for results stored before, which keep their summary.
ALTER TABLE results ADD COLUMN message TEXT;
