package agent

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// File is the configuration file of the AWS agent, as far as coffer reads it. A field
// that the file does not set is nil.
type File struct {
	LogLevel              *string
	HTTPPort              *int
	TTLSeconds            *int
	CacheSize             *int
	MaxConn               *int
	PathPrefix            *string
	Region                *string
	TokenHeaders          []string // ssrf_headers
	TokenEnv              []string // ssrf_env_variables
	IgnoreTransientErrors *bool
}

// ParseFile reads the AWS agent's TOML configuration file: one "key = value" per line, a
// value being a "string", an integer, true or false, or an array of strings on one line;
// # starts a comment. The keys are the AWS agent's: log_level, http_port, ttl_seconds,
// cache_size, max_conn, path_prefix, region, ssrf_headers, ssrf_env_variables and
// ignore_transient_errors; log_to_file, http_address and validate_credentials are accepted
// and have no effect. Any other key, a table, or a value of the wrong kind is an error, as
// the AWS agent refuses a misspelled key. The numbers may be written as strings too, as
// the AWS agent allows.
func ParseFile(data []byte) (File, error) {
	var f File
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(stripComment(sc.Text()))
		if line == "" {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		key, raw = strings.TrimSpace(key), strings.TrimSpace(raw)
		if !ok || key == "" || raw == "" {
			return File{}, fmt.Errorf("line %d: want key = value", n)
		}
		if seen[key] {
			return File{}, fmt.Errorf("line %d: %s is set twice", n, key)
		}
		seen[key] = true
		if err := f.set(key, raw); err != nil {
			return File{}, fmt.Errorf("line %d: %s: %w", n, key, err)
		}
	}
	if err := sc.Err(); err != nil {
		return File{}, err
	}
	return f, nil
}

func (f *File) set(key, raw string) error {
	var err error
	switch key {
	case "log_level":
		f.LogLevel, err = ptr(parseString(raw))
	case "path_prefix":
		f.PathPrefix, err = ptr(parseString(raw))
	case "region":
		f.Region, err = ptr(parseString(raw))
	case "http_address", "log_to_file", "validate_credentials":
		_, err = parseAny(raw)
	case "http_port":
		f.HTTPPort, err = ptr(parseInt(raw))
	case "ttl_seconds":
		f.TTLSeconds, err = ptr(parseInt(raw))
	case "cache_size":
		f.CacheSize, err = ptr(parseInt(raw))
	case "max_conn":
		f.MaxConn, err = ptr(parseInt(raw))
	case "ssrf_headers":
		f.TokenHeaders, err = parseStrings(raw)
	case "ssrf_env_variables":
		f.TokenEnv, err = parseStrings(raw)
	case "ignore_transient_errors":
		f.IgnoreTransientErrors, err = ptr(parseBool(raw))
	default:
		return fmt.Errorf("unknown key")
	}
	return err
}

func ptr[T any](v T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// stripComment drops a # comment that is not inside a "basic" or 'literal' string.
func stripComment(s string) string {
	var quote byte // the quote of the string we are in, or 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote == '"' && c == '\\':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return s[:i]
		}
	}
	return s
}

func parseString(raw string) (string, error) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' && !strings.Contains(raw[1:len(raw)-1], "'") {
			return raw[1 : len(raw)-1], nil // a TOML literal string
		}
		return "", fmt.Errorf("want a string")
	}
	s, err := strconv.Unquote(raw)
	if err != nil {
		return "", fmt.Errorf("want a string")
	}
	return s, nil
}

func parseInt(raw string) (int, error) {
	if s, err := parseString(raw); err == nil {
		raw = s
	}
	n, err := strconv.Atoi(strings.ReplaceAll(raw, "_", ""))
	if err != nil {
		return 0, fmt.Errorf("want an integer")
	}
	return n, nil
}

func parseBool(raw string) (bool, error) {
	switch raw {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("want true or false")
}

func parseStrings(raw string) ([]string, error) {
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
		return nil, fmt.Errorf("want an array of strings")
	}
	inner := strings.TrimSpace(raw[1 : len(raw)-1])
	out := []string{}
	for inner != "" {
		end := closingQuote(inner)
		if end < 0 {
			return nil, fmt.Errorf("want an array of strings")
		}
		s, err := parseString(inner[:end+1])
		if err != nil {
			return nil, fmt.Errorf("want an array of strings")
		}
		out = append(out, s)
		inner = strings.TrimSpace(inner[end+1:])
		if rest, ok := strings.CutPrefix(inner, ","); ok {
			inner = strings.TrimSpace(rest)
		} else if inner != "" {
			return nil, fmt.Errorf("want an array of strings")
		}
	}
	return out, nil
}

// closingQuote returns the index of the quote that closes the string s begins with, or -1.
func closingQuote(s string) int {
	if s == "" {
		return -1
	}
	q := s[0]
	if q != '"' && q != '\'' {
		return -1
	}
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && q == '"':
			i++
		case s[i] == q:
			return i
		}
	}
	return -1
}

func parseAny(raw string) (any, error) {
	if b, err := parseBool(raw); err == nil {
		return b, nil
	}
	if n, err := parseInt(raw); err == nil {
		return n, nil
	}
	return parseString(raw)
}
