-- A secret or version never read holds -1099511627776 (-2^40) as its last access date rather
-- than 0: a value stored in six bytes, as a date is, so that the first read's mark rewrites
-- the row in place instead of growing it (and splitting its page). It sorts before every date,
-- as 0 did; the code reads both as "never".
UPDATE secrets SET last_accessed_date = -1099511627776 WHERE last_accessed_date = 0;
UPDATE versions SET last_accessed_date = -1099511627776 WHERE last_accessed_date = 0;
