// Package engineconfig holds DigitalOcean's Managed Database engine settings
// (GET/PATCH /v2/databases/{id}/config) as its OpenAPI spec defines them,
// per engine: each setting's type, range, enum and pattern. The table in
// settings_gen.go is generated from the spec (go generate); the provider
// validates a stack's settings against it at plan time and the emulator
// validates PATCHes against it.
package engineconfig

//go:generate go run ./gen -o settings_gen.go

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Setting types, as the spec's "type" names them.
const (
	Integer = "integer"
	Number  = "number"
	Boolean = "boolean"
	String  = "string"
	Array   = "array"
	Object  = "object"
)

// Setting is one engine setting (one property of the engine's
// *_advanced_config schema).
type Setting struct {
	Name string
	Type string
	// Min and Max bound integer and number settings when HasMin/HasMax.
	HasMin, HasMax bool
	Min, Max       float64
	// Enum lists the values allowed, as Format writes them.
	Enum    []string
	Pattern string
	// MinLength and MaxLength bound strings (MaxLength 0: unbounded).
	MinLength, MaxLength int
	// MaxItems bounds arrays (0: unbounded); Items is their element.
	MaxItems int
	Items    *Setting
	// Fields are an object setting's own settings.
	Fields []Setting
	// Nullable settings accept JSON null.
	Nullable bool
	// Default is the spec's default, as JSON ("" when the spec gives none).
	Default string
	// Description is the first sentence of the spec's description.
	Description string
}

// Engines lists the engine slugs with a settings table.
func Engines() []string {
	out := make([]string, 0, len(table))
	for e := range table {
		out = append(out, e)
	}
	sort.Strings(out)
	return out
}

// Settings returns an engine's settings, sorted by name (nil for an engine
// without a table).
func Settings(engine string) []Setting { return table[engine] }

// Lookup finds a setting of engine.
func Lookup(engine, name string) (Setting, bool) {
	return find(table[engine], name)
}

func find(list []Setting, name string) (Setting, bool) {
	i, ok := slices.BinarySearchFunc(list, name, func(s Setting, n string) int { return strings.Compare(s.Name, n) })
	if !ok {
		return Setting{}, false
	}
	return list[i], true
}

// Close lists up to five settings of engine whose names are close to name
// (shared words, or a small edit distance), best first.
func Close(engine, name string) []string {
	type cand struct {
		name  string
		score int
	}
	var cs []cand
	words := strings.Split(strings.ToLower(name), "_")
	for _, s := range table[engine] {
		d := editDistance(strings.ToLower(name), s.Name)
		score := d
		shared := 0
		for _, w := range words {
			if len(w) >= 3 && strings.Contains(s.Name, w) {
				shared++
			}
		}
		if d > 3 && shared == 0 {
			continue
		}
		score -= 4 * shared
		cs = append(cs, cand{s.Name, score})
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].score != cs[j].score {
			return cs[i].score < cs[j].score
		}
		return cs[i].name < cs[j].name
	})
	var out []string
	for i := 0; i < len(cs) && i < 5; i++ {
		out = append(out, cs[i].name)
	}
	return out
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Expect describes the values a setting accepts: "integer, 25 or more",
// "one of off, quorum", "JSON array of strings (at most 32 items)".
func (s Setting) Expect() string {
	switch s.Type {
	case Integer, Number:
		if len(s.Enum) > 0 {
			return "one of " + strings.Join(s.Enum, ", ")
		}
		t := "an " + s.Type
		if s.Type == Number {
			t = "a number"
		}
		switch {
		case s.HasMin && s.HasMax:
			return fmt.Sprintf("%s from %s to %s", t, num(s.Min), num(s.Max))
		case s.HasMin:
			return fmt.Sprintf("%s, %s or more", t, num(s.Min))
		case s.HasMax:
			return fmt.Sprintf("%s, %s or less", t, num(s.Max))
		}
		return t
	case Boolean:
		return `a boolean ("true" or "false")`
	case String:
		var parts []string
		if len(s.Enum) > 0 {
			return "one of " + strings.Join(quoteAll(s.Enum), ", ")
		}
		if s.Pattern != "" {
			parts = append(parts, "matching "+s.Pattern)
		}
		if s.MaxLength > 0 {
			parts = append(parts, fmt.Sprintf("%d to %d characters", s.MinLength, s.MaxLength))
		} else if s.MinLength > 0 {
			parts = append(parts, fmt.Sprintf("at least %d characters", s.MinLength))
		}
		if len(parts) == 0 {
			return "a string"
		}
		return "a string " + strings.Join(parts, ", ")
	case Array:
		t := "a JSON array"
		if s.Items != nil {
			t += " of " + s.Items.Expect()
		}
		if s.MaxItems > 0 {
			t += fmt.Sprintf(" (at most %d items)", s.MaxItems)
		}
		return t
	case Object:
		names := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			names[i] = f.Name
		}
		return "a JSON object with " + strings.Join(names, ", ")
	}
	return s.Type
}

func quoteAll(in []string) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = strconv.Quote(v)
	}
	return out
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Parse reads a setting's value as written in a Terraform configuration (a
// string: "100", "0.5", "true", a string as is, JSON for arrays and
// objects) into its JSON value, and checks it against the setting.
func (s Setting) Parse(value string) (any, error) {
	var v any
	switch s.Type {
	case Integer:
		i, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not %s", value, s.Expect())
		}
		v = i
	case Number:
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not %s", value, s.Expect())
		}
		v = f
	case Boolean:
		switch value {
		case "true":
			v = true
		case "false":
			v = false
		default:
			return nil, fmt.Errorf("%q is not %s", value, s.Expect())
		}
	case String:
		v = value
	case Array, Object:
		d := json.NewDecoder(strings.NewReader(value))
		d.UseNumber()
		if err := d.Decode(&v); err != nil || d.More() {
			return nil, fmt.Errorf("%q is not %s written as JSON", value, s.Expect())
		}
		v = fromNumbers(v)
	}
	if err := s.Check(v); err != nil {
		return nil, err
	}
	return v, nil
}

// fromNumbers turns json.Numbers into int64 (when integral) or float64.
func fromNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = fromNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = fromNumbers(x[k])
		}
	}
	return v
}

// Check validates a JSON value (as encoding/json decodes it, or as Parse
// makes it) against the setting.
func (s Setting) Check(v any) error {
	if v == nil {
		if s.Nullable {
			return nil
		}
		return fmt.Errorf("null is not %s", s.Expect())
	}
	bad := func() error { return fmt.Errorf("%s is not %s", show(v), s.Expect()) }
	switch s.Type {
	case Integer, Number:
		f, ok := toFloat(v)
		if !ok {
			return bad()
		}
		if s.Type == Integer && f != math.Trunc(f) {
			return bad()
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, Format(f)) {
			return bad()
		}
		if (s.HasMin && f < s.Min) || (s.HasMax && f > s.Max) {
			return fmt.Errorf("%s is out of range: %s", show(v), s.Expect())
		}
	case Boolean:
		if _, ok := v.(bool); !ok {
			return bad()
		}
	case String:
		str, ok := v.(string)
		if !ok {
			return bad()
		}
		if len(s.Enum) > 0 && !slices.Contains(s.Enum, str) {
			return bad()
		}
		n := len([]rune(str))
		if n < s.MinLength || (s.MaxLength > 0 && n > s.MaxLength) {
			return bad()
		}
		if s.Pattern != "" {
			re, err := regexp.Compile(s.Pattern)
			if err == nil && !re.MatchString(str) {
				return bad()
			}
		}
	case Array:
		items, ok := v.([]any)
		if !ok {
			return bad()
		}
		if s.MaxItems > 0 && len(items) > s.MaxItems {
			return fmt.Errorf("%d items is too many: %s", len(items), s.Expect())
		}
		if s.Items != nil {
			for i, it := range items {
				if err := s.Items.Check(it); err != nil {
					return fmt.Errorf("item %d: %w", i, err)
				}
			}
		}
	case Object:
		m, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		for _, k := range sortedKeys(m) {
			f, ok := find(s.Fields, k)
			if !ok {
				return fmt.Errorf("%q is not a setting of %s: %s", k, s.Name, s.Expect())
			}
			if err := f.Check(m[k]); err != nil {
				return fmt.Errorf("%s.%s: %w", s.Name, k, err)
			}
		}
	}
	return nil
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Format writes a JSON value the way a Terraform configuration writes it:
// numbers, booleans and strings bare, arrays and objects as compact JSON.
func Format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Same reports whether got (DigitalOcean's value, as Format writes it)
// satisfies want (the configuration's): equal values, or for an object,
// got holds each field want sets with the same value (DigitalOcean reports
// the fields nobody set too).
func (s Setting) Same(want, got string) bool {
	if want == got {
		return true
	}
	w, err := s.Parse(want)
	if err != nil {
		return false
	}
	g, err := parseLoose(s, got)
	if err != nil {
		return false
	}
	return sameValue(w, g)
}

// parseLoose reads a value DigitalOcean reported without range checks.
func parseLoose(s Setting, value string) (any, error) {
	if s.Type == Object || s.Type == Array {
		d := json.NewDecoder(strings.NewReader(value))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		return fromNumbers(v), nil
	}
	return Setting{Type: s.Type, Nullable: true}.Parse(value)
}

func sameValue(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, wv := range w {
			if !sameValue(wv, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !sameValue(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	if wf, ok := toFloat(want); ok {
		gf, ok := toFloat(got)
		return ok && wf == gf
	}
	return want == got
}
