package rotation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"time"
)

// The rotators a server offers come from its configuration file (coffer server
// --rotation-config FILE), never from the API:
//
//	{"rotators": [
//	  {"name": "postgres-alternating-users", "type": "postgres-alternating-users",
//	   "role": "coffer-rotation", "allowedHosts": ["db.internal:5432"], "requireTLS": true},
//	  {"name": "billing-hook", "type": "webhook", "role": "coffer-rotation",
//	   "url": "https://rotator.internal/rotate", "signingKeyFile": "/etc/coffer/hook.key"},
//	  {"name": "ldap", "type": "command", "role": "coffer-rotation",
//	   "path": "/usr/local/bin/rotate-ldap", "args": [], "env": ["HOME=/var/lib/rotator"]}
//	]}
//
// A secret names a rotator by its RotationLambdaARN,
// arn:aws:lambda:<region>:<account>:function:<name>.

// DefaultRole is the role a rotator acts as when its configuration names none.
const DefaultRole = "coffer-rotation"

// FileConfig is the configuration file's shape.
type FileConfig struct {
	Rotators []RotatorConfig `json:"rotators"`
}

// RotatorConfig configures one rotator.
type RotatorConfig struct {
	Name           string   `json:"name"`
	Type           string   `json:"type"` // random-value, postgres-single-user, postgres-alternating-users, mysql-single-user, mysql-alternating-users, webhook, command
	Role           string   `json:"role"`
	AllowedHosts   []string `json:"allowedHosts"`
	RequireTLS     bool     `json:"requireTLS"`
	ConnectTimeout string   `json:"connectTimeout"`
	URL            string   `json:"url"`
	SigningKeyFile string   `json:"signingKeyFile"`
	Path           string   `json:"path"`
	Args           []string `json:"args"`
	Env            []string `json:"env"`
	PasswordLength int64    `json:"passwordLength"`
}

var functionName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Defaults are the rotators of a server without a configuration file: random-value only
// (the database rotators need an allowlist of hosts, which only the operator can give).
func Defaults() map[string]Config {
	return map[string]Config{"random-value": {Rotator: RandomValue{}, Role: DefaultRole}}
}

// LoadConfig reads a configuration file; its rotators come on top of Defaults (a rotator of
// the same name replaces the default).
func LoadConfig(path string) (map[string]Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(bytes.NewReader(b))
}

// ParseConfig parses a configuration file's content.
func ParseConfig(r io.Reader) (map[string]Config, error) {
	var fc FileConfig
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return nil, fmt.Errorf("rotation config: %w", err)
	}
	out := Defaults()
	for i, rc := range fc.Rotators {
		if !functionName.MatchString(rc.Name) {
			return nil, fmt.Errorf("rotation config: rotator %d: name %q must be 1 to 64 of [a-zA-Z0-9_-], as a Lambda function's", i+1, rc.Name)
		}
		role := rc.Role
		if role == "" {
			role = DefaultRole
		}
		rot, err := build(rc)
		if err != nil {
			return nil, fmt.Errorf("rotation config: rotator %s: %w", rc.Name, err)
		}
		out[rc.Name] = Config{Rotator: rot, Role: role}
	}
	return out, nil
}

func build(rc RotatorConfig) (Rotator, error) {
	db := DBOptions{AllowedHosts: rc.AllowedHosts, RequireTLS: rc.RequireTLS}
	if rc.ConnectTimeout != "" {
		d, err := time.ParseDuration(rc.ConnectTimeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("connectTimeout %q is not a duration", rc.ConnectTimeout)
		}
		db.ConnectTimeout = d
	}
	dbType := func() error {
		if len(rc.AllowedHosts) == 0 {
			return fmt.Errorf("a %s rotator needs allowedHosts: the databases it may connect to", rc.Type)
		}
		return nil
	}
	switch rc.Type {
	case "random-value":
		return RandomValue{Length: rc.PasswordLength}, nil
	case "postgres-single-user", "postgres-alternating-users":
		if err := dbType(); err != nil {
			return nil, err
		}
		return NewPostgres(rc.Type == "postgres-alternating-users", db), nil
	case "mysql-single-user", "mysql-alternating-users":
		if err := dbType(); err != nil {
			return nil, err
		}
		return NewMySQL(rc.Type == "mysql-alternating-users", db), nil
	case "webhook":
		if rc.SigningKeyFile == "" {
			return nil, fmt.Errorf("a webhook rotator needs signingKeyFile")
		}
		key, err := os.ReadFile(rc.SigningKeyFile)
		if err != nil {
			return nil, err
		}
		return NewWebhook(rc.URL, bytes.TrimSpace(key))
	case "command":
		if rc.Path == "" {
			return nil, fmt.Errorf("a command rotator needs path")
		}
		return &Command{Path: rc.Path, Args: rc.Args, Env: rc.Env}, nil
	}
	return nil, fmt.Errorf("unknown type %q (random-value, postgres-single-user, postgres-alternating-users, mysql-single-user, mysql-alternating-users, webhook, command)", rc.Type)
}
