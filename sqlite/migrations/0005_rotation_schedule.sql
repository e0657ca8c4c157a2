-- The rotation scheduler asks for the secrets whose rotation is due.
CREATE INDEX secrets_rotation_due ON secrets (next_rotation_date, arn) WHERE rotation_enabled <> 0 AND next_rotation_date <> 0;
