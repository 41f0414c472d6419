-- Matches are only ever read by contact (the primary key's order). The
-- index by token cost every stored match an insert at a random place in
-- it, a page written per match, and nothing reads it: tokens can be
-- neither updated nor deleted, so no foreign-key check needs it either.
DROP INDEX IF EXISTS matches_token;
