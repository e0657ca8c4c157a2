package seal

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
)

func testConfigs(t *testing.T) map[string]*Config {
	t.Helper()
	root, _ := newRoot(t)
	sh, _, err := InitShamir(root, 5, 3)
	if err != nil {
		t.Fatal(err)
	}
	pp, err := InitPassphrase(root, []byte("pass"), testArgon2)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Config{"shamir": sh, "passphrase": pp, "keyfile": KeyFileConfig()}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestConfigRoundTrip(t *testing.T) {
	for name, cfg := range testConfigs(t) {
		dir := t.TempDir()
		path := filepath.Join(dir, ConfigFile)
		if err := WriteConfig(path, cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: written with mode %v, want 0600", name, st.Mode().Perm())
		}
		got, err := ReadConfig(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, cfg) {
			t.Errorf("%s: read %+v, wrote %+v", name, got, cfg)
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{ConfigFile}) {
			t.Errorf("%s: directory holds %v, want only %s", name, names, ConfigFile)
		}
	}
}

func TestConfigJSONFields(t *testing.T) {
	cfgs := testConfigs(t)
	for name, want := range map[string][]string{
		"shamir":     {"shares", "threshold", "verifier", "verifier_salt"},
		"passphrase": {"kdf", "memory_kib", "salt", "threads", "time", "wrapped_key"},
	} {
		b, err := json.Marshal(cfgs[name])
		if err != nil {
			t.Fatal(err)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(b, &top); err != nil {
			t.Fatal(err)
		}
		if got, want := slices.Sorted(maps.Keys(top)), []string{name, "type", "version"}; !slices.Equal(got, want) {
			t.Errorf("%s config has fields %v, want %v", name, got, want)
		}
		var sec map[string]any
		if err := json.Unmarshal(top[name], &sec); err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(sec)); !slices.Equal(got, want) {
			t.Errorf("%s section has fields %v, want %v", name, got, want)
		}
	}
	b, _ := json.Marshal(cfgs["keyfile"])
	if got, want := string(b), `{"version":1,"type":"keyfile"}`; got != want {
		t.Errorf("keyfile config = %s, want %s", got, want)
	}
}

func TestWriteConfigReplacesAtomically(t *testing.T) {
	cfgs := testConfigs(t)
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, ConfigFile)
	if err := WriteConfig(path, cfgs["shamir"]); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("created directory with mode %v, want 0700", st.Mode().Perm())
	}
	// Replace a file someone loosened: the new one is 0600 and alone.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteConfig(path, cfgs["passphrase"]); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cfgs["passphrase"]) {
		t.Error("replaced configuration does not read back")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{ConfigFile}) {
		t.Errorf("directory holds %v, want only %s", names, ConfigFile)
	}
	// An invalid configuration is refused before anything is written.
	bad := *cfgs["shamir"]
	bad.Type = "nonsense"
	if err := WriteConfig(path, &bad); err == nil {
		t.Error("invalid configuration written")
	}
	if err := WriteConfig(filepath.Join(dir, "other.json"), nil); err == nil {
		t.Error("nil configuration written")
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{ConfigFile}) {
		t.Errorf("after refused writes the directory holds %v", names)
	}
}

func TestReadConfigRefusesLooseMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), ConfigFile)
	if err := WriteConfig(path, KeyFileConfig()); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o666, 0o601} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadConfig(path); err == nil {
			t.Errorf("mode %v accepted", mode)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadConfig(path); err != nil {
			t.Errorf("mode %v refused: %v", mode, err)
		}
	}
}

func TestReadConfigRefusesMalformed(t *testing.T) {
	good, err := json.Marshal(testConfigs(t)["shamir"])
	if err != nil {
		t.Fatal(err)
	}
	var shamir map[string]any
	if err := json.Unmarshal(good, &shamir); err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) string {
		b, _ := json.Marshal(shamir)
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m)
		b, _ = json.Marshal(m)
		return string(b)
	}
	section := func(m map[string]any) map[string]any { return m["shamir"].(map[string]any) }
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":           "seal",
		"empty":              "",
		"trailing data":      string(good) + "{}",
		"unknown field":      edit(func(m map[string]any) { m["root_key"] = "x" }),
		"version 2":          edit(func(m map[string]any) { m["version"] = 2 }),
		"unknown type":       edit(func(m map[string]any) { m["type"] = "tpm" }),
		"type mismatch":      edit(func(m map[string]any) { m["type"] = "passphrase" }),
		"two sections":       edit(func(m map[string]any) { m["passphrase"] = map[string]any{} }),
		"threshold > shares": edit(func(m map[string]any) { section(m)["threshold"] = 6 }),
		"threshold 1":        edit(func(m map[string]any) { section(m)["threshold"] = 1 }),
		"no verifier":        edit(func(m map[string]any) { delete(section(m), "verifier") }),
		"short salt":         edit(func(m map[string]any) { section(m)["verifier_salt"] = "AAAA" }),
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if cfg, err := ReadConfig(path); err == nil {
			t.Errorf("%s: accepted as %+v", name, cfg)
		}
	}
	if _, err := ReadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing file accepted")
	}
	if _, err := ReadConfig(dir); err == nil {
		t.Error("directory accepted")
	}
}
