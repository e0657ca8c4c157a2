package sqlite

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/coffer-project/coffer"
)

// writeCache keeps, for the writer connection, the rows and version headers (stages
// included, key and ciphertext not) of the secrets recent Updates read or wrote, as their
// commits left them. A put reads both on the writer's turn (the secret by name, then its
// versions' headers to find the labels to move and the versions to prune); from here it reads
// neither, and the writer's turn, which every write waits for, is two statements shorter.
//
// It is correct for the same reason as readCache (this process is the database's only
// writer) and because it is kept in layers that follow the transaction:
//
//   - each Update (a savepoint of the open batch, see Store.Update) has an overlay of the
//     secrets it read or wrote; an Update that fails is rolled back to its savepoint, and its
//     overlay is dropped with it;
//   - an Update that succeeds merges its overlay into its batch's;
//   - the batch's overlay replaces the committed entries once its commit succeeded, and is
//     dropped (with the committed entries of every secret in it) when the commit failed.
//
// A write that an Update knows how to apply (the secret's row, a new version, a label set or
// removed, a version deleted) changes the overlay's copy; any other write to a secret marks
// it unknown, so that the next read goes to the database. The writer's turn (groupCommit.turn)
// guards all of it.
type writeCache struct {
	max    int
	byARN  map[string]*wentry
	byName map[nameKey]string
	// check, for tests, compares every read served from here with the database's answer and
	// panics on a difference.
	check bool
	hits  int // reads served from here
}

// wentry is what a layer knows of one secret. gone, in an overlay, means the secret was
// written in a way the cache does not follow: nothing below may be used.
type wentry struct {
	gone    bool
	secret  *coffer.Secret    // nil: the row is not known
	headers []*coffer.Version // every version's header, when full
	full    bool
}

func newWriteCache(max int) *writeCache {
	return &writeCache{max: max, byARN: map[string]*wentry{}, byName: map[nameKey]string{}}
}

// clone returns a copy of e, a usable entry, for one Update to change. Its slice of headers
// is its own; the secret and the headers themselves are e's, shared: no layer changes them
// in place (a write replaces the secret, setStage and removeStage copy a header before they
// change its stages, and reads hand out copies), so a put does not copy every version's
// header of its secret.
func (e *wentry) clone() *wentry {
	return &wentry{full: e.full, secret: e.secret, headers: slices.Clone(e.headers)}
}

// wlayers is an Update's view of the cache: its own overlay, its batch's, the committed one.
type wlayers struct {
	c     *writeCache
	batch map[string]*wentry
	own   map[string]*wentry
}

// lookup returns the topmost layer's entry for arn, or nil when none is usable. Callers
// must not change it.
func (w *wlayers) lookup(arn string) *wentry {
	if e, ok := w.own[arn]; ok {
		return usable(e)
	}
	return w.lookupBelow(arn)
}

func usable(e *wentry) *wentry {
	if e.gone {
		return nil
	}
	return e
}

// byName returns the ARN of the secret named name in ns, when a layer knows it.
func (w *wlayers) byName(ns coffer.Namespace, name string) (string, bool) {
	for _, layer := range []map[string]*wentry{w.own, w.batch} {
		for arn, e := range layer {
			if e.secret != nil && e.secret.Name == name && e.secret.Namespace == ns {
				return arn, true
			}
		}
	}
	arn, ok := w.c.byName[nameKey{ns, name}]
	return arn, ok
}

// mutable returns the Update's own copy of arn's entry, made from the layers below it (or
// empty when they know nothing of it).
func (w *wlayers) mutable(arn string) *wentry {
	own, ok := w.own[arn]
	if ok && !own.gone {
		return own
	}
	e := &wentry{} // a gone entry starts afresh
	if below := w.lookupBelow(arn); !ok && below != nil {
		e = below.clone()
	}
	if w.own == nil {
		w.own = map[string]*wentry{}
	}
	w.own[arn] = e
	return e
}

func (w *wlayers) lookupBelow(arn string) *wentry {
	if e, ok := w.batch[arn]; ok {
		return usable(e)
	}
	return w.c.byARN[arn]
}

// forget marks arn unknown from this Update on.
func (w *wlayers) forget(arn string) {
	if w.own == nil {
		w.own = map[string]*wentry{}
	}
	w.own[arn] = &wentry{gone: true}
}

// mergeLayer adds an Update's overlay to its batch's (dst), when the Update succeeded.
func mergeLayer(dst map[string]*wentry, src map[string]*wentry) map[string]*wentry {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]*wentry, len(src))
	}
	for arn, e := range src {
		dst[arn] = e
	}
	return dst
}

// commit replaces the committed entries with a committed batch's overlay.
func (c *writeCache) commit(layer map[string]*wentry) {
	for arn, e := range layer {
		c.remove(arn)
		if e.gone || (e.secret == nil && !e.full) {
			continue
		}
		if len(c.byARN) >= c.max {
			for victim := range c.byARN { // at random (Go's map order)
				c.remove(victim)
				break
			}
		}
		c.byARN[arn] = e
		if e.secret != nil {
			c.byName[nameKey{e.secret.Namespace, e.secret.Name}] = arn
		}
	}
}

// drop removes the committed entries of every secret in a batch whose commit failed. Every
// secret the batch wrote is in its overlay: a write either applies itself there or forgets.
func (c *writeCache) drop(layer map[string]*wentry) {
	for arn := range layer {
		c.remove(arn)
	}
}

func (c *writeCache) remove(arn string) {
	if e := c.byARN[arn]; e != nil && e.secret != nil {
		k := nameKey{e.secret.Namespace, e.secret.Name}
		if c.byName[k] == arn {
			delete(c.byName, k)
		}
	}
	delete(c.byARN, arn)
}

// normSecret returns a copy of s as the database gives it back: times in whole
// milliseconds, in UTC.
func normSecret(s *coffer.Secret) *coffer.Secret {
	c := copySecret(s)
	for _, t := range []*time.Time{&c.CreatedDate, &c.LastChangedDate, &c.LastAccessedDate,
		&c.LastRotatedDate, &c.NextRotationDate, &c.DeletedDate, &c.PurgeDate} {
		*t = fromMillis(millis(*t))
	}
	return c
}

// header returns the header VersionHeaders reads for v, without stages.
func header(v *coffer.Version) *coffer.Version {
	return &coffer.Version{SecretARN: v.SecretARN, VersionID: v.VersionID,
		CreatedDate: fromMillis(millis(v.CreatedDate)), LastAccessedDate: fromMillis(millis(v.LastAccessedDate)),
		KMSKeyID: v.KMSKeyID, Binary: v.Binary, WrappedKey: []byte{}, Ciphertext: []byte{},
		DestroyedDate: fromMillis(millis(v.DestroyedDate))}
}

// setStage moves stage onto versionID in e's headers; false when the version is not there.
func (e *wentry) setStage(stage, versionID string) bool {
	at := slices.IndexFunc(e.headers, func(v *coffer.Version) bool { return v.VersionID == versionID })
	if at < 0 {
		return false
	}
	e.removeStage(stage)
	v := withStages(e.headers[at])
	v.Stages = append(v.Stages, stage)
	slices.Sort(v.Stages)
	e.headers[at] = v
	return true
}

func (e *wentry) removeStage(stage string) {
	for at, v := range e.headers {
		if i := slices.Index(v.Stages, stage); i >= 0 {
			v = withStages(v)
			v.Stages = slices.Delete(v.Stages, i, i+1)
			if len(v.Stages) == 0 {
				v.Stages = nil
			}
			e.headers[at] = v
		}
	}
}

// withStages returns a copy of header v whose stages the caller may change: v may be shared
// with the layers below (clone).
func withStages(v *coffer.Version) *coffer.Version {
	c := *v
	c.Stages = slices.Clone(v.Stages)
	return &c
}

// checkSame panics when a value served from the write cache differs from the database's
// (tests only: see writeCache.check). Rows and headers hold no secret value.
func checkSame(what string, cached, stored any) {
	if !reflect.DeepEqual(cached, stored) {
		panic(fmt.Sprintf("sqlite: write cache: %s differs from the database:\ncached: %s\nstored: %s", what, dump(cached), dump(stored)))
	}
}

func dump(x any) string {
	switch x := x.(type) {
	case *coffer.Secret:
		return fmt.Sprintf("%+v", *x)
	case []*coffer.Version:
		s := "["
		for _, v := range x {
			s += fmt.Sprintf("%+v ", *v)
		}
		return s + "]"
	}
	return fmt.Sprintf("%+v", x)
}
