-- A merchant may snooze a recommendation: it stays open but out of lists and briefings until this time.
ALTER TABLE recommendations ADD COLUMN snoozed_until timestamptz;
