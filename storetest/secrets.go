package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coffer-project/coffer"
)

func testSecretRoundTrip(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	want := fullSecret(ns, "prod/db/password")
	insertSecrets(t, s, want)

	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.SecretByARN(want.ARN)
		if err != nil {
			t.Fatalf("SecretByARN: %v", err)
		}
		checkSecret(t, "SecretByARN", got, want)

		got, err = tx.SecretByName(ns, want.Name)
		if err != nil {
			t.Fatalf("SecretByName: %v", err)
		}
		checkSecret(t, "SecretByName", got, want)
		return nil
	})
}

func testSecretZeroFields(t *testing.T, s coffer.Store) {
	// Only the identity is set: every time but CreatedDate is zero, Tags is nil, strings empty.
	ns := namespace(accountA, regionA)
	want := &coffer.Secret{
		ARN:         coffer.SecretARN(ns, "bare", "aBcDeF"),
		Namespace:   ns,
		Name:        "bare",
		CreatedDate: at(0),
	}
	empty := newSecret(ns, "empty-tags", at(time.Second))
	empty.Tags = []coffer.Tag{}
	insertSecrets(t, s, want, empty)

	got, err := getSecret(t, s, want.ARN)
	if err != nil {
		t.Fatalf("SecretByARN: %v", err)
	}
	checkSecret(t, "bare secret", got, want)
	if got.Deleted() {
		t.Errorf("Deleted() = true for a secret with a zero DeletedDate")
	}
	if len(got.Tags) != 0 {
		t.Errorf("Tags: got %d tags, want none", len(got.Tags))
	}

	got, err = getSecret(t, s, empty.ARN)
	if err != nil {
		t.Fatalf("SecretByARN: %v", err)
	}
	checkSecret(t, "secret with empty tags", got, empty)
}

func testSecretNames(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	names := []string{
		"a",
		"prod/db_user+x=y.z@corp-1",
		"ünïcødé/秘密/🔑",
		`it's "quoted"; -- not SQL`,
		"trailing space ",
		"UPPER/lower",
		"upper/lower",
		strings.Repeat("n", 512),
	}
	var want []*coffer.Secret
	for i, name := range names {
		want = append(want, newSecret(ns, name, at(time.Duration(i)*time.Second)))
	}
	insertSecrets(t, s, want...)

	view(t, s, func(tx coffer.Tx) error {
		for _, w := range want {
			got, err := tx.SecretByName(ns, w.Name)
			if err != nil {
				t.Errorf("SecretByName(%q): %v", w.Name, err)
				continue
			}
			checkSecret(t, "SecretByName("+w.Name+")", got, w)
			got, err = tx.SecretByARN(w.ARN)
			if err != nil {
				t.Errorf("SecretByARN(%q): %v", w.ARN, err)
				continue
			}
			checkSecret(t, "SecretByARN("+w.ARN+")", got, w)
		}
		return nil
	})
}

func testSecretNotFound(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "present", at(0))
	insertSecrets(t, s, sec)

	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.SecretByName(ns, "absent")
		wantNotFound(t, "SecretByName(absent)", err)
		_, err = tx.SecretByName(ns, "PRESENT")
		wantNotFound(t, "SecretByName(PRESENT): names are case-sensitive", err)
		_, err = tx.SecretByName(namespace(accountB, regionA), "present")
		wantNotFound(t, "SecretByName in another account", err)
		_, err = tx.SecretByName(namespace(accountA, regionB), "present")
		wantNotFound(t, "SecretByName in another region", err)
		_, err = tx.SecretByARN(sec.ARN + "x")
		wantNotFound(t, "SecretByARN(unknown)", err)
		_, err = tx.SecretByARN("")
		wantNotFound(t, `SecretByARN("")`, err)
		return nil
	})
}

func testSecretDuplicate(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	orig := newSecret(ns, "dup", at(0))
	insertSecrets(t, s, orig)

	sameName := newSecret(ns, "dup", at(time.Second))
	sameName.ARN = coffer.SecretARN(ns, "dup", "zzzzzz")
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertSecret(sameName) })
	wantExists(t, "InsertSecret with a name in use", err)

	sameARN := newSecret(ns, "other-name", at(time.Second))
	sameARN.ARN = orig.ARN
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertSecret(sameARN) })
	wantExists(t, "InsertSecret with an ARN in use", err)

	// The original is untouched.
	got, err := getSecret(t, s, orig.ARN)
	if err != nil {
		t.Fatalf("SecretByARN: %v", err)
	}
	checkSecret(t, "original secret", got, orig)
}

func testSecretSameNameOtherNamespace(t *testing.T, s coffer.Store) {
	nss := []coffer.Namespace{
		namespace(accountA, regionA),
		namespace(accountA, regionB),
		namespace(accountB, regionA),
	}
	var want []*coffer.Secret
	for i, ns := range nss {
		sec := newSecret(ns, "shared/name", at(time.Duration(i)*time.Second))
		sec.Description = "in " + ns.String()
		want = append(want, sec)
	}
	insertSecrets(t, s, want...)

	view(t, s, func(tx coffer.Tx) error {
		for _, w := range want {
			got, err := tx.SecretByName(w.Namespace, w.Name)
			if err != nil {
				t.Errorf("SecretByName(%s, %q): %v", w.Namespace, w.Name, err)
				continue
			}
			checkSecret(t, "SecretByName in "+w.Namespace.String(), got, w)
		}
		return nil
	})
}

func testUpdateSecret(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	orig := newSecret(ns, "to-update", at(0))
	orig.Tags = []coffer.Tag{{Key: "k", Value: "v"}}
	insertSecrets(t, s, orig)

	// Every mutable field changes; the set times are cleared and the clear ones set.
	want := fullSecret(ns, "to-update")
	want.ARN = orig.ARN
	want.CreatedDate = orig.CreatedDate
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateSecret(want) })
	got, err := getSecret(t, s, orig.ARN)
	if err != nil {
		t.Fatalf("SecretByARN: %v", err)
	}
	checkSecret(t, "after first UpdateSecret", got, want)

	back := *orig
	back.Tags = nil
	update(t, s, func(tx coffer.Tx) error { return tx.UpdateSecret(&back) })
	got, err = getSecret(t, s, orig.ARN)
	if err != nil {
		t.Fatalf("SecretByARN: %v", err)
	}
	checkSecret(t, "after second UpdateSecret", got, &back)

	missing := newSecret(ns, "missing", at(0))
	err = s.Update(t.Context(), func(tx coffer.Tx) error { return tx.UpdateSecret(missing) })
	wantNotFound(t, "UpdateSecret of a missing ARN", err)
	if _, err := getSecret(t, s, missing.ARN); !coffer.IsNotFound(err) {
		t.Errorf("UpdateSecret of a missing ARN created it (SecretByARN: %v)", err)
	}
}

func testScheduledDeletionStillFound(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "scheduled", at(0))
	sec.DeletedDate = at(time.Hour)
	sec.PurgeDate = at(time.Hour + 7*24*time.Hour)
	insertSecrets(t, s, sec)

	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.SecretByName(ns, sec.Name)
		if err != nil {
			t.Fatalf("SecretByName of a secret scheduled for deletion: %v", err)
		}
		checkSecret(t, "scheduled secret", got, sec)
		if !got.Deleted() {
			t.Errorf("Deleted() = false, want true")
		}
		return nil
	})

	// Its name is still taken.
	other := newSecret(ns, sec.Name, at(time.Hour))
	other.ARN = coffer.SecretARN(ns, sec.Name, "Zz9Zz9")
	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.InsertSecret(other) })
	wantExists(t, "InsertSecret with the name of a secret scheduled for deletion", err)
}

func testDeleteSecret(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "doomed", at(0))
	keep := newSecret(ns, "kept", at(0))
	update(t, s, func(tx coffer.Tx) error {
		for _, x := range []*coffer.Secret{sec, keep} {
			if err := tx.InsertSecret(x); err != nil {
				return err
			}
			for i := 1; i <= 2; i++ {
				if err := tx.InsertVersion(newVersion(x.ARN, versionID(i), at(time.Duration(i)*time.Second), 32)); err != nil {
					return err
				}
			}
			if err := tx.SetStage(x.ARN, coffer.StageCurrent, versionID(2)); err != nil {
				return err
			}
			if err := tx.SetStage(x.ARN, coffer.StagePrevious, versionID(1)); err != nil {
				return err
			}
		}
		return nil
	})

	update(t, s, func(tx coffer.Tx) error { return tx.DeleteSecret(sec.ARN) })

	view(t, s, func(tx coffer.Tx) error {
		_, err := tx.SecretByARN(sec.ARN)
		wantNotFound(t, "SecretByARN after DeleteSecret", err)
		_, err = tx.SecretByName(ns, sec.Name)
		wantNotFound(t, "SecretByName after DeleteSecret", err)
		_, err = tx.Version(sec.ARN, versionID(1))
		wantNotFound(t, "Version after DeleteSecret", err)
		_, err = tx.Versions(sec.ARN)
		wantNotFound(t, "Versions after DeleteSecret", err)

		// The other secret keeps its versions and stages.
		vs, err := tx.Versions(keep.ARN)
		if err != nil {
			t.Fatalf("Versions(kept): %v", err)
		}
		if got, want := len(vs), 2; got != want {
			t.Fatalf("Versions(kept): got %d versions, want %d", got, want)
		}
		if !vs[1].HasStage(coffer.StageCurrent) || !vs[0].HasStage(coffer.StagePrevious) {
			t.Errorf("Versions(kept): stages %q and %q, want AWSPREVIOUS and AWSCURRENT", vs[0].Stages, vs[1].Stages)
		}
		return nil
	})

	err := s.Update(t.Context(), func(tx coffer.Tx) error { return tx.DeleteSecret(sec.ARN) })
	wantNotFound(t, "DeleteSecret twice", err)

	// The name and even the ARN are free again, and nothing of the old secret remains.
	again := newSecret(ns, sec.Name, at(time.Hour))
	insertSecrets(t, s, again)
	view(t, s, func(tx coffer.Tx) error {
		got, err := tx.SecretByName(ns, sec.Name)
		if err != nil {
			t.Fatalf("SecretByName of the re-created secret: %v", err)
		}
		checkSecret(t, "re-created secret", got, again)
		vs, err := tx.Versions(again.ARN)
		if err != nil {
			t.Fatalf("Versions of the re-created secret: %v", err)
		}
		if len(vs) != 0 {
			t.Errorf("Versions of the re-created secret: got %d versions, want none", len(vs))
		}
		return nil
	})
	update(t, s, func(tx coffer.Tx) error {
		// The labels of the purged secret are gone too: setting them again must work.
		if err := tx.InsertVersion(newVersion(again.ARN, versionID(3), at(time.Hour), 32)); err != nil {
			return err
		}
		return tx.SetStage(again.ARN, coffer.StageCurrent, versionID(3))
	})
}

func testSecretTypeAndRetention(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "typed", at(0))
	sec.Type = "aws-rds"
	sec.VersionRetention = 3
	plain := newSecret(ns, "plain", at(time.Second))
	insertSecrets(t, s, sec, plain)

	check := func(what string, want ...*coffer.Secret) {
		t.Helper()
		view(t, s, func(tx coffer.Tx) error {
			for _, w := range want {
				got, err := tx.SecretByARN(w.ARN)
				if err != nil {
					t.Fatalf("%s: SecretByARN(%s): %v", what, w.Name, err)
				}
				checkSecret(t, what+": SecretByARN("+w.Name+")", got, w)
				got, err = tx.SecretByName(ns, w.Name)
				if err != nil {
					t.Fatalf("%s: SecretByName(%s): %v", what, w.Name, err)
				}
				checkSecret(t, what+": SecretByName("+w.Name+")", got, w)
			}
			listed, err := tx.ListSecrets(ns, coffer.ListQuery{})
			if err != nil {
				t.Fatalf("%s: ListSecrets: %v", what, err)
			}
			for _, got := range listed {
				for _, w := range want {
					if got.ARN == w.ARN {
						checkSecret(t, what+": ListSecrets("+w.Name+")", got, w)
					}
				}
			}
			return nil
		})
	}
	check("inserted", sec, plain)

	sec.Type, sec.VersionRetention = "", 0
	plain.Type, plain.VersionRetention = "other type", 100
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.UpdateSecret(sec); err != nil {
			return err
		}
		return tx.UpdateSecret(plain)
	})
	check("updated", sec, plain)
}

func testSecretTagsNilVersusEmpty(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	never := newSecret(ns, "never-tagged", at(0))
	removed := newSecret(ns, "all-removed", at(time.Second))
	removed.Tags = []coffer.Tag{}
	tagged := newSecret(ns, "tagged", at(2*time.Second))
	tagged.Tags = []coffer.Tag{{Key: "k", Value: ""}}
	insertSecrets(t, s, never, removed, tagged)

	check := func(what string, want ...*coffer.Secret) {
		t.Helper()
		for _, w := range want {
			got, err := getSecret(t, s, w.ARN)
			if err != nil {
				t.Fatalf("%s: SecretByARN(%s): %v", what, w.Name, err)
			}
			checkSecret(t, what+": "+w.Name, got, w)
		}
		view(t, s, func(tx coffer.Tx) error {
			listed, err := tx.ListSecrets(ns, coffer.ListQuery{})
			if err != nil {
				t.Fatalf("%s: ListSecrets: %v", what, err)
			}
			if len(listed) != len(want) {
				t.Fatalf("%s: ListSecrets: got %d secrets, want %d", what, len(listed), len(want))
			}
			for i := range want {
				checkSecret(t, what+": ListSecrets", listed[i], want[i])
			}
			return nil
		})
	}
	check("inserted", never, removed, tagged)

	// Every transition: set to empty, back to never set, and tags removed.
	never.Tags = []coffer.Tag{}
	removed.Tags = nil
	tagged.Tags = []coffer.Tag{}
	update(t, s, func(tx coffer.Tx) error {
		for _, sec := range []*coffer.Secret{never, removed, tagged} {
			if err := tx.UpdateSecret(sec); err != nil {
				return err
			}
		}
		return nil
	})
	check("updated", never, removed, tagged)
}

// testMarkAccessed: MarkAccessed raises the access dates of the secret and the version it
// names, never lowers them, leaves a destroyed version and every other field alone.
func testMarkAccessed(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "accessed", at(0))
	insertSecrets(t, s, sec)
	v1, v2 := newVersion(sec.ARN, "v1", at(time.Second), 1), newVersion(sec.ARN, "v2", at(2*time.Second), 2)
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.InsertVersion(v1); err != nil {
			return err
		}
		if err := tx.InsertVersion(v2); err != nil {
			return err
		}
		return tx.DestroyVersion(sec.ARN, "v2", at(3*time.Second))
	})
	day1, day0 := at(24*time.Hour), at(0)
	mark := func(version string, day time.Time) error {
		var err error
		update(t, s, func(tx coffer.Tx) error {
			err = tx.MarkAccessed(sec.ARN, version, day)
			return nil
		})
		return err
	}
	dates := func() (secret, ver1, ver2 time.Time) {
		view(t, s, func(tx coffer.Tx) error {
			got, err := tx.SecretByARN(sec.ARN)
			if err != nil {
				return err
			}
			if got.Description != sec.Description || !got.CreatedDate.Equal(sec.CreatedDate) {
				t.Errorf("MarkAccessed changed other fields: %+v", got)
			}
			vs, err := tx.Versions(sec.ARN)
			if err != nil {
				return err
			}
			secret, ver1, ver2 = got.LastAccessedDate, vs[0].LastAccessedDate, vs[1].LastAccessedDate
			return nil
		})
		return
	}
	if err := mark("v1", day1); err != nil {
		t.Fatalf("MarkAccessed: %v", err)
	}
	if s, v1d, _ := dates(); !s.Equal(day1) || !v1d.Equal(day1) {
		t.Errorf("after MarkAccessed(day1): secret %v, version %v; want both %v", s, v1d, day1)
	}
	if err := mark("v1", day0); err != nil {
		t.Fatalf("MarkAccessed earlier: %v", err)
	}
	if s, v1d, _ := dates(); !s.Equal(day1) || !v1d.Equal(day1) {
		t.Errorf("an earlier day lowered the dates: secret %v, version %v", s, v1d)
	}
	day2 := at(48 * time.Hour)
	if err := mark("v2", day2); err != nil {
		t.Fatalf("MarkAccessed of a destroyed version: %v", err)
	}
	if s, _, v2d := dates(); !s.Equal(day2) || !v2d.IsZero() {
		t.Errorf("a destroyed version's read: secret %v (want %v), destroyed version %v (want none)", s, day2, v2d)
	}
	if err := mark("missing", at(72*time.Hour)); err != nil {
		t.Errorf("MarkAccessed of a missing version: %v", err)
	}
	update(t, s, func(tx coffer.Tx) error {
		if err := tx.MarkAccessed(sec.ARN+"x", "v1", day1); !coffer.IsNotFound(err) {
			t.Errorf("MarkAccessed of a missing secret: %v, want NotFound", err)
		}
		return nil
	})
}

// testVersionHeaders: VersionHeaders is Versions without the blobs.
func testVersionHeaders(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	sec := newSecret(ns, "headers", at(0))
	insertSecrets(t, s, sec)
	update(t, s, func(tx coffer.Tx) error {
		for i, id := range []string{"v1", "v2", "v3"} {
			if err := tx.InsertVersion(newVersion(sec.ARN, id, at(time.Duration(i+1)*time.Second), i+1)); err != nil {
				return err
			}
		}
		if err := tx.SetStage(sec.ARN, coffer.StageCurrent, "v3"); err != nil {
			return err
		}
		if err := tx.SetStage(sec.ARN, coffer.StagePrevious, "v2"); err != nil {
			return err
		}
		// Several labels on one version: VersionHeaders must keep them on one version.
		// AAA-first comes before AWSCURRENT, which a store that reads the current version
		// with the headers meets on a later row than the label before it.
		for _, st := range []string{"zz-custom", coffer.StagePending, "Alpha", "AAA-first"} {
			if err := tx.SetStage(sec.ARN, st, "v3"); err != nil {
				return err
			}
		}
		return tx.DestroyVersion(sec.ARN, "v1", at(time.Hour))
	})
	empty := newSecret(ns, "headers-none", at(0))
	insertSecrets(t, s, empty)
	// The same answers whether or not the caller asked for the AWSCURRENT value with the
	// headers (coffer.ReadCurrent).
	for _, current := range []bool{true, false} { // first, before a cache holds the headers
		viewHeaders(t, s, current, sec, empty)
	}
}

func viewHeaders(t *testing.T, s coffer.Store, current bool, sec, empty *coffer.Secret) {
	t.Helper()
	view(t, s, func(tx coffer.Tx) error {
		if current {
			coffer.ReadCurrent(tx)
		}
		full, err := tx.Versions(sec.ARN)
		if err != nil {
			return err
		}
		heads, err := tx.VersionHeaders(sec.ARN)
		if err != nil {
			return err
		}
		if len(heads) != len(full) {
			t.Fatalf("VersionHeaders: %d versions, Versions: %d", len(heads), len(full))
		}
		for i, h := range heads {
			f := *full[i]
			if len(h.WrappedKey) != 0 || len(h.Ciphertext) != 0 {
				t.Errorf("VersionHeaders %s carries blobs", h.VersionID)
			}
			f.WrappedKey, f.Ciphertext = h.WrappedKey, h.Ciphertext
			checkVersion(t, "VersionHeaders", h, &f)
		}
		if len(heads) != 3 || !slices.Equal(heads[2].Stages, []string{"AAA-first", coffer.StageCurrent, coffer.StagePending, "Alpha", "zz-custom"}) {
			t.Errorf("VersionHeaders: %d versions, the last with labels %v; want 3, the last with 5 in byte order", len(heads), heads[len(heads)-1].Stages)
		}
		// Version reads each of them whole, its labels with it, each time as the first,
		// whatever the caller did to what an earlier call gave.
		for range 2 {
			for _, f := range full {
				v, err := tx.Version(sec.ARN, f.VersionID)
				if err != nil {
					return err
				}
				checkVersion(t, "Version", v, f)
				v.Stages = append(v.Stages[:0], "changed")
				v.KMSKeyID, v.CreatedDate = "changed", at(time.Hour)
			}
		}
		if _, err := tx.VersionHeaders(sec.ARN + "x"); !coffer.IsNotFound(err) {
			t.Errorf("VersionHeaders of a missing secret: %v, want NotFound", err)
		}
		if vs, err := tx.VersionHeaders(empty.ARN); err != nil || len(vs) != 0 {
			t.Errorf("VersionHeaders of a secret without versions: %v, %v; want none", vs, err)
		}
		return nil
	})
}

// testHeadersAfterLookup: in one View, VersionHeaders after a lookup of the secret by name or
// ARN (which a store may answer from the lookup's own round trip) gives what it gives alone:
// for that secret and no other, every time, whatever the caller did to an earlier answer,
// and after a lookup that found nothing.
func testHeadersAfterLookup(t *testing.T, s coffer.Store) {
	ns := namespace(accountA, regionA)
	a, b, none := newSecret(ns, "lookup-a", at(0)), newSecret(ns, "lookup-b", at(0)), newSecret(ns, "lookup-none", at(0))
	insertSecrets(t, s, a, b, none)
	update(t, s, func(tx coffer.Tx) error {
		for i, sec := range []*coffer.Secret{a, a, b} {
			if err := tx.InsertVersion(newVersion(sec.ARN, versionID(i), at(time.Duration(i)*time.Second), 4)); err != nil {
				return err
			}
		}
		if err := tx.SetStage(a.ARN, coffer.StageCurrent, versionID(1)); err != nil {
			return err
		}
		return tx.SetStage(b.ARN, coffer.StageCurrent, versionID(2))
	})
	stages := func(vs []*coffer.Version) string {
		var out []string
		for _, v := range vs {
			out = append(out, v.VersionID+":"+strings.Join(v.Stages, ","))
		}
		return strings.Join(out, " ")
	}
	var wantA, wantB string
	view(t, s, func(tx coffer.Tx) error {
		va, err := tx.VersionHeaders(a.ARN)
		if err != nil {
			return err
		}
		vb, err := tx.VersionHeaders(b.ARN)
		wantA, wantB = stages(va), stages(vb)
		return err
	})
	check := func(errorf func(string, ...any), what string, tx coffer.Tx, arn, want string) []*coffer.Version {
		vs, err := tx.VersionHeaders(arn)
		if err != nil || stages(vs) != want {
			errorf("%s: VersionHeaders %q, %v; want %q", what, stages(vs), err, want)
		}
		return vs
	}
	// With and without coffer.ReadCurrent and coffer.EndWithLookup (which a store may answer
	// by running fn again: these read more than one lookup).
	for _, current := range []bool{true, false} {
		viewReporting(t, s, func(tx coffer.Tx, errorf func(string, ...any)) error {
			if current {
				coffer.ReadCurrent(tx)
				coffer.EndWithLookup(tx)
			}
			return headersAfterLookups(errorf, tx, ns, a, b, none, wantA, wantB, check)
		})
	}
	// Version after a lookup (which a store may answer for the version labelled AWSCURRENT
	// from the lookup's round trip): whole, every time, and for that secret only.
	var curA, curB *coffer.Version
	view(t, s, func(tx coffer.Tx) error {
		var err error
		if curA, err = tx.Version(a.ARN, versionID(1)); err != nil {
			return err
		}
		curB, err = tx.Version(b.ARN, versionID(2))
		return err
	})
	version := func(errorf func(string, ...any), what string, tx coffer.Tx, arn, id string, want *coffer.Version) {
		v, err := tx.Version(arn, id)
		if want == nil {
			if !coffer.IsNotFound(err) {
				if v != nil {
					errorf("%s: Version gave %s of %s; want NotFound", what, v.VersionID, v.SecretARN)
				} else {
					errorf("%s: Version: %v; want NotFound", what, err)
				}
			}
			return
		}
		if err != nil {
			errorf("%s: Version: %v", what, err)
			return
		}
		for _, d := range diffVersion(v, want) {
			errorf("%s: %s", what, d)
		}
		v.Stages = append(v.Stages[:0:0], "changed") // a caller may change what it was given
		v.KMSKeyID, v.CreatedDate = "changed", at(time.Hour)
	}
	for _, current := range []bool{true, false} { // with and without, as above
		viewReporting(t, s, func(tx coffer.Tx, errorf func(string, ...any)) error {
			if current {
				coffer.ReadCurrent(tx)
				coffer.EndWithLookup(tx)
			}
			return versionsAfterLookups(errorf, tx, ns, a, b, curA, curB, version)
		})
	}
	// In an Update, the headers after a lookup show what the transaction wrote since: a
	// label moved, a version added, a version deleted (a store that keeps headers read with
	// the lookup must not hand them out after a write).
	steps := []struct {
		what  string
		write func(tx coffer.Tx) error
		want  string
	}{
		{"a label moved", func(tx coffer.Tx) error { return tx.SetStage(a.ARN, coffer.StageCurrent, versionID(0)) },
			versionID(0) + ":" + coffer.StageCurrent + " " + versionID(1) + ":"},
		{"a version added", func(tx coffer.Tx) error {
			return tx.InsertVersion(newVersion(a.ARN, versionID(3), at(3*time.Second), 4))
		}, versionID(0) + ":" + coffer.StageCurrent + " " + versionID(1) + ": " + versionID(3) + ":"},
		{"a version deleted", func(tx coffer.Tx) error { return tx.DeleteVersion(a.ARN, versionID(1)) },
			versionID(0) + ":" + coffer.StageCurrent + " " + versionID(3) + ":"},
	}
	update(t, s, func(tx coffer.Tx) error {
		for _, step := range steps {
			if _, err := tx.SecretByName(ns, a.Name); err != nil {
				return err
			}
			if err := step.write(tx); err != nil {
				return err
			}
			check(t.Errorf, "in an Update, a lookup, then "+step.what, tx, a.ARN, step.want)
		}
		if _, err := tx.SecretByARN(b.ARN); err != nil {
			return err
		}
		check(t.Errorf, "in an Update, a lookup and no write", tx, b.ARN, wantB)
		return nil
	})
}

// versionsAfterLookups is the part of testHeadersAfterLookup that reads versions after
// lookups, in one View.
func versionsAfterLookups(errorf func(string, ...any), tx coffer.Tx, ns coffer.Namespace, a, b *coffer.Secret, curA, curB *coffer.Version,
	version func(errorf func(string, ...any), what string, tx coffer.Tx, arn, id string, want *coffer.Version)) error {
	if _, err := tx.SecretByName(ns, a.Name); err != nil {
		return err
	}
	version(errorf, "after SecretByName of a, its current version", tx, a.ARN, versionID(1), curA)
	version(errorf, "again", tx, a.ARN, versionID(1), curA)
	if _, err := tx.SecretByARN(b.ARN); err != nil {
		return err
	}
	version(errorf, "after SecretByARN of b, b's current version under a's ARN", tx, a.ARN, versionID(2), nil)
	version(errorf, "then a's", tx, a.ARN, versionID(1), curA)
	version(errorf, "then b's", tx, b.ARN, versionID(2), curB)
	return nil
}

// headersAfterLookups is the part of testHeadersAfterLookup that reads headers after lookups,
// in one View.
func headersAfterLookups(errorf func(string, ...any), tx coffer.Tx, ns coffer.Namespace, a, b, none *coffer.Secret, wantA, wantB string,
	check func(errorf func(string, ...any), what string, tx coffer.Tx, arn, want string) []*coffer.Version) error {
	if _, err := tx.SecretByName(ns, a.Name); err != nil {
		return err
	}
	vs := check(errorf, "after SecretByName of a", tx, a.ARN, wantA)
	for _, v := range vs { // a caller may change what it was given
		v.Stages = append(v.Stages[:0:0], "changed")
	}
	check(errorf, "again", tx, a.ARN, wantA)
	if _, err := tx.SecretByARN(b.ARN); err != nil {
		return err
	}
	check(errorf, "after SecretByARN of b, the headers of a", tx, a.ARN, wantA)
	check(errorf, "then of b", tx, b.ARN, wantB)
	if _, err := tx.SecretByName(ns, a.Name); err != nil {
		return err
	}
	if _, err := tx.SecretByName(ns, "lookup-missing"); !coffer.IsNotFound(err) {
		errorf("SecretByName of a missing secret: %v, want NotFound", err)
	}
	check(errorf, "after a lookup that found nothing, a", tx, a.ARN, wantA)
	if _, err := tx.SecretByName(ns, none.Name); err != nil {
		return err
	}
	if vs, err := tx.VersionHeaders(none.ARN); err != nil || len(vs) != 0 {
		errorf("VersionHeaders after SecretByName of a secret without versions: %v, %v; want none", vs, err)
	}
	return nil
}
