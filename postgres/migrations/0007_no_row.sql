-- A write queued to go with its transaction's COMMIT in one pipeline (lazyTx.commit) must
-- fail in the database when it changes no row where its caller needs one, so that PostgreSQL
-- skips the COMMIT: such a write selects coffer_no_row(what) when its data-modifying CTE
-- returned nothing. The adapter reads the SQLSTATE and the message back as the caller's
-- error (NotFound, ResourceExists).
CREATE FUNCTION coffer_no_row(what text) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'CF001', MESSAGE = what;
END
$$;
