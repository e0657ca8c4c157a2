package server_test

import "testing"

// Every server test runs on SQLite and on PostgreSQL: the two stores must be indistinguishable
// to a client.

func TestCreateAndGet(t *testing.T)       { bothStores(t, serverOpts{}, testCreateAndGet) }
func TestCreateValidation(t *testing.T)   { bothStores(t, serverOpts{}, testCreateValidation) }
func TestStagesAndVersions(t *testing.T)  { bothStores(t, serverOpts{}, testStagesAndVersions) }
func TestListSecrets(t *testing.T)        { bothStores(t, serverOpts{}, testListSecrets) }
func TestDeleteRestorePurge(t *testing.T) { bothStores(t, serverOpts{}, testDeleteRestorePurge) }
func TestAuthenticationFailuresTouchNothing(t *testing.T) {
	bothStores(t, serverOpts{}, testAuthenticationFailuresTouchNothing)
}
func TestProtocolErrors(t *testing.T) { bothStores(t, serverOpts{}, testProtocolErrors) }
func TestHealthWithoutAuthentication(t *testing.T) {
	bothStores(t, serverOpts{}, testHealthWithoutAuthentication)
}
func TestNoValueAtRest(t *testing.T) { bothStores(t, serverOpts{}, testNoValueAtRest) }
func TestRegions(t *testing.T) {
	bothStores(t, serverOpts{regions: []string{"us-east-1", "us-west-2"}}, testRegions)
}
func TestSwappedCiphertextFails(t *testing.T) {
	bothStores(t, serverOpts{}, testSwappedCiphertextFails)
}

// bothStores runs fn on a server over SQLite and on one over PostgreSQL (skipped on a machine
// without PostgreSQL unless CI=true; see storetest.PostgresDSN).
func bothStores(t *testing.T, o serverOpts, fn func(*testing.T, serverOpts)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, o) })
	t.Run("postgres", func(t *testing.T) {
		o.postgres = true
		fn(t, o)
	})
}
