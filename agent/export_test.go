package agent

// SnapshotSecretIDs returns the secret ids of the entries of a snapshot file, for the tests
// of package agent_test; it wipes the values it opened.
func SnapshotSecretIDs(key, file []byte) ([]string, error) {
	entries, err := openSnapshot(key, file)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.SecretID)
		e.Value.Wipe()
	}
	return ids, nil
}
