package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// The people's verbs print either a table, for reading, or JSON, for scripts. The JSON is
// what the AWS CLI v2 prints for the same call: the operation's members (in the SDK's order,
// which is alphabetical), members the service left out omitted, dates in ISO 8601, binary in
// base64. Dates are shown in UTC so that the output does not depend on the machine.

// checkOutput validates an --output value against the formats a verb offers.
func checkOutput(output string, allowed ...string) error {
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return fmt.Errorf("--output must be %s, not %q", strings.Join(allowed, " or "), output)
}

// writeJSON prints v, an aws-sdk-go-v2 output or types value (or a map or slice of them), as
// the AWS CLI would.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(awsJSON(reflect.ValueOf(v)), "", "    ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// orderedObject is a JSON object whose members keep their order.
type orderedObject []member

type member struct {
	name  string
	value any
}

// MarshalJSON implements json.Marshaler.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(m.name)
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}

var timeType = reflect.TypeFor[time.Time]()

// awsJSON converts an SDK value into what encoding/json prints the AWS CLI's way; it returns
// nil for what the service left out (nil pointers, slices and maps).
func awsJSON(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Invalid:
		return nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return awsJSON(v.Elem())
	case reflect.Struct:
		if v.Type() == timeType {
			return isoTime(v.Interface().(time.Time))
		}
		var o orderedObject
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			if x := awsJSON(v.Field(i)); x != nil {
				o = append(o, member{f.Name, x})
			}
		}
		return o
	case reflect.Slice:
		if v.IsNil() {
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return base64.StdEncoding.EncodeToString(v.Bytes())
		}
		out := make([]any, v.Len())
		for i := range v.Len() {
			out[i] = awsJSON(v.Index(i))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return nil
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		o := make(orderedObject, 0, len(keys))
		for _, k := range keys {
			o = append(o, member{k.String(), awsJSON(v.MapIndex(k))})
		}
		return o
	case reflect.String:
		return v.String()
	}
	return v.Interface()
}

// isoTime formats t as Python's isoformat does in the AWS CLI v2, in UTC:
// 2026-11-27T13:41:22.046000+00:00, without the fraction when it is zero.
func isoTime(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// tableTime formats a date for a table: to the second, in UTC; "-" when there is none.
func tableTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// table writes aligned columns; the first row is the header.
type table struct {
	tw *tabwriter.Writer
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		// A cell holds no tab or line break, which would break the columns.
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// dash returns s, or "-" for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
