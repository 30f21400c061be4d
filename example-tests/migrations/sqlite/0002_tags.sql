-- Free-form tags on notes, removed with their note.
ALTER TABLE notes ADD COLUMN tags TEXT NOT NULL DEFAULT '';
