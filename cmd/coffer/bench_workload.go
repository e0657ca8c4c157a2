package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"sync/atomic"

	"github.com/coffer-project/coffer"
)

// A workload is the calls of one series: an operation, the body of each call, and how a
// target is made ready for them.
type workload struct {
	name     string // the series' name: get, get random, describe, list, put or create
	op       string // the X-Amz-Target operation
	describe string
	// body returns the body of the next call on connection conn (0 ≤ conn < connections).
	body func(conn int) []byte
	// prepare makes t ready for the calls and returns one response to them, which a bare
	// baseline serves; nil when the workload's baseline is not a bare handler.
	prepare func(ctx context.Context, t target) ([]byte, error)
	// notes are what prepare found that the results depend on.
	notes []string
}

// popName names the i-th secret of --populate.
func popName(i int) string { return fmt.Sprintf("bench/pop/%09d", i) }

// getWorkload reads the secret id, which prepare creates with a random size-byte value when
// it is missing.
func getWorkload(id string, size int) *workload {
	return oneSecretWorkload("get", "GetSecretValue", id, size)
}

// describeWorkload describes the secret id, as AWS's caching clients do to learn whether it
// has a new version; prepare creates it as getWorkload's.
func describeWorkload(id string, size int) *workload {
	return oneSecretWorkload("describe", "DescribeSecret", id, size)
}

// oneSecretWorkload calls op on the secret id, which prepare creates with a random size-byte
// value when it is missing.
func oneSecretWorkload(name, op, id string, size int) *workload {
	body := mustJSON(map[string]string{"SecretId": id})
	return &workload{
		name:     name,
		op:       op,
		describe: fmt.Sprintf("%s of %q (created with a %d-byte value when missing)", op, id, size),
		body:     func(int) []byte { return body },
		prepare: func(ctx context.Context, t target) ([]byte, error) {
			code, resp, err := t.call(ctx, t.url, op, map[string]string{"SecretId": id})
			if err == nil && code != http.StatusOK {
				if err := createSecret(ctx, t, id, randomText(size)); err != nil {
					return nil, err
				}
				code, resp, err = t.call(ctx, t.url, op, map[string]string{"SecretId": id})
			}
			return expectOK(t, "call "+op+" on "+id, code, resp, err)
		},
	}
}

// randomGetWorkload reads a random one of the n populated secrets per call, or of the first
// among of them when among is positive.
func randomGetWorkload(n, among int) *workload {
	describe := fmt.Sprintf("GetSecretValue of a random one of the %d bench/pop/ secrets per call (64-byte values)", n)
	if among > 0 && among < n {
		describe = fmt.Sprintf("GetSecretValue of a random one of the first %d of the %d bench/pop/ secrets per call (64-byte values)", among, n)
		n = among
	}
	return &workload{
		name:     "get random",
		op:       "GetSecretValue",
		describe: describe,
		body: func(int) []byte {
			return fmt.Appendf(nil, `{"SecretId":%q}`, popName(mrand.IntN(n)))
		},
		prepare: func(ctx context.Context, t target) ([]byte, error) {
			code, resp, err := t.call(ctx, t.url, "GetSecretValue", map[string]string{"SecretId": popName(0)})
			return expectOK(t, "read "+popName(0), code, resp, err)
		},
	}
}

// listWorkload lists the first page of the secrets whose name starts with prefix, sorted by
// sortBy when it is not empty.
func listWorkload(prefix, sortBy string) *workload {
	input := map[string]any{"Filters": []map[string]any{{"Key": "name", "Values": []string{prefix}}}}
	describe := fmt.Sprintf("ListSecrets, name filter %q, first page only (default page size)", prefix)
	if sortBy != "" {
		input["SortBy"] = sortBy
		describe = fmt.Sprintf("ListSecrets, name filter %q, sorted by %s, first page only (default page size)", prefix, sortBy)
	}
	body := mustJSON(input)
	return &workload{
		name:     "list",
		op:       "ListSecrets",
		describe: describe,
		body:     func(int) []byte { return body },
		prepare: func(ctx context.Context, t target) ([]byte, error) {
			code, resp, err := t.call(ctx, t.url, "ListSecrets", input)
			return expectOK(t, "list "+prefix, code, resp, err)
		},
	}
}

// putVersionsToKeep is the DeprecatedVersionsToKeep (coffer's extension) of the put
// secrets: under AWS's own rule a secret refuses a 101st version younger than 24 hours,
// which a few seconds of puts reach.
const putVersionsToKeep = 10

// putWorkload writes a size-byte value with a fresh ClientRequestToken per call, each
// connection to its own secret, or every connection to the secret one when it is not empty
// (--secret-id: the writers of one hot secret).
func putWorkload(conns, size int, one string) *workload {
	names, values := make([]string, conns), make([]string, conns)
	for i := range conns {
		names[i], values[i] = fmt.Sprintf("bench/put/%04d", i), randomText(size)
		if one != "" {
			names[i] = one
		}
	}
	whose := "each connection to its own secret (bench/put/NNNN"
	if one != "" {
		whose = "every connection to one secret (" + one
	}
	w := &workload{
		name: "put",
		op:   "PutSecretValue",
		describe: fmt.Sprintf("PutSecretValue of a %d-byte value, %s, keeping %d deprecated versions), a fresh ClientRequestToken per call",
			size, whose, putVersionsToKeep),
		body: func(conn int) []byte {
			return mustJSON(map[string]string{"SecretId": names[conn], "SecretString": values[conn], "ClientRequestToken": newToken()})
		},
	}
	w.prepare = func(ctx context.Context, t target) ([]byte, error) {
		for i := range names {
			if i > 0 && names[i] == names[0] {
				break
			}
			if err := createSecret(ctx, t, names[i], values[i]); err != nil {
				return nil, err
			}
			code, resp, err := t.call(ctx, t.url, "coffer.UpdateSecretVersionRetention", map[string]any{"SecretId": names[i], "DeprecatedVersionsToKeep": putVersionsToKeep})
			if err != nil || code != http.StatusOK {
				w.notes = append(w.notes, fmt.Sprintf("%s refused coffer.UpdateSecretVersionRetention (%s): its secrets will refuse a 101st version within 24 hours (LimitExceededException)",
					t.name, failure(code, resp, err)))
				break
			}
		}
		return nil, nil
	}
	return w
}

// createWorkload creates a new secret with a size-byte value per call: bench/create/RUN/C/N,
// RUN random per bench, C the connection, N its count.
func createWorkload(conns, size int) *workload {
	run := newToken()[:8]
	value := randomText(size)
	next := make([]atomic.Int64, conns)
	return &workload{
		name:     "create",
		op:       "CreateSecret",
		describe: fmt.Sprintf("CreateSecret of a new secret (bench/create/%s/C/N) with a %d-byte value per call", run, size),
		body: func(conn int) []byte {
			name := fmt.Sprintf("bench/create/%s/%d/%d", run, conn, next[conn].Add(1))
			return mustJSON(map[string]string{"Name": name, "SecretString": value, "ClientRequestToken": newToken()})
		},
		prepare: func(context.Context, target) ([]byte, error) { return nil, nil },
	}
}

// createSecret creates the secret name with value, unless it exists.
func createSecret(ctx context.Context, t target, name, value string) error {
	code, resp, err := t.call(ctx, t.url, "CreateSecret", map[string]string{"Name": name, "SecretString": value, "ClientRequestToken": newToken()})
	if err == nil && code != http.StatusOK && errorType(resp) == coffer.ErrResourceExists {
		return nil
	}
	_, err = expectOK(t, "create "+name, code, resp, err)
	return err
}

// expectOK returns a preparation call's response body, or an error naming its code.
func expectOK(t target, what string, code int, resp []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, fmt.Errorf("bench: %s: %s: %w", t.name, what, err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("bench: %s: %s: %s", t.name, what, failure(code, resp, nil))
	}
	return resp, nil
}

// mustJSON encodes v, which is always encodable.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// randomText returns n random lower-case letters and digits.
func randomText(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// sampleNote describes the response a bare baseline serves.
func sampleNote(op string, sample []byte) string {
	note := fmt.Sprintf("a %d-byte response", len(sample))
	var page struct{ SecretList []json.RawMessage }
	if op == "ListSecrets" && json.Unmarshal(sample, &page) == nil {
		note += fmt.Sprintf(", %d secrets on the page", len(page.SecretList))
	}
	return note
}
